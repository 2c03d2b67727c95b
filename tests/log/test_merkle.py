"""The Merkle module against the RFC 6962 vectors (valid and invalid) and pymerkle."""

from __future__ import annotations

import json
from typing import Any

import pymerkle
import pytest

from registry.log import merkle
from tests.conftest import asset

VECTORS: dict[str, Any] = json.loads(asset("rfc6962.json").read_text())


def _hx(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _tree() -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for leaf in VECTORS["leaf_inputs"]:
        tree.append(bytes.fromhex(leaf))
    return tree


def test_hasher_vectors() -> None:
    for case in VECTORS["hasher_vectors"]:
        if case["op"] == "empty_root":
            got = merkle.EMPTY_ROOT
        elif case["op"] == "leaf_hash":
            got = merkle.leaf_hash(bytes.fromhex(case["input_hex"]))
        else:
            got = merkle.node_hash(
                bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"])
            )
        assert got.hex() == case["want"], case["desc"]


def test_nodes_and_roots_for_every_size() -> None:
    tree = _tree()
    for level, hashes in enumerate(VECTORS["node_hashes_by_level"]):
        assert [tree.node(level, i).hex() for i in range(len(hashes))] == hashes
    for size, want in VECTORS["root_by_tree_size"].items():
        assert tree.root(int(size)).hex() == want


@pytest.mark.parametrize(
    "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['file']}:{c['leaf_index']}"
)
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    args = (
        case["leaf_index"],
        case["tree_size"],
        bytes.fromhex(case["leaf_hash"]),
        _hx(case["proof"]),
        bytes.fromhex(case["root"]),
    )
    if case["expect_valid"]:
        merkle.verify_inclusion(*args)
        assert merkle.MemoryTree(
            [_tree().node(0, i) for i in range(case["tree_size"])]
        ).inclusion_proof(case["leaf_index"], case["tree_size"]) == _hx(case["proof"])
    else:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize("case", VECTORS["consistency_proofs"], ids=lambda c: c["file"])
def test_consistency_vectors(case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        bytes.fromhex(case["root1"]),
        bytes.fromhex(case["root2"]),
        _hx(case["proof"]),
    )
    if case["expect_valid"]:
        merkle.verify_consistency(*args)
        if 0 < case["size1"] < case["size2"] <= 8:
            assert _tree().consistency_proof(case["size1"], case["size2"]) == _hx(case["proof"])
    else:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)


def test_error_names_expected_and_actual_root() -> None:
    tree = _tree()
    proof = tree.inclusion_proof(2, 7)
    wrong = tree.root(8)
    with pytest.raises(merkle.ProofError) as caught:
        merkle.verify_inclusion(2, 7, tree.node(0, 2), proof, wrong)
    assert caught.value.expected == wrong.hex()
    assert caught.value.actual == tree.root(7).hex()


def test_agrees_with_pymerkle_on_roots_and_proofs() -> None:
    """pymerkle (an implementation we did not write) builds the same RFC 9162 tree."""
    theirs = pymerkle.InmemoryTree(algorithm="sha256")
    ours = merkle.MemoryTree()
    for i in range(70):
        theirs.append_entry(i.to_bytes(2, "big"))
        ours.append(i.to_bytes(2, "big"))
    for size in range(1, 71):
        assert theirs.get_root(size) == ours.root(size)
        for index in range(0, size, 7):
            path = theirs.prove_inclusion(index + 1, size).serialize()["path"]
            assert path[1:] == [h.hex() for h in ours.inclusion_proof(index, size)]
        for first in range(1, size, 5):
            proof = ours.consistency_proof(first, size)
            merkle.verify_consistency(first, size, ours.root(first), ours.root(size), proof)


def test_node_reads_are_logarithmic() -> None:
    """A root or proof of any size touches O(log n) stored subtrees, never a rescan."""
    for size in (1, 2, 3, 1000, 1023, 1024, 1025, 999_999, 1_000_000):
        keys = merkle.needed_nodes(
            [(0, size), *merkle.inclusion_ranges(size // 3, size)]
            + (merkle.consistency_ranges(size // 2 or 1, size) if size > 1 else [])
        )
        assert len(keys) <= 4 * size.bit_length() + 2
