"""Offline outboxes synced at once over the same batches, against a real server: every item
gets its own right answer, concurrent copies of one item are written once, and every chain
stays whole (issue 11: 8 concurrent 2-item syncs used to deadlock and lose items)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import httpx2
from sqlalchemy import Engine, text

from tests.batches.test_concurrency import _run_together, serving
from tests.factories import World, stored

CLIENTS = 16
BATCHES = 4
SHARED = 8  # items of one outbox that several clients send, as a phone resending its outbox


def _item(batch: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": batch, "idempotency_key": key, "event": event}


def _outbox(client: int, batches: list[str]) -> list[dict[str, Any]]:
    """One item on each batch in an order that differs between clients (odd clients go
    backwards), half of the shared items interleaved, and one malformed item."""
    order = [batches[(client + k) % BATCHES] for k in range(BATCHES)]
    if client % 2:
        order.reverse()
    own = [_item(b, f"c{client}-{n}", stored(f"c{client}-{n}")) for n, b in enumerate(order)]
    shared = [
        _item(batches[j % BATCHES], f"shared-{j}", stored(f"shared-{j}"))
        for j in range(SHARED)
        if (j + client) % 2 == 0
    ]
    if client % 4 >= 2:
        shared.reverse()
    bad = _item(order[0], f"c{client}-bad", {**stored(), "type": "teleported"})
    items = [x for pair in itertools.zip_longest(own, shared) for x in pair if x]
    return [*items[:3], bad, *items[3:]]


def _deadlocks(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def test_concurrent_overlapping_outboxes_each_item_answered_once(world: World) -> None:
    batches = [world.new_batch()["id"] for _ in range(BATCHES)]
    outboxes = [_outbox(c, batches) for c in range(CLIENTS)]
    deadlocks_before = _deadlocks(world.engine)
    with serving(world.engine) as base_url:

        def sync(c: int) -> tuple[int, Any]:
            with httpx2.Client(base_url=base_url, headers=world.coop.auth, timeout=120) as http:
                r = http.post("/v1/sync", json={"items": outboxes[c]})
                return r.status_code, r.json()

        answers = _run_together([lambda c=c: sync(c) for c in range(CLIENTS)])
    deadlocks = _deadlocks(world.engine) - deadlocks_before

    assert [status for status, _ in answers] == [200] * CLIENTS, answers
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c, (_, body) in enumerate(answers):
        results = body["results"]
        assert [x["idempotency_key"] for x in results] == [
            x["idempotency_key"] for x in outboxes[c]
        ]
        for sent, result in zip(outboxes[c], results, strict=True):
            assert result["batch_id"] == sent["batch_id"]
            by_key[sent["idempotency_key"]].append(result)

    created: dict[str, dict[str, Any]] = {}
    for key, results in by_key.items():
        if key.endswith("-bad"):
            ((result,),) = [results]
            assert (result["status"], result["status_code"], result["error"]) == (
                "rejected",
                422,
                "ValidationError",
            )
            assert "teleported" in result["detail"]
            continue
        statuses = sorted(r["status"] for r in results)
        # Written exactly once; every concurrent copy answers `duplicate` with that event.
        assert statuses == ["created"] + ["duplicate"] * (len(results) - 1), (key, results)
        (first,) = [r for r in results if r["status"] == "created"]
        assert all(r["event"] == first["event"] for r in results)
        assert all(r["status_code"] == (201 if r is first else 200) for r in results)
        created[key] = first["event"]
    assert len(created) == CLIENTS * BATCHES + SHARED
    assert sum(len(v) for k, v in by_key.items() if k.startswith("shared")) == CLIENTS * SHARED // 2

    for batch in batches:
        events = world.events(batch, world.coop)
        assert [e["seq"] for e in events] == list(range(len(events)))
        for previous, event in itertools.pairwise(events):
            assert event["prev_hash"] == previous["hash"]
        mine = {e["data"]["place"]: e for e in events[1:]}
        expected = {k: e for k, e in created.items() if e["batch_id"] == batch}
        assert sorted(mine) == sorted(expected)  # each key's event once, nothing else
        for key, event in expected.items():
            assert mine[key] == event
        audit = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
        assert audit["intact"] is True
        assert audit["length"] == len(events)
    # One global lock order: no deadlock for the server to retry (it was ~20 per 8 clients).
    assert deadlocks == 0


def test_one_key_sent_at_once_for_different_batches_is_written_once(world: World) -> None:
    """Outboxes share no batch, so nothing queues them: the unique index on (org, key)
    decides, and the losers learn that the key is already used, as one by one."""
    batches = [world.new_batch()["id"] for _ in range(6)]
    with serving(world.engine) as base_url:

        def sync(batch: str) -> tuple[int, Any]:
            with httpx2.Client(base_url=base_url, headers=world.coop.auth, timeout=120) as http:
                body = {"items": [_item(batch, "one-key", stored("same place"))]}
                r = http.post("/v1/sync", json=body)
                return r.status_code, r.json()

        answers = _run_together([lambda b=b: sync(b) for b in batches])
    assert [status for status, _ in answers] == [200] * len(batches)
    results = [body["results"][0] for _, body in answers]
    assert sorted((r["status"], r["status_code"], r["error"]) for r in results) == [
        ("created", 201, None)
    ] + [("rejected", 409, "IdempotencyKeyReused")] * (len(batches) - 1)
    (winner,) = [r for r in results if r["status"] == "created"]
    for batch in batches:
        events = world.events(batch, world.coop)
        assert len(events) == (2 if batch == winner["batch_id"] else 1)
