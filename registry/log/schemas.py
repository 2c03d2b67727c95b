"""Response bodies of the log's endpoints (hashes are lowercase hex, RFC 6962 order)."""

from __future__ import annotations

from pydantic import BaseModel


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class LogEntry(BaseModel):
    leaf_index: int
    # The leaf's data: the event's 32-byte chain hash.
    data: str
    # The event it records; shown to regulators and admins only.
    batch_id: str | None = None
    seq: int | None = None


class LogEntries(BaseModel):
    start: int
    end: int
    tree_size: int
    entries: list[LogEntry]


class HeadProof(BaseModel):
    """A batch head event's place in the log, checkable offline: verify `checkpoint` with
    the log key, then `proof` from SHA-256(0x00 || head hash) at `leaf_index` up to the
    checkpoint's root for `tree_size`. `proof` is null while the head is newer than the
    latest checkpoint."""

    leaf_index: int | None
    tree_size: int | None
    proof: list[str] | None
    checkpoint: str | None
