"""Who may audit what (registry/audit/scope.py), and what finding a handler's batches costs:
a handler is party to the batches shipped to it, however many other shipments the registry
records."""

from __future__ import annotations

import pytest
from sqlmodel import select

from registry.audit.scope import visible_batches
from registry.batches.models import Batch
from registry.console.views import goods_of
from registry.core.db import unit_of_work
from registry.orgs.models import Organization
from tests.dbtools import filler_events, rows_read
from tests.factories import World, harvested, shipped


def test_a_handlers_shipments_are_found_without_reading_everyone_elses(world: World) -> None:
    """On PostgreSQL, the shipments to an org (its console's goods page, its audit scope:
    alerts, exports) are found through a partial index on the shipped events' `to_org_id`.
    Without one, every `shipped` event of the registry was read and its JSON parsed for
    each such question (2,400 rows for 40 at 2,400 batches). Rows and index entries read
    are counted in the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the index in question is PostgreSQL's")
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(5000))
    world.ok(batch, world.coop, shipped(world.handler.id, 1000, "kg"))
    other = world.new_batch(world.coop2)["id"]
    with world.engine.begin() as conn:
        # Shipments to another handler: only their number matters here.
        filler_events(
            conn,
            batch_id=other,
            org_id=world.coop2.id,
            type="shipped",
            data="json_build_object('quantity', 1, 'unit', 'kg', 'to_org_id', CAST(:to AS text))",
            to=world.handler2.id,
        )
    with unit_of_work(world.engine) as session:
        handler = session.get(Organization, world.handler.id)
        assert handler is not None
        start = rows_read(session, "events")
        goods = goods_of(session, org=handler)
        goods_read = rows_read(session, "events") - start
        start = rows_read(session, "events")
        visible = session.exec(select(Batch.id).where(visible_batches(handler))).all()
        scope_read = rows_read(session, "events") - start
    assert [g.row.batch.id for g in goods] == [batch]
    assert visible == [batch]
    # The one shipment to the handler: its index entry and its row (8,002 each before).
    assert (goods_read, scope_read) == (2, 2)
