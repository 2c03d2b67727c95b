"""log_integrate fetches each queued event by its id, however many events the registry
holds (0010's join of the queue to `events` could be planned as a walk of all events)

Revision ID: 0011_log_integrate_by_id
Revises: 0010_log_integrate_function
Create Date: 2026-12-01 05:30:00.000000
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0011_log_integrate_by_id"
down_revision: str | None = "0010_log_integrate_function"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0010 read the queue as `log_pending JOIN events ... ORDER BY event_id LIMIT max_leaves`.
# The planner sized that join from the queue's estimate (the LIMIT, and a table that no one
# has analyzed while it churns), and often chose a merge join that reads `events` in full
# through its primary key: every append's integration then cost O(events), 12-16 ms at
# 40,000 events. Here the queued ids are taken first and each event is looked up by its id
# in a subquery that `OFFSET 0` keeps the planner from merging into a join (an index probe
# per queued event; `= ANY (ARRAY(...))` was tried and still got a scan in a generic plan).
# Everything else is 0010's function unchanged.
_QUERY_0010 = """
        SELECT p.event_id AS id, e.batch_id, e.seq, decode(e.hash, 'hex') AS data
        FROM log_pending p JOIN events e ON e.id = p.event_id
        ORDER BY p.event_id LIMIT max_leaves
"""
_QUERY_0011 = """
        SELECT q.event_id AS id, e.batch_id, e.seq, decode(e.hash, 'hex') AS data
        FROM (SELECT p.event_id FROM log_pending p ORDER BY p.event_id LIMIT max_leaves) q
        CROSS JOIN LATERAL (
            SELECT x.batch_id, x.seq, x.hash FROM events x WHERE x.id = q.event_id OFFSET 0
        ) e
        ORDER BY q.event_id
"""


def _function(query: str) -> str:
    """0010's function (its module is history and does not change), with `query`."""
    source: str = importlib.import_module(
        "registry.migrations.versions.0010_log_integrate_function"
    )._FUNCTION
    if _QUERY_0010 not in source:
        raise RuntimeError("migration 0010's function is not the one 0011 was written for")
    return source.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        _QUERY_0010, query
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(_QUERY_0011))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(_QUERY_0010))
