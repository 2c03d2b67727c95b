"""Tampering with stored events: the database refuses it, and when someone gets around
the database anyway, the chain audit (HTTP and `registry audit`) names the first bad seq."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, delete, text, update
from sqlalchemy.exc import DBAPIError

from registry.batches.chain import event_body, link_hash
from registry.models import metadata
from tests.dbtools import database_url, event_rows, run_cli, snapshot, triggers_bypassed
from tests.factories import World, harvested, packed, received, shipped

EVENTS = metadata.tables["events"]


def _chain(world: World) -> str:
    """created 0, harvested 1, packed 2, shipped 3, received 4."""
    batch = str(world.new_batch()["id"])
    world.ok(batch, world.coop, harvested(5000))
    world.ok(batch, world.coop, packed(1000, 5))
    world.ok(batch, world.coop, shipped(world.handler.id, 1000))
    world.ok(batch, world.handler, received(world.coop.id, 1000))
    return batch


def _where(batch: str, seq: int) -> Any:
    return (EVENTS.c.batch_id == batch) & (EVENTS.c.seq == seq)


def test_database_refuses_update_and_delete_of_events(world: World) -> None:
    batch = _chain(world)
    before = snapshot(world.engine)
    raw_update = text("UPDATE events SET type = 'stored' WHERE batch_id = :b AND seq = 1")
    raw_delete = text("DELETE FROM events WHERE batch_id = :b AND seq = 4")
    statements = [
        raw_update.bindparams(b=batch),
        raw_delete.bindparams(b=batch),
        update(EVENTS).where(_where(batch, 1)).values(data={"quantity": 1}),
        update(EVENTS).where(_where(batch, 1)).values(hash="0" * 64),
        delete(EVENTS).where(_where(batch, 4)),
        delete(EVENTS),
    ]
    if world.engine.dialect.name == "postgresql":
        statements.append(text("TRUNCATE events CASCADE"))
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
            conn.execute(statement)
    assert snapshot(world.engine) == before
    assert world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()["intact"]


def _edit_data(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    data = {**rows[1]["data"], "quantity": 9000}
    conn.execute(update(EVENTS).where(_where(batch, 1)).values(data=data))


def _delete_middle(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(EVENTS).where(_where(batch, 2)))


def _delete_last(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(EVENTS).where(_where(batch, 4)))


def _delete_all(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(EVENTS).where(EVENTS.c.batch_id == batch))


def _swap(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    # Through a free value: (batch_id, seq) stays unique after every statement.
    conn.execute(update(EVENTS).where(_where(batch, 1)).values(seq=-1))
    conn.execute(update(EVENTS).where(_where(batch, 2)).values(seq=1))
    conn.execute(update(EVENTS).where(_where(batch, -1)).values(seq=2))


def _rehashed(seq: int) -> Callable[[Connection, str, list[dict[str, Any]]], None]:
    """Edit event `seq` and give it a hash that matches its new content."""

    def tamper(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
        row = rows[seq]
        data = {**row["data"], "note": "quietly edited"}
        body = event_body(
            batch_id=batch,
            seq=seq,
            type=row["type"],
            event_time=row["event_time"],
            event_time_offset=row["event_time_offset"],
            recorded_at=row["recorded_at"],
            actor_org_id=row["actor_org_id"],
            location=row["location"],
            data=data,
        )
        new_hash = link_hash(row["prev_hash"], body)
        conn.execute(update(EVENTS).where(_where(batch, seq)).values(data=data, hash=new_hash))

    return tamper


TAMPERING = [
    pytest.param(_edit_data, 1, "hash", id="edit-data"),
    pytest.param(_delete_middle, 2, "expected seq 2, found 3", id="delete-middle"),
    pytest.param(_delete_last, 4, "batch head is seq 4, chain ends at seq 3", id="delete-last"),
    pytest.param(_delete_all, 0, "no events", id="delete-all"),
    pytest.param(_swap, 1, "does not match", id="swap-seqs"),
    # The log remembers the old hash: the rewritten event itself is named.
    pytest.param(_rehashed(2), 2, "differs from its log leaf", id="rehash-middle"),
    pytest.param(_rehashed(4), 4, "batch head hash", id="rehash-last"),
]


@pytest.mark.parametrize(("tamper", "first_bad", "problem"), TAMPERING)
def test_audit_names_the_first_bad_seq(
    world: World,
    tamper: Callable[[Connection, str, list[dict[str, Any]]], None],
    first_bad: int,
    problem: str,
) -> None:
    batch, intact = _chain(world), _chain(world)
    url = database_url(world.engine)
    ok = run_cli(url, "audit", "--batch", batch)
    assert ok.exit_code == 0, ok.output
    assert f"batch {batch}: intact, 5 events" in ok.output
    assert run_cli(url, "audit", "--all").exit_code == 0

    with triggers_bypassed(world.engine) as conn:
        tamper(conn, batch, event_rows(world.engine, batch))

    report = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
    assert report["intact"] is False
    assert report["problems"][0]["seq"] == first_bad, report
    assert problem in report["problems"][0]["problem"], report
    assert world.call("GET", f"/v1/batches/{intact}/audit", world.regulator).json()["intact"]

    one = run_cli(url, "audit", "--batch", batch)
    assert one.exit_code == 1, one.output
    assert f"BROKEN batch {batch} first bad seq {first_bad}:" in one.output
    assert run_cli(url, "audit", "--batch", intact).exit_code == 0

    every = run_cli(url, "audit", "--all")
    assert every.exit_code == 1, every.output
    broken = [line for line in every.output.splitlines() if line.startswith("BROKEN")]
    assert broken == [line for line in one.output.splitlines() if line.startswith("BROKEN")]
    assert "1 broken chain(s)" in every.output
    # The append-only triggers are back in place after the bypass.
    with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.batch_id == intact))
