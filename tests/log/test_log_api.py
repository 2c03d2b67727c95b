"""The log through the API: every event is a leaf, checkpoints verify with the published
key, proofs verify with the pure verifier, and events check with hashlib + rfc8785 alone."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import rfc8785
from sqlalchemy import text

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.log import merkle, note
from registry.log.checkpoints import publish_checkpoint
from registry.log.exceptions import LogInconsistent
from registry.log.publisher import publish_now
from tests.dbtools import assert_error, database_url, run_cli
from tests.factories import World, harvested, packed, shipped, stored


def _publish(world: World) -> str:
    publish_now(world.engine, get_settings())
    r = world.call("GET", "/v1/log/checkpoint")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def _verifier(world: World) -> note.Verifier:
    return note.parse_vkey(world.call("GET", "/v1/log/key").text)


def _events(world: World, batch_id: str) -> list[dict[str, Any]]:
    return world.events(batch_id, world.regulator)


def _some_events(world: World) -> list[str]:
    a, b = world.new_batch()["id"], world.new_batch(world.coop2)["id"]
    world.ok(a, world.coop, harvested(100))
    world.ok(b, world.coop2, harvested(200))
    world.ok(a, world.coop, packed(10, 5))
    world.ok(a, world.coop, shipped(world.handler.id, 2))
    return [a, b]


def test_events_check_with_hashlib_and_rfc8785_only(world: World) -> None:
    batch_id = world.new_batch()["id"]
    posted = world.ok(batch_id, world.coop, harvested(5000))
    # Shown in its original offset, hashed in UTC: the body carries the hashed form.
    assert posted["event_time"].endswith("+08:00")
    assert posted["body"]["event_time"] == "2026-11-20T00:30:00.000000Z"
    assert posted["leaf_index"] is not None
    prev = "0" * 64
    for event in _events(world, batch_id):
        assert event["prev_hash"] == prev
        digest = hashlib.sha256(bytes.fromhex(prev) + rfc8785.dumps(event["body"])).hexdigest()
        assert digest == event["hash"]
        prev = event["hash"]
    assert _events(world, batch_id)[1] == posted


def test_leaves_are_the_chain_hashes_in_order_without_gaps(world: World) -> None:
    batches = _some_events(world)
    # A refused append (mass balance: more shipped than packed) rolls back: no leaf.
    r = world.append(batches[0], world.coop, shipped(world.handler.id, 10_000))
    assert r.status_code == 409, r.text
    world.ok(batches[1], world.coop2, stored())
    events = [e for b in batches for e in _events(world, b)]
    indexes = sorted(e["leaf_index"] for e in events)
    assert indexes == list(range(len(events)))
    entries = world.call("GET", "/v1/log/entries", params={"start": 0, "end": 100}).json()
    by_index = {e["leaf_index"]: e["hash"] for e in events}
    assert [(e["leaf_index"], e["data"]) for e in entries["entries"]] == sorted(by_index.items())
    assert entries["end"] == entries["tree_size"] == len(events)


def test_checkpoint_and_proofs_verify(world: World) -> None:
    batches = _some_events(world)
    published = _publish(world)  # creates the log key on first use
    verifier = _verifier(world)
    first = note.open_checkpoint(published, verifier)
    world.ok(batches[1], world.coop2, stored())
    world.ok(batches[0], world.coop, stored())
    second = note.open_checkpoint(_publish(world), verifier)
    assert (first.origin, second.size) == (get_settings().log_name, first.size + 2)

    leaves = [
        bytes.fromhex(e["data"])
        for e in world.call(
            "GET", "/v1/log/entries", params={"start": 0, "end": second.size}
        ).json()["entries"]
    ]
    assert merkle.MemoryTree([merkle.leaf_hash(x) for x in leaves]).root() == second.root
    for index, data in enumerate(leaves):
        proof = world.call(
            "GET",
            "/v1/log/proof/inclusion",
            params={"leaf_index": index, "tree_size": second.size},
        ).json()
        merkle.verify_inclusion(
            index,
            second.size,
            merkle.leaf_hash(data),
            [bytes.fromhex(p) for p in proof["proof"]],
            second.root,
        )
    proof = world.call(
        "GET", "/v1/log/proof/consistency", params={"first": first.size, "second": second.size}
    ).json()
    merkle.verify_consistency(
        first.size,
        second.size,
        first.root,
        second.root,
        [bytes.fromhex(p) for p in proof["proof"]],
    )
    # Nothing new: no new checkpoint.
    assert _publish(world) == world.call("GET", "/v1/log/checkpoint").text
    assert note.open_checkpoint(_publish(world), verifier).size == second.size


@pytest.mark.parametrize(
    ("path", "params", "status", "error"),
    [
        ("/v1/log/proof/inclusion", {"leaf_index": 5, "tree_size": 5}, 422, "LogRangeInvalid"),
        (
            "/v1/log/proof/inclusion",
            {"leaf_index": 0, "tree_size": 999},
            404,
            "TreeSizeUnavailable",
        ),
        ("/v1/log/proof/inclusion", {"leaf_index": -1, "tree_size": 3}, 422, "ValidationError"),
        ("/v1/log/proof/consistency", {"first": 4, "second": 3}, 422, "LogRangeInvalid"),
        ("/v1/log/proof/consistency", {"first": 0, "second": 3}, 422, "ValidationError"),
        ("/v1/log/proof/consistency", {"first": 2, "second": 999}, 404, "TreeSizeUnavailable"),
        ("/v1/log/entries", {"start": 3, "end": 3}, 422, "LogRangeInvalid"),
        ("/v1/log/entries", {"start": 999, "end": 1000}, 404, "TreeSizeUnavailable"),
        ("/v1/log/entries", {"start": "x", "end": 2}, 422, "ValidationError"),
    ],
)
def test_bad_ranges(
    world: World, path: str, params: dict[str, Any], status: int, error: str
) -> None:
    _some_events(world)
    assert_error(world.call("GET", path, params=params), status, error)


def test_no_checkpoint_or_key_yet_is_404(world: World) -> None:
    assert_error(world.call("GET", "/v1/log/checkpoint"), 404, "NoCheckpoint")
    assert_error(world.call("GET", "/v1/log/key"), 404, "LogKeyMissing")


def test_keys_create_log_prints_the_verifier_key_once(world: World) -> None:
    url = database_url(world.engine)
    made = run_cli(url, "keys", "create", "--log")
    assert made.exit_code == 0, made.output
    assert note.parse_vkey(made.output.strip()) == _verifier(world)
    again = run_cli(url, "keys", "create", "--log")
    assert again.exit_code == 1
    assert "already active" in again.output
    # The log key is not a label key: the label JWKS does not list it.
    assert (
        made.output.strip().split("+")[1]
        not in world.call("GET", "/.well-known/registry-keys.json").text
    )


def test_never_signs_a_tree_inconsistent_with_the_last_checkpoint(world: World) -> None:
    _some_events(world)
    _publish(world)
    with world.engine.begin() as conn:
        conn.execute(
            text("UPDATE log_nodes SET hash = :h WHERE level = 2 AND node_index = 0"),
            {"h": b"\x00" * 32},
        )
    world.ok(world.new_batch()["id"], world.coop, stored())
    with pytest.raises(LogInconsistent), unit_of_work(world.engine, write=True) as session:
        publish_checkpoint(session, name=get_settings().log_name, passphrase="x")
