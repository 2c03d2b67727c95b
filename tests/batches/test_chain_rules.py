"""The chain audit's failure branches (registry/batches/chain.find_chain_problems), with no
database: a seq gap, reordered seqs, a broken prev_hash link, a stored hash that does not
match, an empty chain and a batch head that disagrees, each named at the right seq."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from registry.batches.chain import GENESIS_HASH, ChainProblem, find_chain_problems, link_hash

Link = tuple[int, str, str, dict[str, Any]]
OTHER_HASH = "ab" * 32


def body(seq: int) -> dict[str, Any]:
    return {"batch_id": "b1", "seq": seq, "type": "note", "data": {"n": seq}}


def build(count: int) -> list[Link]:
    """An intact chain of `count` links: seq 0..count-1, each bound to the previous hash."""
    links: list[Link] = []
    prev = GENESIS_HASH
    for seq in range(count):
        digest = link_hash(prev, body(seq))
        links.append((seq, prev, digest, body(seq)))
        prev = digest
    return links


def audit(
    links: list[Link], head_seq: int | None = None, head_hash: str | None = None
) -> list[ChainProblem]:
    """Audit with the head the links imply unless told otherwise."""
    last_seq, last_hash = (links[-1][0], links[-1][2]) if links else (0, GENESIS_HASH)
    return find_chain_problems(
        links,
        head_seq=last_seq if head_seq is None else head_seq,
        head_hash=last_hash if head_hash is None else head_hash,
    )


@pytest.mark.parametrize("count", [1, 2, 5])
def test_an_intact_chain_has_no_problems(count: int) -> None:
    assert audit(build(count)) == []


def test_an_empty_chain_is_a_problem_at_seq_0() -> None:
    problems = find_chain_problems([], head_seq=0, head_hash=GENESIS_HASH)
    assert [p.seq for p in problems] == [0]
    assert "no events" in problems[0].problem


def test_a_seq_gap_is_named_at_the_missing_seq_and_stops_the_audit() -> None:
    links = build(5)
    del links[2]
    problems = audit(links, head_seq=4, head_hash="f" * 64)
    assert [p.seq for p in problems] == [2]
    assert "expected seq 2, found 3" in problems[0].problem


def test_reordered_seqs_are_named_at_the_first_out_of_place_seq() -> None:
    links = build(4)
    links[1], links[2] = links[2], links[1]
    problems = audit(links, head_seq=3, head_hash=links[-1][2])
    assert [p.seq for p in problems] == [1]
    assert "expected seq 1, found 2" in problems[0].problem


def test_a_chain_that_does_not_start_at_seq_0_is_named_at_seq_0() -> None:
    links = build(3)[1:]
    problems = audit(links)
    assert [p.seq for p in problems] == [0]
    assert "expected seq 0, found 1" in problems[0].problem


def relinked(links: list[Link], seq: int, prev: str) -> list[Link]:
    """Link `seq` re-hashed onto `prev` (a consistent link that names the wrong parent)."""
    out = list(links)
    old = out[seq]
    out[seq] = (old[0], prev, link_hash(prev, old[3]), old[3])
    return out


def test_a_broken_link_is_named_at_its_seq_with_both_hashes() -> None:
    """Link 2 re-hashed onto another parent: its prev_hash is wrong, and link 3, which still
    names link 2's old hash, is broken too."""
    intact = build(4)
    links = relinked(intact, 2, OTHER_HASH)
    problems = audit(links, head_seq=3, head_hash=links[3][2])
    assert [p.seq for p in problems] == [2, 3]
    named = [(OTHER_HASH, intact[1][2]), (intact[2][2], links[2][2])]
    for problem, (found, expected) in zip(problems, named, strict=True):
        assert f"prev_hash {found[:12]}…" in problem.problem
        assert f"{expected[:12]}…" in problem.problem
        assert problem.problem.index(found[:12]) < problem.problem.index(expected[:12])


def test_a_first_link_that_does_not_start_from_genesis_is_named_at_seq_0() -> None:
    links = relinked(build(1), 0, OTHER_HASH)
    problems = audit(links)
    assert [p.seq for p in problems] == [0]
    assert f"{GENESIS_HASH[:12]}…" in problems[0].problem


def test_a_stored_hash_that_does_not_match_is_named_with_both_hashes() -> None:
    links = build(3)
    seq, prev, stored, content = links[1]
    edited = {**content, "data": {"n": 99}}
    links[1] = (seq, prev, stored, edited)
    problems = audit(links)
    assert [p.seq for p in problems] == [1]
    recomputed = link_hash(prev, edited)
    assert f"{stored[:12]}…" in problems[0].problem
    assert f"{recomputed[:12]}…" in problems[0].problem
    assert problems[0].problem.index(stored[:12]) < problems[0].problem.index(recomputed[:12])


def test_a_link_both_misparented_and_misdigested_gets_two_problems_in_order() -> None:
    links = build(3)
    seq, _, stored, content = links[1]
    links[1] = (seq, OTHER_HASH, stored, content)
    problems = audit(links)
    assert [p.seq for p in problems] == [1, 1]
    assert OTHER_HASH[:12] in problems[0].problem  # the link first
    assert link_hash(OTHER_HASH, content)[:12] in problems[1].problem  # then the digest


@pytest.mark.parametrize(("head_seq", "named_seq"), [(5, 3), (1, 1), (0, 0)])
def test_a_head_seq_that_disagrees_is_named_at_the_first_seq_in_doubt(
    head_seq: int, named_seq: int
) -> None:
    """A head past the chain's end names the first missing seq; a head before it names the
    head's own seq, where the chain and the batch part ways."""
    links = build(3)
    problems = audit(links, head_seq=head_seq)
    assert [p.seq for p in problems] == [named_seq]
    assert f"batch head is seq {head_seq}" in problems[0].problem
    assert "chain ends at seq 2" in problems[0].problem


def test_a_head_hash_that_disagrees_is_named_at_the_last_seq() -> None:
    links = build(3)
    problems = audit(links, head_seq=2, head_hash=OTHER_HASH)
    assert [p.seq for p in problems] == [2]
    assert "hash" in problems[0].problem
    assert "seq" not in problems[0].problem


def test_a_head_is_checked_against_the_stored_hash_of_the_last_link() -> None:
    links = build(3)
    seq, prev, stored, content = links[2]
    links[2] = (seq, prev, stored, {**content, "edited": True})
    problems = audit(links, head_seq=2, head_hash=stored)
    assert [p.seq for p in problems] == [2]  # the digest only; the head names the stored hash


@pytest.mark.parametrize("prev", ["", "0" * 62, "0" * 63, "0" * 65, "0" * 66])
def test_link_hash_refuses_a_prev_hash_that_is_not_64_characters(prev: str) -> None:
    with pytest.raises(ValueError, match=f"got {len(prev)}"):
        link_hash(prev, {})


def test_link_hash_is_sha256_of_the_prev_bytes_and_the_canonical_body() -> None:
    digest = link_hash(OTHER_HASH, {"b": 1, "a": "x"})
    assert digest == hashlib.sha256(bytes.fromhex(OTHER_HASH) + b'{"a":"x","b":1}').hexdigest()
