"""RFC 6962 / RFC 9162 Merkle tree math over SHA-256: hashes, roots, proofs, verifiers.

Pure: no framework or database imports. Trees are addressed by complete subtrees: the node
(level L, index i) is the root of leaves [i * 2^L, (i + 1) * 2^L). Proofs are lists of
*ranges* [start, end) whose subtree roots the caller supplies, so a store that keeps the
complete subtree hashes answers any root or proof with O(log n) node reads.
Verifiers raise `ProofError` naming the expected and the actual value; they never return
False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index) of a complete subtree; its hash is supplied by a NodeReader.
NodeKey = tuple[int, int]
NodeReader = Callable[[int, int], bytes]


class ProofError(Exception):
    """A proof, root or input did not verify; `expected` and `actual` say what differed."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "") -> None:
        detail = message
        if expected or actual:
            detail += f" (expected {expected}, got {actual})"
        super().__init__(detail)
        self.expected = expected
        self.actual = actual


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf (RFC 6962 2.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtrees(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees, left to right, whose roots fold into MTH(D[start:end]).

    Valid for the ranges the RFC's recursion produces (start aligned to a power of two at
    least as large as end - start). The result has at most log2(end - start) + 1 entries.
    """
    if end <= start:
        raise ValueError(f"empty range [{start}, {end})")
    keys: list[NodeKey] = []
    pos = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        size = 1 << level
        # The range must split into aligned complete subtrees, largest first.
        while pos % size:
            level -= 1
            size >>= 1
        keys.append((level, pos >> level))
        pos += size
        remaining -= size
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine complete-subtree roots (left to right, strictly decreasing sizes) into the
    root of their concatenation, right to left as the RFC's recursion does."""
    if not hashes:
        raise ValueError("nothing to fold")
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def range_hash(start: int, end: int, read: NodeReader) -> bytes:
    """MTH(D[start:end]) from the stored complete subtrees."""
    return fold([read(level, index) for level, index in complete_subtrees(start, end)])


def root(size: int, read: NodeReader) -> bytes:
    """The root of the tree of `size` leaves (the empty-string hash for size 0)."""
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    return EMPTY_ROOT if size == 0 else range_hash(0, size, read)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose roots form PATH(index, D[0:size]), leaf to root (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    out: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose roots form PROOF(first, D[0:second]) (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"a consistency proof needs 0 < first <= second, got {first}, {second}")
    out: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        out.append((start, end))
    out.reverse()
    return out


def needed_nodes(ranges: Sequence[tuple[int, int]]) -> set[NodeKey]:
    """Every complete subtree a store must read to hash `ranges`."""
    return {key for start, end in ranges for key in complete_subtrees(start, end)}


def hash_ranges(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    return [range_hash(start, end, read) for start, end in ranges]


class MemoryTree:
    """A whole tree held in memory (tests, the witness re-deriving roots from entries)."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append_hash(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> None:
        self.append_hash(leaf_hash(data))

    def append_hash(self, h: bytes) -> None:
        level = 0
        self._levels[0].append(h)
        index = len(self._levels[0]) - 1
        while index % 2 == 1:
            parent = node_hash(self._levels[level][index - 1], self._levels[level][index])
            level += 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(parent)
            index //= 2

    def node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else size, self.node)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return hash_ranges(inclusion_ranges(index, size), self.node)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return hash_ranges(consistency_ranges(first, second), self.node)


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(
            f"{name} must be {HASH_SIZE} bytes", expected=str(HASH_SIZE), actual=str(len(value))
        )


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` implies for `leaf` (a leaf hash) at `index` (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(
            "leaf index outside the tree", expected=f"0 <= index < {size}", actual=str(index)
        )
    _check_hash("leaf hash", leaf)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError(
                "inclusion proof is too long",
                expected="fewer hashes",
                actual=f"{len(proof)} hashes",
            )
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            "inclusion proof is too short", expected="more hashes", actual=f"{len(proof)} hashes"
        )
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise ProofError unless `proof` shows `leaf` (a leaf hash) at `index` in the tree of
    `size` leaves whose root is `expected_root`."""
    _check_hash("root", expected_root)
    got = root_from_inclusion_proof(index, size, leaf, proof)
    if got != expected_root:
        raise ProofError(
            "inclusion proof leads to another root", expected=expected_root.hex(), actual=got.hex()
        )


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows the tree of `first` leaves (`first_root`) is a
    prefix of the tree of `second` leaves (`second_root`) (RFC 9162 2.1.4.2).

    Like transparency-dev/merkle, this needs 0 < first <= second; a witness that saw no
    checkpoint yet (size 0) has nothing to be consistent with and skips the proof."""
    if not 0 < first <= second:
        raise ProofError(
            "consistency needs 0 < first <= second",
            expected="0 < first <= second",
            actual=f"first={first}, second={second}",
        )
    if first == second:
        # As transparency-dev/merkle: equal sizes compare the roots byte for byte.
        if proof:
            raise ProofError(
                "equal sizes need an empty proof", expected="0 hashes", actual=f"{len(proof)}"
            )
        if first_root != second_root:
            raise ProofError(
                "equal sizes with different roots",
                expected=first_root.hex(),
                actual=second_root.hex(),
            )
        return
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    if not proof:
        raise ProofError("consistency proof is empty", expected="at least 1 hash", actual="0")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                "consistency proof is too long",
                expected="fewer hashes",
                actual=f"{len(proof)} hashes",
            )
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            "consistency proof is too short", expected="more hashes", actual=f"{len(proof)} hashes"
        )
    if fr != first_root:
        raise ProofError(
            "consistency proof does not lead to the first root",
            expected=first_root.hex(),
            actual=fr.hex(),
        )
    if sr != second_root:
        raise ProofError(
            "consistency proof does not lead to the second root",
            expected=second_root.hex(),
            actual=sr.hex(),
        )


class CompactRange:
    """The right edge of a tree: its complete subtrees' roots, largest first. Appending a
    leaf costs O(log n); the root needs no other node. Witnesses keep one between runs."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        levels = [level for level, _ in complete_subtrees(0, size)] if size else []
        if len(levels) != len(edge):
            raise ValueError(
                f"a tree of {size} leaves has {len(levels)} edge hashes, got {len(edge)}"
            )
        self.size = size
        self._edge: list[tuple[int, bytes]] = list(zip(levels, edge, strict=True))

    @property
    def edge(self) -> list[bytes]:
        return [h for _, h in self._edge]

    def append_hash(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the (level, index, hash) of every subtree it completes."""
        completed: list[tuple[int, int, bytes]] = []
        index, level, carry = self.size, 0, leaf
        while self._edge and self._edge[-1][0] == level:
            carry = node_hash(self._edge.pop()[1], carry)
            level += 1
            completed.append((level, index >> level, carry))
        self._edge.append((level, carry))
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.edge) if self.size else EMPTY_ROOT
