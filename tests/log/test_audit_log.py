"""The audit's new checks: the batch row against event 0, the head against the log, the
audit answer's head proof, and I-JSON numbers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, text, update

from registry.core.config import get_settings
from registry.log import merkle, note
from registry.log.publisher import publish_now
from registry.models import metadata
from tests.dbtools import assert_error, database_url, run_cli, triggers_bypassed, unchanged
from tests.factories import World, harvested, packed, stored

EVENTS = metadata.tables["events"]
BATCHES = metadata.tables["batches"]


def test_editing_the_batch_row_is_caught(world: World) -> None:
    batch = world.new_batch(variety="Newhall")["id"]
    world.ok(batch, world.coop, harvested())
    with world.engine.begin() as conn:  # no trigger bypass needed for the batch row
        conn.execute(
            update(BATCHES).where(BATCHES.c.id == batch).values(product="apple", variety="Fuji")
        )
    report = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
    assert report["intact"] is False
    assert [p["seq"] for p in report["problems"]] == [0, 0]
    assert "batch row product 'apple' differs from event 0's 'navel orange'" in str(report)
    result = run_cli(database_url(world.engine), "audit", "--all")
    assert result.exit_code == 1
    assert f"BROKEN batch {batch} first bad seq 0: batch row" in result.output


def test_deleting_the_last_event_and_moving_the_head_back_is_caught(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    second = world.ok(batch, world.coop, packed(10, 5))
    with triggers_bypassed(world.engine) as conn:
        conn.execute(delete(EVENTS).where((EVENTS.c.batch_id == batch) & (EVENTS.c.seq == 2)))
        conn.execute(
            update(BATCHES)
            .where(BATCHES.c.id == batch)
            .values(head_seq=1, head_hash=second["prev_hash"])
        )
    report = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
    assert report["intact"] is False
    assert "the log holds seq 2 of this batch, which the chain lacks" in str(report)
    result = run_cli(database_url(world.engine), "audit", "--all")
    assert result.exit_code == 1
    assert f"BROKEN batch {batch} first bad seq 2: the log holds seq 2" in result.output
    with triggers_bypassed(world.engine) as conn:  # the whole batch gone, row and all
        conn.execute(delete(EVENTS).where(EVENTS.c.batch_id == batch))
        conn.execute(delete(BATCHES).where(BATCHES.c.id == batch))
    result = run_cli(database_url(world.engine), "audit", "--all")
    assert result.exit_code == 1
    assert f"log: leaf {second['leaf_index']} records batch {batch} seq 2" in result.output


def test_audit_answer_carries_the_head_proof(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(world.new_batch()["id"], world.coop, stored())
    head = world.ok(batch, world.coop, harvested())
    before = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
    assert before["log"] == {
        "leaf_index": head["leaf_index"],
        "tree_size": None,
        "proof": None,
        "checkpoint": None,
    }
    publish_now(world.engine, get_settings())
    answer = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()["log"]
    verifier = note.parse_vkey(world.call("GET", "/v1/log/key").text)
    cp = note.open_checkpoint(answer["checkpoint"], verifier)
    assert answer["leaf_index"] == head["leaf_index"]
    merkle.verify_inclusion(
        answer["leaf_index"],
        cp.size,
        merkle.leaf_hash(bytes.fromhex(head["hash"])),
        [bytes.fromhex(p) for p in answer["proof"]],
        cp.root,
    )


@pytest.mark.parametrize(
    ("where", "event"),
    [
        ("data.quantity", harvested(2**53)),
        ("data.quantity", harvested(-(2**60))),
        ("location.lat", {**harvested(), "location": {"county_code": "522632", "lat": 2**63}}),
    ],
)
def test_integers_beyond_i_json_are_refused(world: World, where: str, event: dict) -> None:  # type: ignore[type-arg]
    batch = world.new_batch()["id"]
    with unchanged(world.engine):
        detail = assert_error(world.append(batch, world.coop, event), 422, "ValidationError")
    assert where in detail
    assert "I-JSON" in detail


def test_concurrent_appends_get_contiguous_leaves(world: World) -> None:
    """Writers on different batches never wait for each other's leaf index; the log still
    has no gap and its root is the root of every chain hash in leaf order."""
    batches = [world.new_batch()["id"] for _ in range(4)]
    errors: list[str] = []

    def write(batch: str) -> None:
        for _ in range(5):
            r = world.append(batch, world.coop, stored())
            if r.status_code != 201:
                errors.append(r.text)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with world.engine.connect() as conn:
        leaves = conn.execute(text("SELECT leaf_index, data FROM log_leaves ORDER BY 1")).all()
        root = conn.execute(text("SELECT size, root FROM log_state")).one()
        hashes = {h for (h,) in conn.execute(text("SELECT hash FROM events"))}
    assert [i for i, _ in leaves] == list(range(len(hashes)))
    assert {bytes(d).hex() for _, d in leaves} == hashes
    tree = merkle.MemoryTree([merkle.leaf_hash(bytes(d)) for _, d in leaves])
    assert (root.size, bytes(root.root)) == (tree.size, tree.root())
