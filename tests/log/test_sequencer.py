"""The sequencer under concurrent writers: every writer is answered with its own events'
leaf indexes, the indexes have no gaps or repeats, and each leaf holds its event's hash."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlmodel import select

from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.models import Event
from registry.batches.service import append_event
from registry.core.db import unit_of_work
from registry.log import merkle, store
from registry.log.append import LEAF_INDEXES
from registry.log.models import LogLeaf, LogNode, LogPending, LogState
from registry.orgs.models import Organization
from tests.dbtools import filler_events, rows_read
from tests.factories import World, stored

WRITERS = 6
APPENDS = 5


def test_concurrent_writers_each_get_their_own_leaves(world: World) -> None:
    batches = [world.new_batch()["id"] for _ in range(WRITERS)]
    answered: dict[tuple[str, int], int] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(batch_id: str) -> None:
        try:
            start.wait()
            for _ in range(APPENDS):
                with unit_of_work(world.engine, write=True) as session:
                    org = session.get(Organization, world.coop.id)
                    assert org is not None
                    event, _ = append_event(
                        session,
                        batch_id=batch_id,
                        event=EVENT_ADAPTER.validate_python(stored()),
                        actor=org,
                    )
                    key = (event.batch_id, event.seq)
                answered[key] = session.info[LEAF_INDEXES][key]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(answered) == WRITERS * APPENDS
    with unit_of_work(world.engine) as session:
        leaves = {leaf.leaf_index: leaf for leaf in session.exec(select(LogLeaf))}
        hashes = {(e.batch_id, e.seq): e.hash for e in session.exec(select(Event))}
        assert session.exec(select(LogPending)).first() is None
    assert sorted(leaves) == list(range(len(leaves)))  # no gaps, no repeats
    assert len(set(answered.values())) == len(answered)
    for (batch_id, seq), index in answered.items():
        leaf = leaves[index]
        assert (leaf.batch_id, leaf.seq) == (batch_id, seq)
        assert bytes(leaf.data).hex() == hashes[(batch_id, seq)]


def test_the_stored_tree_is_the_rfc6962_tree_of_the_leaves(world: World) -> None:
    """Whichever integrates (the append's own transaction or the sequencer; on PostgreSQL
    the database's `log_integrate`), in groups of 1 to 4 events, every stored subtree hash
    and the state's root are those of the pure Merkle module over the stored leaves."""
    batches = [world.new_batch()["id"] for _ in range(3)]
    for group in range(24):
        with unit_of_work(world.engine, write=True) as session:
            org = session.get(Organization, world.coop.id)
            assert org is not None
            for _ in range(1 + group % 4):
                append_event(
                    session,
                    batch_id=batches[group % 3],
                    event=EVENT_ADAPTER.validate_python(stored()),
                    actor=org,
                )
    with unit_of_work(world.engine) as session:
        leaves = [
            bytes(leaf.data) for leaf in session.exec(select(LogLeaf).order_by(LogLeaf.leaf_index))
        ]
        nodes = {(n.level, n.node_index): bytes(n.hash) for n in session.exec(select(LogNode))}
        state = session.get(LogState, 1)
    tree = merkle.MemoryTree([merkle.leaf_hash(data) for data in leaves])
    assert len(leaves) == 3 + 60  # each batch's created event, then 60 appended
    assert state is not None
    assert (state.size, bytes(state.root)) == (len(leaves), tree.root())
    assert nodes == {
        (level, index): tree.node(level, index)
        for level in range(1, len(leaves).bit_length())
        for index in range(len(leaves) >> level)
    }


def _append_one(world: World, batch_id: str) -> int:
    """Append one event in a transaction of its own; its leaf index as the commit gave it."""
    with unit_of_work(world.engine, write=True) as session:
        org = session.get(Organization, world.coop.id)
        assert org is not None
        event, _ = append_event(
            session, batch_id=batch_id, event=EVENT_ADAPTER.validate_python(stored()), actor=org
        )
        key = (event.batch_id, event.seq)
    return int(session.info[LEAF_INDEXES][key])


def test_a_queued_backlog_goes_into_the_log_before_a_new_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events a crash left queued are placed first, in event-id order, however many rounds
    of `INTEGRATE_LIMIT` they take; the new event's leaf comes after them all (on SQLite it
    is placed without ever being queued)."""
    monkeypatch.setattr("registry.log.append.INTEGRATE_LIMIT", 2)
    batch_id, *_ = [world.new_batch()["id"] for _ in range(5)]
    with world.engine.begin() as conn:  # the log lost, every event left queued
        for table in ("log_leaves", "log_nodes", "log_pending", "log_state"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("INSERT INTO log_pending (event_id) SELECT id FROM events"))
    store._LAST_EDGE.clear()
    with unit_of_work(world.engine) as session:
        backlog = [e.id for e in session.exec(select(Event).order_by(Event.id))]
    assert len(backlog) >= 3  # more than one round of the limit
    assert _append_one(world, batch_id) == len(backlog)
    with unit_of_work(world.engine) as session:
        assert session.exec(select(LogPending)).first() is None
        placed = session.exec(
            select(Event.id)
            .join(LogLeaf, (LogLeaf.batch_id == Event.batch_id) & (LogLeaf.seq == Event.seq))
            .order_by(LogLeaf.leaf_index)
        ).all()
        leaves = [
            bytes(leaf.data) for leaf in session.exec(select(LogLeaf).order_by(LogLeaf.leaf_index))
        ]
        state = session.get(LogState, 1)
    assert list(placed) == sorted(placed)
    assert len(placed) == len(backlog) + 1
    assert state is not None
    tree = merkle.MemoryTree([merkle.leaf_hash(data) for data in leaves])
    assert (state.size, bytes(state.root)) == (len(leaves), tree.root())


def test_an_event_whose_savepoint_rolled_back_gets_no_leaf(world: World) -> None:
    batch_id = world.new_batch()["id"]
    with unit_of_work(world.engine, write=True) as session:
        org = session.get(Organization, world.coop.id)
        assert org is not None
        savepoint = session.begin_nested()
        append_event(
            session, batch_id=batch_id, event=EVENT_ADAPTER.validate_python(stored()), actor=org
        )
        session.flush()
        savepoint.rollback()
    with unit_of_work(world.engine) as session:
        events = {(e.batch_id, e.seq): e.hash for e in session.exec(select(Event))}
        leaves = {
            (leaf.batch_id, leaf.seq): bytes(leaf.data).hex()
            for leaf in session.exec(select(LogLeaf))
        }
        assert session.exec(select(LogPending)).first() is None
    assert leaves == events


def test_an_append_recreates_a_missing_log_state_and_is_placed(world: World) -> None:
    batch_id = world.new_batch()["id"]
    with world.engine.begin() as conn:  # an emptied log (as some tests leave it)
        for table in ("log_leaves", "log_nodes", "log_pending", "log_checkpoints", "log_state"):
            conn.execute(text(f"DELETE FROM {table}"))
    store._LAST_EDGE.clear()
    assert _append_one(world, batch_id) == 0
    with unit_of_work(world.engine) as session:
        assert session.exec(select(LogPending)).first() is None


def test_integration_reads_only_the_queued_events_however_many_the_registry_holds(
    world: World,
) -> None:
    """On PostgreSQL, `log_integrate` fetches each queued event by its id. Its first form
    joined the queue to `events` in a plan chosen from the queue's estimated size (a
    LIMIT of 5,000, and no statistics until someone analyzes it), which walked the whole
    `events` table on every append: the append's cost grew with the registry (12-16 ms a
    call at 40,000 events, measured with pgbench). The rows and index entries it reads
    are counted in the transaction's own statistics (`rows_read`), and PL/pgSQL's plan
    cache switches to a generic plan after five calls, so ten calls cover both plans."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the database's own integration runs on PostgreSQL")
    batch_id = world.new_batch()["id"]
    with world.engine.begin() as conn:
        # Events that are not in the log's queue: only their number matters here.
        filler_events(conn, batch_id=batch_id, org_id=world.coop.id, first_seq=1001)
        filler = (
            conn.execute(
                text("SELECT id FROM events WHERE batch_id = :batch AND seq > 1000 ORDER BY id"),
                {"batch": batch_id},
            )
            .scalars()
            .all()
        )
    read = []
    for event_id in filler[:10]:
        with world.engine.begin() as conn:
            conn.execute(text("INSERT INTO log_pending (event_id) VALUES (:id)"), {"id": event_id})
            before = rows_read(conn, "events")
            placed = conn.execute(text("SELECT * FROM log_integrate(5000, true)")).all()
            read.append(rows_read(conn, "events") - before)
        assert [row.event_id for row in placed] == [event_id]
    assert read == [2] * 10  # the event's index entry and its row
