"""The verification loader (registry/verify/facts.py): what loading the facts of many lots
costs, as a bulk verify of codes from many lots asks for them."""

from __future__ import annotations

from datetime import date

import pytest

from registry.core.db import unit_of_work
from registry.verify.facts import load_lots
from tests.dbtools import filler_events, rows_read
from tests.factories import GTIN, World


def test_the_facts_of_many_lots_read_their_own_events_however_many_the_registry_holds(
    world: World,
) -> None:
    """On PostgreSQL, the events of the lots' batches are read one batch's chain at a time,
    along the (batch_id, seq) index. As `batch_id IN (...)`, a list of a few dozen batches
    was planned as a walk of every event of the registry, with statistics or without
    (210,000 rows read for 2,745, 56 ms, in a bulk verify at 2,420 batches). Rows and
    index entries read are counted in the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    batches = [world.new_batch(lot=f"FACTS-{i}") for i in range(40)]
    other = world.new_batch(world.coop2)["id"]
    with world.engine.begin() as conn:
        # Events of another batch: only their number matters here.
        filler_events(conn, batch_id=other, org_id=world.coop2.id)
    lots = [(GTIN, b["lot"]) for b in batches]
    with unit_of_work(world.engine) as session:
        start = rows_read(session, "events")
        facts = load_lots(session, lots, today=date.today())
        read = rows_read(session, "events") - start
    assert all(
        [e.seq for e in facts[lot].events[b["id"]]] == [0]
        for lot, b in zip(lots, batches, strict=True)
    )
    # Each batch's one event: its index entry and its row.
    assert read == 2 * len(batches), read
