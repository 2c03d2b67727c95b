"""The chain's hashing reproduces hand-checked golden vectors (tests/assets/chain-vectors.json):
RFC 8785 canonical bytes and SHA-256 links, independent of our own implementation."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

import pytest

from registry.batches.chain import GENESIS_HASH, event_body, find_chain_problems, link_hash
from registry.core.canonical import canonical_json
from tests.conftest import asset

VECTORS: list[dict[str, Any]] = json.loads(asset("chain-vectors.json").read_text("utf-8"))[
    "vectors"
]


def test_vectors_form_one_chain_and_cover_the_tricky_cases() -> None:
    assert VECTORS[0]["prev_hash"] == GENESIS_HASH
    for previous, vector in itertools.pairwise(VECTORS):
        assert vector["prev_hash"] == previous["hash"]
    harvested = next(v for v in VECTORS if v["name"] == "harvested")
    # The asset really holds an integer-valued float, which JCS writes without ".0".
    assert isinstance(harvested["body"]["data"]["quantity"], float)
    assert '"quantity":5000,' in harvested["canonical"]
    assert "榕江" in harvested["canonical"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_canonical_json_matches_the_vector(vector: dict[str, Any]) -> None:
    assert canonical_json(vector["body"]) == vector["canonical"].encode("utf-8")


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_link_hash_matches_the_vector(vector: dict[str, Any]) -> None:
    assert link_hash(vector["prev_hash"], vector["body"]) == vector["hash"]


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "event_body_inputs" in v], ids=lambda v: v["name"]
)
def test_event_body_builds_the_vector_body(vector: dict[str, Any]) -> None:
    """Times given with any offset are hashed as UTC with microseconds and a Z."""
    body, inputs = vector["body"], vector["event_body_inputs"]
    built = event_body(
        batch_id=body["batch_id"],
        seq=body["seq"],
        type=body["type"],
        event_time=datetime.fromisoformat(inputs["event_time"]),
        event_time_offset=body["event_time_offset"],
        recorded_at=datetime.fromisoformat(inputs["recorded_at"]),
        actor_org_id=body["actor_org_id"],
        location=body["location"],
        data=body["data"],
    )
    assert built == body
    assert link_hash(vector["prev_hash"], built) == vector["hash"]


def test_vectors_audit_as_an_intact_chain_and_any_edit_breaks_it() -> None:
    links = [(v["body"]["seq"], v["prev_hash"], v["hash"], v["body"]) for v in VECTORS]
    last = VECTORS[-1]
    assert find_chain_problems(links, head_seq=last["body"]["seq"], head_hash=last["hash"]) == []
    edited = json.loads(json.dumps(VECTORS[1]["body"]))
    edited["data"]["quantity"] = 5000.5
    links[1] = (1, VECTORS[1]["prev_hash"], VECTORS[1]["hash"], edited)
    problems = find_chain_problems(links, head_seq=3, head_hash=last["hash"])
    assert [p.seq for p in problems] == [1]


def test_link_hash_refuses_a_malformed_prev_hash() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        link_hash("abc", {})
