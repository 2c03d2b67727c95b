"""The per-batch hash chain rule of DESIGN.md, as pure functions.

    hash = SHA-256( prev_hash_bytes || JCS(body) )

`body` holds the stored content of the event: batch_id, seq, type, event_time (UTC),
event_time_offset, recorded_at (UTC), actor_org_id, location (or null) and data. The
previous hash is bound through the prefix, so it is not repeated inside the body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.core.canonical import canonical_json
from registry.core.time import rfc3339_utc

GENESIS_HASH = "0" * 64


def event_body(
    *,
    batch_id: str,
    seq: int,
    type: str,
    event_time: datetime,
    event_time_offset: str,
    recorded_at: datetime,
    actor_org_id: str,
    location: dict[str, Any] | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The JSON object that is canonicalized and hashed for one event."""
    return {
        "batch_id": batch_id,
        "seq": seq,
        "type": type,
        "event_time": rfc3339_utc(event_time),
        "event_time_offset": event_time_offset,
        "recorded_at": rfc3339_utc(recorded_at),
        "actor_org_id": actor_org_id,
        "location": location,
        "data": data,
    }


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """SHA-256 over the previous hash's 32 bytes followed by JCS(body), as 64 lowercase hex."""
    if len(prev_hash) != 64:
        raise ValueError(f"prev_hash must be 64 hex characters, got {len(prev_hash)}")
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def find_chain_problems(
    links: list[tuple[int, str, str, dict[str, Any]]], *, head_seq: int, head_hash: str
) -> list[ChainProblem]:
    """Check a chain given as (seq, prev_hash, hash, body) in stored order.

    Finds missing or reordered seqs, a prev_hash that does not name the previous hash, a
    stored hash that does not match the recomputed one, and a batch head that does not
    match the last link. Returns the problems in chain order; empty means intact.
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    for expected_seq, (seq, prev_hash, stored_hash, body) in enumerate(links):
        if seq != expected_seq:
            problems.append(ChainProblem(expected_seq, f"expected seq {expected_seq}, found {seq}"))
            return problems
        if prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    seq, f"prev_hash {prev_hash[:12]}… does not match {expected_prev[:12]}…"
                )
            )
        recomputed = link_hash(prev_hash, body)
        if recomputed != stored_hash:
            problems.append(
                ChainProblem(
                    seq, f"hash {stored_hash[:12]}… does not match recomputed {recomputed[:12]}…"
                )
            )
        expected_prev = stored_hash
    if not links:
        problems.append(ChainProblem(0, "the chain has no events"))
    elif links[-1][0] != head_seq or expected_prev != head_hash:
        problems.append(
            ChainProblem(
                min(head_seq, links[-1][0] + 1),
                f"batch head is seq {head_seq}, chain ends at seq {links[-1][0]}"
                if links[-1][0] != head_seq
                else "batch head hash does not match the last event",
            )
        )
    return problems
