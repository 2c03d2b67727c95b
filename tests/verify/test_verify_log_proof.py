"""The verify answer carries the batch head's place in the transparency log: its leaf index,
an inclusion proof and the signed checkpoint, which anyone checks with the log's key and
the pure Merkle verifier (registry/log/merkle.py, registry/log/note.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.core.config import get_settings
from registry.log import merkle, note
from registry.log.publisher import publish_now
from tests.factories import World, harvested, label_codes, labeled_batch, stored
from tests.verify.helpers import path_of, verify


def _clear_cache(world: World) -> None:
    client: TestClient = world.client
    client.app.state.verifier.cache.clear()  # type: ignore[attr-defined]


def _check(world: World, chain: dict[str, Any]) -> note.Checkpoint:
    verifier = note.parse_vkey(world.call("GET", "/v1/log/key").text)
    assert isinstance(chain["checkpoint"], str)
    checkpoint = note.open_checkpoint(chain["checkpoint"], verifier)
    assert chain["tree_size"] == checkpoint.size
    assert isinstance(chain["leaf_index"], int)
    assert isinstance(chain["head_hash"], str)
    assert isinstance(chain["inclusion_proof"], list)
    merkle.verify_inclusion(
        chain["leaf_index"],
        checkpoint.size,
        merkle.leaf_hash(bytes.fromhex(chain["head_hash"])),
        [bytes.fromhex(h) for h in chain["inclusion_proof"]],
        checkpoint.root,
    )
    return checkpoint


def test_the_json_answer_proves_the_head_against_the_signed_checkpoint(world: World) -> None:
    _batch, run = labeled_batch(world, units=10, count=3)
    other = world.new_batch()["id"]  # more leaves, so the proof is not empty
    world.ok(other, world.coop, harvested())
    url = label_codes(world, run["run_id"])[0]

    # No checkpoint yet: the head has its leaf, but nothing to prove it against.
    chain = verify(world, url)["chain"]
    assert isinstance(chain["leaf_index"], int)
    assert (chain["tree_size"], chain["inclusion_proof"], chain["checkpoint"]) == (
        None,
        None,
        None,
    )

    publish_now(world.engine, get_settings())
    _clear_cache(world)  # what the cache's refresh does within its TTL
    chain = verify(world, url)["chain"]
    checkpoint = _check(world, chain)
    assert checkpoint.size >= chain["leaf_index"] + 2
    assert chain["inclusion_proof"]

    # A wrong head hash does not verify against the same proof.
    bad = {**chain, "head_hash": "00" * 32}
    with pytest.raises(merkle.ProofError):
        _check(world, bad)

    # The consumer page says where the head sits in the log and that the proof is in the JSON.
    world.client.cookies.clear()
    page = world.client.get(path_of(url) + "&lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200
    leaf = f"Transparency log leaf of the latest record</dt><dd>{chain['leaf_index']}</dd>"
    assert leaf in page.text
    assert f"Log size at the signed checkpoint</dt><dd>{checkpoint.size}</dd>" in page.text
    assert "carries its inclusion proof against the log&#39;s signed checkpoint" in page.text


def test_a_head_newer_than_the_checkpoint_has_no_proof_yet(world: World) -> None:
    batch, run = labeled_batch(world, units=10, count=3)
    url = label_codes(world, run["run_id"])[0]
    publish_now(world.engine, get_settings())
    world.ok(batch["id"], world.coop, stored())  # a new head, not yet checkpointed
    _clear_cache(world)
    chain = verify(world, url)["chain"]
    assert isinstance(chain["leaf_index"], int)
    assert chain["tree_size"] is not None
    assert chain["leaf_index"] >= chain["tree_size"]
    assert chain["inclusion_proof"] is None
    assert chain["checkpoint"] is not None
