"""Reading batches and events: who sees what in listings, paging, and how times and
identifiers come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from registry.batches.service import list_batches
from registry.core.db import unit_of_work
from registry.orgs.models import Organization
from tests.dbtools import assert_error, rows_read
from tests.factories import BRAND, Org, World, harvested, packed, received, shipped, stored


def _ids(world: World, org: Org, query: str = "") -> list[str]:
    r = world.call("GET", f"/v1/batches{query}", org)
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()["items"]]


def test_listings_show_each_org_its_own_batches(world: World) -> None:
    a = world.new_batch()["id"]
    b = world.new_batch()["id"]
    c = world.new_batch(world.coop2)["id"]
    world.ok(a, world.coop, harvested(100))
    world.ok(a, world.coop, shipped(world.handler.id, 100, "kg"))
    newest_first = [c, b, a]
    assert _ids(world, world.regulator) == newest_first
    assert _ids(world, world.admin) == newest_first
    assert _ids(world, world.owner) == newest_first
    assert _ids(world, world.owner2) == []
    assert _ids(world, world.coop) == [b, a]
    assert _ids(world, world.coop2) == [c]
    # A handler lists the batches it has recorded events on.
    assert _ids(world, world.handler) == []
    world.ok(a, world.handler, received(world.coop.id, 100, "kg"))
    assert _ids(world, world.handler) == [a]
    # Keyset paging and the brand filter.
    first = world.call("GET", "/v1/batches?limit=2", world.regulator).json()
    assert [x["id"] for x in first["items"]] == [c, b]
    cursor = first["next_cursor"]
    assert _ids(world, world.regulator, f"?limit=2&cursor={cursor}") == [a]
    last = world.call("GET", f"/v1/batches?limit=2&cursor={cursor}", world.regulator).json()
    assert last["next_cursor"] is None
    assert _ids(world, world.regulator, f"?brand={BRAND}&limit=1&cursor={cursor}") == [a]
    assert _ids(world, world.regulator, "?brand=no-such-brand") == []
    assert_error(world.call("GET", "/v1/batches?cursor=bad", world.regulator), 422, "InvalidCursor")
    assert_error(
        world.call("GET", "/v1/batches?limit=501", world.regulator), 422, "ValidationError"
    )


def test_events_are_keyset_paginated(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(100))
    for n in range(4):
        world.ok(batch, world.coop, stored(f"store {n}"))
    seqs, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        body = world.call("GET", f"/v1/batches/{batch}/events{query}", world.coop).json()
        seqs += [e["seq"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seqs == [0, 1, 2, 3, 4, 5]


def test_batch_attributes_and_head(world: World) -> None:
    batch = world.new_batch(lot=" RJ-8 ", gtin="96385074", variety="Newhall")
    assert (batch["lot"], batch["gtin"], batch["brand"]) == ("RJ-8", "00000096385074", BRAND)
    assert batch["cooperative_org_id"] == world.coop.id
    assert batch["created_at"].endswith("Z")
    created = world.call("GET", f"/v1/batches/{batch['id']}/events", world.coop).json()["items"][0]
    assert created["data"]["gtin"] == "00000096385074"
    assert created["data"]["lot"] == "RJ-8"
    event = world.ok(batch["id"], world.coop, harvested())
    read = world.call("GET", f"/v1/batches/{batch['id']}", world.owner).json()
    assert read["head"] == {"seq": event["seq"], "hash": event["hash"]}
    assert read["updated_at"] >= read["created_at"]


def test_event_times_keep_their_offset_and_recorded_at_is_utc(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    sent = {
        "2026-11-20T20:00:00-05:30": "-05:30",
        "2026-11-21T01:30:00Z": "+00:00",
        "2026-11-21T09:30:00.250+08:00": "+08:00",
        "2026-11-21T14:15:00+14:00": "+14:00",
    }
    before = datetime.now(UTC) - timedelta(seconds=1)
    for event_time in sent:
        world.ok(batch, world.coop, {**stored(), "event_time": event_time})
    after = datetime.now(UTC) + timedelta(seconds=1)
    events = world.call("GET", f"/v1/batches/{batch}/events", world.coop).json()["items"][2:]
    for event, (event_time, offset) in zip(events, sent.items(), strict=True):
        assert event["event_time_offset"] == offset
        # The same instant, shown in the offset it was recorded with.
        assert datetime.fromisoformat(event["event_time"]) == datetime.fromisoformat(event_time)
        assert datetime.fromisoformat(event["event_time"]).utcoffset() == (
            datetime.fromisoformat(event_time).utcoffset()
        )
        recorded = datetime.fromisoformat(event["recorded_at"])
        assert recorded.utcoffset() == timedelta(0)
        assert before <= recorded <= after


def test_events_and_audit_of_a_batch_shipped_to_a_handler(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(5000))
    world.ok(batch, world.coop, packed(1000, 5))
    # Not yet a party: the handler cannot read the chain.
    assert_error(world.call("GET", f"/v1/batches/{batch}/events", world.handler), 403, "Forbidden")
    world.ok(batch, world.coop, shipped(world.handler.id, 10))
    events = world.call("GET", f"/v1/batches/{batch}/events", world.handler).json()["items"]
    assert [e["type"] for e in events] == ["created", "harvested", "packed", "shipped"]
    audit = world.call("GET", f"/v1/batches/{batch}/audit", world.handler).json()
    assert (audit["intact"], audit["length"], audit["head_hash"]) == (
        True,
        4,
        events[-1]["hash"],
    )


def test_a_page_of_batches_reads_that_page_however_many_batches_the_registry_holds(
    world: World,
) -> None:
    """On PostgreSQL, a regulator's page of batches (newest first) is read along an index in
    that order, from the cursor on. Without one, every batch of the registry was read and
    sorted for each page (2,421 rows for 51 at 2,420 batches). Rows and index entries
    read are counted in the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    newest = [world.new_batch()["id"] for _ in range(3)]
    with world.engine.begin() as conn:
        # Older batches: only their number matters here.
        conn.execute(
            text(
                "INSERT INTO batches (id, brand_id, cooperative_org_id, lot, product, gtin,"
                " status, head_seq, head_hash, created_at, updated_at)"
                " SELECT md5(i::text), b.brand_id, b.cooperative_org_id, 'OLD-' || i,"
                " b.product, b.gtin, 'open', 0, b.head_hash,"
                " b.created_at - make_interval(mins => i), b.updated_at"
                " FROM batches b, generate_series(1, 2000) AS i WHERE b.id = :batch"
            ),
            {"batch": newest[0]},
        )
    with unit_of_work(world.engine) as session:
        regulator = session.get(Organization, world.regulator.id)
        assert regulator is not None
        start = rows_read(session, "batches")
        first = list_batches(session, actor=regulator, brand=None, limit=3)
        after = (first[-1][0].created_at, first[-1][0].id)
        second = list_batches(session, actor=regulator, brand=None, limit=3, after=after)
        read = rows_read(session, "batches") - start
    assert [b.id for b, _ in first] == newest[::-1]
    assert [b.lot for b, _ in second] == ["OLD-1", "OLD-2", "OLD-3"]
    # Index entries and rows of each page and of the row just past it, and the cursor's
    # own row on the second page (4,006 before).
    assert read == 2 * (4 + 5), read
