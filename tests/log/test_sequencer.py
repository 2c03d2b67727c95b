"""The sequencer under concurrent writers: every writer is answered with its own events'
leaf indexes, the indexes have no gaps or repeats, and each leaf holds its event's hash."""

from __future__ import annotations

import threading

from sqlmodel import select

from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.models import Event
from registry.batches.service import append_event
from registry.core.db import unit_of_work
from registry.log.append import LEAF_INDEXES
from registry.log.models import LogLeaf, LogPending
from registry.orgs.models import Organization
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
