"""One batch's life over HTTP, as in DESIGN.md's example."""

from __future__ import annotations

from tests.factories import World, harvested, packed, received, shipped


def test_batch_life_from_harvest_to_receipt(world: World) -> None:
    batch = world.new_batch()
    assert batch["status"] == "open"
    assert batch["head"]["seq"] == 0
    assert len(batch["head"]["hash"]) == 64
    h = world.ok(batch["id"], world.coop, harvested())
    assert h["seq"] == 1
    assert h["prev_hash"] == batch["head"]["hash"]
    assert h["event_time"] == "2026-11-20T08:30:00+08:00"
    world.ok(batch["id"], world.coop, packed())
    world.ok(batch["id"], world.coop, shipped(world.handler.id))
    world.ok(batch["id"], world.handler, received(world.coop.id))
    r = world.call("GET", f"/v1/batches/{batch['id']}/audit", world.regulator)
    assert r.status_code == 200
    assert r.json()["intact"] is True
    assert r.json()["length"] == 5
    assert r.json()["problems"] == []
