"""events: a partial index on the receiver of each shipment, so the batches shipped to an
org (its audit scope, its console's goods) are found without reading every shipment

Revision ID: 0012_events_shipped_to
Revises: 0011_log_integrate_by_id
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_events_shipped_to"
down_revision: str | None = "0011_log_integrate_by_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL only: the expression is `batches/service.py`'s `shipped_to`, word for word (the
# planner matches an index expression, not its meaning). SQLite reads the same condition
# by walking the `shipped` events of (type, batch_id), as before.
_INDEX = "ix_events_shipped_to"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX {_INDEX} ON events ((data ->> 'to_org_id')) WHERE type = 'shipped'"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {_INDEX}")
