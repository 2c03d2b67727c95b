"""Test helpers that work below the API: whole-database snapshots, trigger bypass for
tamper tests, and running the `registry` CLI in-process against a test database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from httpx2 import Response
from sqlalchemy import Connection, Engine, event, select, text
from sqlmodel import Session
from typer.testing import CliRunner, Result

from registry.cli import app as cli_app
from registry.core.config import get_settings
from registry.core.db import get_engine
from registry.models import metadata

Snapshot = dict[str, list[tuple[Any, ...]]]
# A refused write records an alert in a transaction of its own (registry/audit/refusals.py):
# "the refusal changed nothing" means nothing of the registry's records; the alert it
# raised is asserted where refusals are tested (tests/audit/test_alerts.py).
NOT_IN_SNAPSHOTS = frozenset({"alerts"})


def snapshot(engine: Engine, *, ignore: frozenset[str] = NOT_IN_SNAPSHOTS) -> Snapshot:
    """Every row of every table but `ignore`, in primary-key order: equal snapshots mean
    nothing changed."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
            if table.name not in ignore
        }


def event_rows(engine: Engine, batch_id: str) -> list[dict[str, Any]]:
    """The stored events of one batch, as rows, in seq order."""
    events = metadata.tables["events"]
    with engine.connect() as conn:
        rows = conn.execute(
            select(events).where(events.c.batch_id == batch_id).order_by(events.c.seq)
        )
        return [dict(row._mapping) for row in rows]


@contextmanager
def triggers_bypassed(engine: Engine) -> Iterator[Connection]:
    """A transaction in which the append-only triggers on `events` do not fire.

    PostgreSQL: replica mode for this transaction only. SQLite: the triggers are dropped
    and recreated from their stored SQL inside the same transaction.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
            return
        triggers = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
            )
        ).all()
        assert triggers, "the migration should have created append-only triggers"
        for name, _ in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        yield conn
        for _, sql in triggers:
            conn.execute(text(sql))


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def run_cli(url: str, *args: str) -> Result:
    """Run `registry ARGS` in-process with REGISTRY_DATABASE_URL=url; cached settings and
    engine are cleared before and disposed after, so no other test sees them."""
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        return CliRunner().invoke(cli_app, list(args), env={"REGISTRY_DATABASE_URL": url})
    finally:
        if get_engine.cache_info().currsize:
            get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()


@contextmanager
def unchanged(engine: Engine) -> Iterator[None]:
    """Assert that the block leaves every table exactly as it found it."""
    before = snapshot(engine)
    yield
    assert snapshot(engine) == before, "the refused request changed the database"


def assert_error(response: Response, status: int, error: str, *in_detail: str) -> str:
    """The response is `{"error": error, "detail": ...}` with `status`; returns the detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert body["error"] == error, body
    for fragment in in_detail:
        assert fragment in str(body["detail"]), body
    return str(body["detail"])


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


# PostgreSQL's own count, in the current transaction, of the rows a statement read from a
# table: rows of sequential scans, rows fetched through indexes and the index entries
# walked to find them (an index scan can walk many entries and fetch few rows).
_ROWS_READ = text(
    "SELECT t.seq_tup_read + t.idx_tup_fetch + coalesce((SELECT"
    " sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FROM pg_index i"
    " WHERE i.indrelid = t.relid), 0) FROM pg_stat_xact_user_tables t WHERE t.relname = :table"
)


def rows_read(conn: Connection | Session, table: str) -> int:
    """Rows and index entries of `table` read so far in this transaction (PostgreSQL)."""
    return int(conn.execute(_ROWS_READ, {"table": table}).scalar_one())


def filler_events(
    conn: Connection,
    *,
    batch_id: str,
    org_id: str,
    type: str = "stored",
    data: str = "'{}'",
    first_seq: int = 1,
    keyed: bool = False,
    count: int = 4000,
    **params: Any,
) -> None:
    """`count` events of one batch written straight into `events` (PostgreSQL), with seqs
    from `first_seq`, no chain and no leaves: for tests where only how many rows there are
    matters to a plan. `data` is an SQL expression (`params` binds its parameters); with
    `keyed`, event i has the idempotency key `old-i`."""
    conn.execute(
        text(
            "INSERT INTO events (batch_id, seq, type, event_time, event_time_offset,"
            " recorded_at, actor_org_id, data, prev_hash, hash, idempotency_key)"
            f" SELECT :batch, :first + i - 1, :type, now(), '+00:00', now(), :org, {data},"
            " repeat('0', 64), md5(i::text) || md5(i::text),"
            " CASE WHEN :keyed THEN 'old-' || i END"
            " FROM generate_series(1, :count) AS i"
        ),
        {"batch": batch_id, "org": org_id, "type": type, "first": first_seq, "keyed": keyed,
         "count": count, **params},
    )  # fmt: skip
