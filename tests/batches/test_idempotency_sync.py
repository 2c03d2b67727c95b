"""Idempotency-Key on appends, and the offline outbox (`POST /v1/sync`).

A retried request with the same key and body answers 200 with the original event and
writes nothing; the same key with another body, or on another batch, is a 409.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.batches.service import _keyed_event, preload_idempotency_keys
from registry.core.db import unit_of_work
from tests.dbtools import (
    assert_error,
    event_rows,
    filler_events,
    rows_read,
    snapshot,
    unchanged,
)
from tests.factories import World, harvested, packed, shipped, stored


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_same_key_and_body_replays_the_original_event(world: World) -> None:
    batch = world.new_batch()["id"]
    first = world.append(batch, world.coop, harvested(), headers=_key("7f1c-harvest"))
    assert first.status_code == 201
    with unchanged(world.engine):
        again = world.append(batch, world.coop, harvested(), headers=_key("7f1c-harvest"))
    assert again.status_code == 200
    assert again.json() == first.json()
    # Still the original after the chain has moved on.
    world.ok(batch, world.coop, stored())
    with unchanged(world.engine):
        later = world.append(batch, world.coop, harvested(), headers=_key("7f1c-harvest"))
    assert later.status_code == 200
    assert later.json() == first.json()
    assert [e["type"] for e in event_rows(world.engine, batch)] == [
        "created",
        "harvested",
        "stored",
    ]


def test_same_key_with_another_body_is_a_conflict(world: World) -> None:
    batch = world.new_batch()["id"]
    world.append(batch, world.coop, harvested(5000), headers=_key("k1"))
    with unchanged(world.engine):
        r = world.append(batch, world.coop, harvested(5001), headers=_key("k1"))
    assert_error(r, 409, "IdempotencyKeyReused", "k1")
    # The key names the request, not the type: a different event type is also a conflict.
    with unchanged(world.engine):
        r = world.append(batch, world.coop, stored(), headers=_key("k1"))
    assert_error(r, 409, "IdempotencyKeyReused")


def test_key_reused_on_another_batch_is_a_conflict(world: World) -> None:
    a, b = world.new_batch()["id"], world.new_batch()["id"]
    world.append(a, world.coop, harvested(), headers=_key("once"))
    with unchanged(world.engine):
        r = world.append(b, world.coop, harvested(), headers=_key("once"))
    assert_error(r, 409, "IdempotencyKeyReused")


def test_keys_belong_to_the_org_that_sent_them(world: World) -> None:
    mine, theirs = world.new_batch()["id"], world.new_batch(world.coop2)["id"]
    world.append(mine, world.coop, harvested(), headers=_key("shared"))
    r = world.append(theirs, world.coop2, harvested(), headers=_key("shared"))
    assert r.status_code == 201, r.text


def test_a_refused_request_does_not_use_up_its_key(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(5000))
    r = world.append(batch, world.coop, packed(2000, 5), headers=_key("pack-1"))
    assert_error(r, 409, "MassBalanceExceeded")
    r = world.append(batch, world.coop, packed(1000, 5), headers=_key("pack-1"))
    assert r.status_code == 201, r.text


def _item(batch: str, key: str, event: Any) -> dict[str, Any]:
    return {"batch_id": batch, "idempotency_key": key, "event": event}


def test_sync_gives_per_item_results_in_order(world: World) -> None:
    a, b = world.new_batch()["id"], world.new_batch()["id"]
    posted = world.append(a, world.coop, harvested(5000), headers=_key("online-1"))
    assert posted.status_code == 201
    head_b = world.call("GET", f"/v1/batches/{b}", world.coop).json()["head"]
    items = [
        _item(a, "online-1", harvested(5000)),  # already posted online: duplicate
        _item(a, "out-1", packed(1000, 5)),  # created
        _item(a, "out-2", {**stored(), "event_time": "no time"}),  # validation
        _item(a, "out-3", shipped(world.handler.id, 2000)),  # more than held
        _item(a, "out-1", packed(999, 5)),  # key reused with another body
        _item("no-such-batch", "out-4", stored()),  # unknown batch
        _item(b, "online-1", harvested(5000)),  # key reused on another batch
        _item(a, "out-5", stored()),  # created
        _item(a, "out-1", packed(1000, 5)),  # replay within the same outbox
        _item(b, "out-6", harvested(10, county="520102")),  # outside production area
    ]
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["idempotency_key"], x["status"], x["status_code"], x["error"]) for x in results] == [
        ("online-1", "duplicate", 200, None),
        ("out-1", "created", 201, None),
        ("out-2", "rejected", 422, "ValidationError"),
        ("out-3", "rejected", 409, "MassBalanceExceeded"),
        ("out-1", "rejected", 409, "IdempotencyKeyReused"),
        ("out-4", "rejected", 404, "BatchNotFound"),
        ("online-1", "rejected", 409, "IdempotencyKeyReused"),
        ("out-5", "created", 201, None),
        ("out-1", "duplicate", 200, None),
        ("out-6", "rejected", 422, "OutsideProductionArea"),
    ]
    assert results[0]["event"] == posted.json()
    assert "event_time" in results[2]["detail"]
    assert "10000 kg" in results[3]["detail"]
    assert results[8]["event"] == results[1]["event"]
    assert all(x["event"] is None for x in results if x["status"] == "rejected")
    # Only the two created items were written, back to back on batch a; b is untouched.
    seqs = [results[1]["event"]["seq"], results[7]["event"]["seq"]]
    assert seqs == [2, 3]
    assert results[7]["event"]["prev_hash"] == results[1]["event"]["hash"]
    assert [e["type"] for e in event_rows(world.engine, a)] == [
        "created",
        "harvested",
        "packed",
        "stored",
    ]
    assert world.call("GET", f"/v1/batches/{b}", world.coop).json()["head"] == head_b
    for batch in (a, b):
        audit = world.call("GET", f"/v1/batches/{batch}/audit", world.coop).json()
        assert audit["intact"] is True


def test_an_outboxs_events_are_numbered_and_logged_in_item_order(world: World) -> None:
    # PostgreSQL numbers an outbox's events before its one flush (number_new_events).
    a, b = world.new_batch()["id"], world.new_batch()["id"]
    order = [a, b, a, b, a]
    items = [_item(batch, f"k{i}", stored(f"place {i}")) for i, batch in enumerate(order)]
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    assert r.status_code == 200, r.text
    events = [x["event"] for x in r.json()["results"]]
    assert [(e["batch_id"], e["seq"]) for e in events] == [(a, 1), (b, 1), (a, 2), (b, 2), (a, 3)]
    ids = {
        (row["batch_id"], row["seq"]): row["id"]
        for x in (a, b)
        for row in event_rows(world.engine, x)
    }
    numbered = [ids[(e["batch_id"], e["seq"])] for e in events]
    assert numbered == sorted(numbered)
    logged = [e["leaf_index"] for e in events]
    assert None not in logged
    assert logged == sorted(logged)
    assert logged == list(range(logged[0], logged[0] + 5))


def test_replaying_a_whole_outbox_writes_nothing_new(world: World) -> None:
    batch = world.new_batch()["id"]
    items = [
        _item(batch, "h", harvested(5000)),
        _item(batch, "p", packed(1000, 5)),
        _item(batch, "s", shipped(world.handler.id, 1000)),
    ]
    first = world.call("POST", "/v1/sync", world.coop, json={"items": items}).json()["results"]
    assert [x["status"] for x in first] == ["created", "created", "created"]
    before = snapshot(world.engine)
    again = world.call("POST", "/v1/sync", world.coop, json={"items": items}).json()["results"]
    assert [x["status"] for x in again] == ["duplicate"] * 3
    assert [x["event"] for x in again] == [x["event"] for x in first]
    assert snapshot(world.engine) == before


def test_sync_is_for_writers_and_checks_custody_per_item(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(5000))
    with unchanged(world.engine):
        r = world.call(
            "POST", "/v1/sync", world.handler, json={"items": [_item(batch, "x", stored())]}
        )
    assert r.status_code == 200
    (result,) = r.json()["results"]
    assert (result["status"], result["status_code"], result["error"]) == (
        "rejected",
        403,
        "NotCustodian",
    )


def test_malformed_items_are_refused_each_in_its_own_result(world: World) -> None:
    batch = world.new_batch()["id"]
    items: list[Any] = [
        _item(batch, "bad-type", {**stored(), "type": "teleported"}),
        _item(batch, "bad-data", {**stored(), "data": {"place": ""}}),
        {"batch_id": batch, "event": stored()},  # no idempotency key
        {"batch_id": 7, "idempotency_key": ["k"], "event": stored()},  # wrong types
        "not an object",
        _item(batch, "good", stored()),
    ]
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["idempotency_key"], x["batch_id"], x["status"]) for x in results] == [
        ("bad-type", batch, "rejected"),
        ("bad-data", batch, "rejected"),
        (None, batch, "rejected"),
        (None, None, "rejected"),
        (None, None, "rejected"),
        ("good", batch, "created"),
    ]
    assert {(x["status_code"], x["error"]) for x in results[:5]} == {(422, "ValidationError")}
    assert "teleported" in results[0]["detail"]
    assert "data.place" in results[1]["detail"]
    assert "idempotency_key" in results[2]["detail"]
    assert "batch_id" in results[3]["detail"]
    assert "idempotency_key" in results[3]["detail"]
    assert [e["type"] for e in event_rows(world.engine, batch)] == ["created", "stored"]


def test_an_outbox_of_1000_items_is_taken_and_1001_refused_whole(world: World) -> None:
    batch = world.new_batch()["id"]
    items = [_item(batch, f"k{i}", stored(f"p{i}")) for i in range(1001)]
    with unchanged(world.engine):
        r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    assert_error(r, 422, "ValidationError", "1000")
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items[:1000]})
    assert r.status_code == 200, r.text
    assert {x["status"] for x in r.json()["results"]} == {"created"}
    assert len(event_rows(world.engine, batch)) == 1001


def test_an_outbox_finds_its_keys_without_reading_the_orgs_other_events(world: World) -> None:
    """On PostgreSQL, an outbox's idempotency keys are looked up as (org, key) pairs on the
    unique index. As `org = ? AND key IN (...)` on a table never analyzed, the planner
    probed the index by org only and read every event the org ever wrote (11,083 rows for
    none found, per sync, at 210,000 events). Rows and index entries read are counted in
    the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    batch = world.new_batch()["id"]
    with world.engine.begin() as conn:
        # The org's earlier events, each with its key: only their number matters here.
        filler_events(conn, batch_id=batch, org_id=world.coop.id, first_seq=1001, keyed=True)
    keys = [f"new-{i}" for i in range(20)] + ["old-7"]
    with unit_of_work(world.engine) as session:
        start = rows_read(session, "events")
        preload_idempotency_keys(session, actor_id=world.coop.id, keys=keys)
        read = rows_read(session, "events") - start
        assert _keyed_event(session, actor_id=world.coop.id, key="old-7") is not None
    # The one key found: its index entry and its row, when its id is found and when the
    # event is loaded by it (8,002 before).
    assert read == 4, read
