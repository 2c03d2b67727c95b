"""The Merkle module's edges: every proof of small trees checked against a tree built leaf by
leaf, tampered proofs refused with the expected and actual values named, the compact range
a witness keeps, and the ranges a store reads. Pure: no database."""

from __future__ import annotations

import pytest

from registry.log import merkle

LEAVES = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(33)]
SIZES = range(1, 34)


def tree(size: int) -> merkle.MemoryTree:
    return merkle.MemoryTree(LEAVES[:size])


def refused(call: object, *args: object) -> merkle.ProofError:
    with pytest.raises(merkle.ProofError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_proof_error_carries_and_shows_expected_and_actual() -> None:
    both = merkle.ProofError("bad", expected="a", actual="b")
    assert (str(both), both.expected, both.actual) == ("bad (expected a, got b)", "a", "b")
    one = merkle.ProofError("bad", expected="a")
    assert (str(one), one.actual) == ("bad (expected a, got )", "")
    other = merkle.ProofError("bad", actual="b")
    assert (str(other), other.expected) == ("bad (expected , got b)", "")
    assert str(merkle.ProofError("bad")) == "bad"


def test_every_inclusion_proof_of_small_trees_verifies() -> None:
    for size in SIZES:
        t = tree(size)
        assert t.root() == t.root(size) == merkle.MemoryTree(LEAVES[:size]).root()
        for index in range(size):
            proof = t.inclusion_proof(index, size)
            assert merkle.root_from_inclusion_proof(index, size, LEAVES[index], proof) == t.root()
            merkle.verify_inclusion(index, size, LEAVES[index], proof, t.root())
            if proof:  # a changed sibling leads to another root
                bent = [*proof[:-1], merkle.leaf_hash(b"other")]
                error = refused(merkle.verify_inclusion, index, size, LEAVES[index], bent, t.root())
                assert error.expected == t.root().hex()


def test_every_consistency_proof_of_small_trees_verifies() -> None:
    big = tree(33)
    for second in SIZES:
        for first in range(1, second + 1):
            proof = big.consistency_proof(first, second)
            merkle.verify_consistency(first, second, big.root(first), big.root(second), proof)
            if first < second:
                wrong = big.root(second - 1 if second - 1 != first else second - 2 or 1)
                refused(merkle.verify_consistency, first, second, big.root(first), wrong, proof)


def test_ranges_hash_to_the_root_of_their_leaves() -> None:
    big = tree(33)
    for size in SIZES:
        ranges = [(0, size), *merkle.inclusion_ranges(size // 2, size)]
        ranges += merkle.consistency_ranges(max(1, size // 3), size)
        for start, end in ranges:
            want = merkle.MemoryTree(LEAVES[start:end]).root()
            assert merkle.range_hash(start, end, big.node) == want, (start, end)


def test_complete_subtrees_are_aligned_largest_first() -> None:
    assert merkle.complete_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.complete_subtrees(0, 8) == [(3, 0)]
    assert merkle.complete_subtrees(1, 8) == [(0, 1), (1, 1), (2, 1)]
    assert merkle.complete_subtrees(4, 7) == [(1, 2), (0, 6)]
    assert merkle.complete_subtrees(6, 16) == [(1, 3), (3, 1)]
    for start, end in ((5, 5), (6, 5)):
        with pytest.raises(ValueError, match=rf"\[{start}, {end}\)"):
            merkle.complete_subtrees(start, end)


def test_proof_ranges_of_the_rfc() -> None:
    assert merkle.inclusion_ranges(0, 1) == []
    assert merkle.inclusion_ranges(2, 7) == [(3, 4), (0, 2), (4, 7)]
    assert merkle.inclusion_ranges(6, 7) == [(4, 6), (0, 4)]
    assert merkle.consistency_ranges(4, 8) == [(4, 8)]
    assert merkle.consistency_ranges(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]
    assert merkle.consistency_ranges(6, 8) == [(4, 6), (6, 8), (0, 4)]
    assert merkle.consistency_ranges(5, 5) == []
    for index, size in ((7, 7), (-1, 7), (0, 0)):
        with pytest.raises(ValueError, match=f"{index} is not in a tree of size {size}"):
            merkle.inclusion_ranges(index, size)
    for first, second in ((0, 5), (6, 5), (-1, 3)):
        with pytest.raises(ValueError, match=f"got {first}, {second}"):
            merkle.consistency_ranges(first, second)
    with pytest.raises(ValueError, match="nothing"):
        merkle.fold([])
    with pytest.raises(ValueError, match="-1"):
        merkle.root(-1, tree(1).node)
    assert merkle.root(0, tree(1).node) == merkle.EMPTY_ROOT


def test_hashes_of_the_wrong_length_are_named() -> None:
    t = tree(7)
    proof, root = t.inclusion_proof(2, 7), t.root()
    short = b"\x00" * 31
    for args, name in (
        ((2, 7, short, proof, root), "leaf hash"),
        ((2, 7, LEAVES[2], [proof[0], short, proof[2]], root), "proof[1]"),
        ((2, 7, LEAVES[2], proof, short), "root"),
    ):
        error = refused(merkle.verify_inclusion, *args)
        assert (error.expected, error.actual) == ("32", "31")
        assert str(error).startswith(f"{name} must be 32 bytes")
    c = t.consistency_proof(3, 7)
    for args, name in (
        ((3, 7, short, root, c), "first root"),
        ((3, 7, t.root(3), short, c), "second root"),
        ((3, 7, t.root(3), root, [c[0], short]), "proof[1]"),
    ):
        error = refused(merkle.verify_consistency, *args)
        assert (error.expected, error.actual) == ("32", "31")
        assert str(error).startswith(f"{name} must be 32 bytes")


def test_inclusion_proofs_of_the_wrong_shape_are_refused() -> None:
    t = tree(7)
    proof = t.inclusion_proof(2, 7)
    for index in (7, -1):
        error = refused(merkle.root_from_inclusion_proof, index, 7, LEAVES[0], proof)
        assert (error.expected, error.actual) == ("0 <= index < 7", str(index))
    long = refused(merkle.verify_inclusion, 2, 7, LEAVES[2], [*proof, proof[0]], t.root())
    assert (long.expected, long.actual) == ("fewer hashes", "4 hashes")
    assert "too long" in str(long)
    short = refused(merkle.verify_inclusion, 2, 7, LEAVES[2], proof[:-1], t.root())
    assert (short.expected, short.actual) == ("more hashes", "2 hashes")
    assert "too short" in str(short)
    wrong = refused(merkle.verify_inclusion, 2, 7, LEAVES[3], proof, t.root())
    assert wrong.expected == t.root().hex()
    assert wrong.actual == merkle.root_from_inclusion_proof(2, 7, LEAVES[3], proof).hex()
    assert "another root" in str(wrong)


def test_consistency_proofs_of_the_wrong_shape_are_refused() -> None:
    t = tree(8)
    r3, r7, r8 = t.root(3), t.root(7), t.root(8)
    proof = t.consistency_proof(3, 7)
    for first, second in ((0, 7), (8, 7), (-1, 7)):
        error = refused(merkle.verify_consistency, first, second, r3, r7, proof)
        assert (error.expected, error.actual) == (
            "0 < first <= second",
            f"first={first}, second={second}",
        )
    equal = refused(merkle.verify_consistency, 7, 7, r7, r7, proof)
    assert (equal.expected, equal.actual) == ("0 hashes", str(len(proof)))
    merkle.verify_consistency(7, 7, r7, r7, [])
    differ = refused(merkle.verify_consistency, 7, 7, r7, r8, [])
    assert (differ.expected, differ.actual) == (r7.hex(), r8.hex())
    empty = refused(merkle.verify_consistency, 3, 7, r3, r7, [])
    assert (empty.expected, empty.actual) == ("at least 1 hash", "0")
    long = refused(merkle.verify_consistency, 3, 7, r3, r7, [*proof, proof[0]])
    assert (long.expected, long.actual) == ("fewer hashes", f"{len(proof) + 1} hashes")
    assert "too long" in str(long)
    short = refused(merkle.verify_consistency, 3, 7, r3, r7, proof[:-1])
    assert (short.expected, short.actual) == ("more hashes", f"{len(proof) - 1} hashes")
    assert "too short" in str(short)
    first = refused(merkle.verify_consistency, 3, 7, t.root(2), r7, proof)
    # The path of a first tree that is no power of two leads to its true root.
    assert (first.expected, first.actual) == (t.root(2).hex(), r3.hex())
    assert "first root" in str(first)
    second = refused(merkle.verify_consistency, 3, 7, r3, r8, proof)
    assert (second.expected, second.actual) == (r8.hex(), r7.hex())
    assert "second root" in str(second)
    # A power-of-two first tree: its root starts the path, so the proof omits it.
    four = t.consistency_proof(4, 8)
    merkle.verify_consistency(4, 8, t.root(4), r8, four)
    refused(merkle.verify_consistency, 4, 8, t.root(3), r8, four)


def test_a_compact_range_keeps_the_right_edge() -> None:
    edge = merkle.CompactRange()
    assert (edge.size, edge.edge, edge.root()) == (0, [], merkle.EMPTY_ROOT)
    big = tree(33)
    for size, leaf in enumerate(LEAVES, start=1):
        completed = edge.append_hash(leaf)
        assert edge.size == size
        assert edge.root() == big.root(size)
        # Every subtree this leaf completes, as (level, index, hash), bottom up.
        levels = (size & -size).bit_length() - 1
        assert completed == [
            (level, (size >> level) - 1, big.node(level, (size >> level) - 1))
            for level in range(1, levels + 1)
        ]
        assert edge.edge == [big.node(lv, i) for lv, i in merkle.complete_subtrees(0, size)]
        again = merkle.CompactRange(size, edge.edge)
        assert (again.size, again.root()) == (size, edge.root())
        again.append_hash(LEAVES[0])
        assert again.root() == merkle.MemoryTree([*LEAVES[:size], LEAVES[0]]).root()
    with pytest.raises(ValueError, match="7 leaves has 3 edge hashes, got 2"):
        merkle.CompactRange(7, LEAVES[:2])
    with pytest.raises(ValueError, match="0 leaves has 0 edge hashes, got 1"):
        merkle.CompactRange(0, LEAVES[:1])
