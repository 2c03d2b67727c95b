"""Proofs and entries served from the stored tree, each in O(log n) node reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.log import merkle
from registry.log.append import leaf_indexes
from registry.log.checkpoints import latest_checkpoint
from registry.log.exceptions import LogRangeInvalid, TreeSizeUnavailable
from registry.log.models import LogLeaf
from registry.log.schemas import ConsistencyProof, HeadProof, InclusionProof, LogEntries, LogEntry
from registry.log.store import current_state, hashes_of_ranges, read_nodes

MAX_ENTRIES = 1000


def _size_known(session: Session, size: int, what: str) -> None:
    available, _ = current_state(session)
    if size > available:
        raise TreeSizeUnavailable(f"{what} {size} is beyond the log's {available} leaves")


def inclusion_proof(session: Session, *, leaf_index: int, tree_size: int) -> InclusionProof:
    if not 0 <= leaf_index < tree_size:
        raise LogRangeInvalid(
            f"leaf_index must be below tree_size (got leaf_index={leaf_index}, "
            f"tree_size={tree_size})"
        )
    _size_known(session, tree_size, "tree_size")
    ranges = merkle.inclusion_ranges(leaf_index, tree_size)
    hashes = hashes_of_ranges(session, [*ranges, (0, tree_size), (leaf_index, leaf_index + 1)])
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=hashes[-1].hex(),
        root=hashes[-2].hex(),
        proof=[h.hex() for h in hashes[:-2]],
    )


def consistency_proof(session: Session, *, first: int, second: int) -> ConsistencyProof:
    if not 0 < first <= second:
        raise LogRangeInvalid(
            f"a consistency proof needs 0 < first <= second (got first={first}, second={second})"
        )
    _size_known(session, second, "second")
    ranges = merkle.consistency_ranges(first, second) if first < second else []
    hashes = hashes_of_ranges(session, [*ranges, (0, first), (0, second)])
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=hashes[-2].hex(),
        second_root=hashes[-1].hex(),
        proof=[h.hex() for h in hashes[:-2]],
    )


def entries(session: Session, *, start: int, end: int, name_events: bool = False) -> LogEntries:
    """Leaves [start, end), at most MAX_ENTRIES of them (fewer if end is past the log);
    with `name_events`, each names its event (batch_id, seq)."""
    if end <= start:
        raise LogRangeInvalid(f"end must be greater than start (got start={start}, end={end})")
    size, _ = current_state(session)
    if start >= size:
        raise TreeSizeUnavailable(f"start {start} is beyond the log's {size} leaves")
    end = min(end, size, start + MAX_ENTRIES)
    rows = session.exec(
        select(LogLeaf.leaf_index, LogLeaf.data, LogLeaf.batch_id, LogLeaf.seq)
        .where(col(LogLeaf.leaf_index) >= start, col(LogLeaf.leaf_index) < end)
        .order_by(col(LogLeaf.leaf_index))
    ).all()
    return LogEntries(
        start=start,
        end=end,
        tree_size=size,
        entries=[
            LogEntry(leaf_index=i, data=bytes(d).hex())
            if not name_events
            else LogEntry(leaf_index=i, data=bytes(d).hex(), batch_id=b, seq=q)
            for i, d, b, q in rows
        ],
    )


def head_proof(session: Session, *, leaf_index: int | None) -> HeadProof:
    """The batch head's leaf index, its inclusion proof against the latest checkpoint and
    that checkpoint (for the audit answer, the JSON verdict and the consumer page)."""
    checkpoint = latest_checkpoint(session)
    if leaf_index is None or checkpoint is None or leaf_index >= checkpoint.size:
        return HeadProof(
            leaf_index=leaf_index,
            tree_size=None if checkpoint is None else checkpoint.size,
            proof=None,
            checkpoint=None if checkpoint is None else checkpoint.note,
        )
    ranges = merkle.inclusion_ranges(leaf_index, checkpoint.size)
    return HeadProof(
        leaf_index=leaf_index,
        tree_size=checkpoint.size,
        proof=[h.hex() for h in hashes_of_ranges(session, ranges)],
        checkpoint=checkpoint.note,
    )


def batch_head_proof(session: Session, *, batch_id: str, head_seq: int) -> HeadProof:
    """`head_proof` for a batch's head event, looked up by (batch_id, head_seq)."""
    index = session.exec(
        select(LogLeaf.leaf_index).where(LogLeaf.batch_id == batch_id, LogLeaf.seq == head_seq)
    ).first()
    return head_proof(session, leaf_index=index)


def batch_head_proofs(session: Session, heads: Sequence[tuple[str, int]]) -> dict[str, HeadProof]:
    """`batch_head_proof` of many batches, keyed by batch id, in a fixed number of queries
    (the verification loader asks for every batch of some lots at once)."""
    if not heads:
        return {}
    # Each head's own leaf, by (batch_id, seq) on the unique index: by batch id alone this
    # read every leaf of the batches, and PostgreSQL without statistics planned a list of
    # a few dozen ids as a walk of the whole log.
    indexes = {batch_id: index for (batch_id, _), index in leaf_indexes(session, heads).items()}
    checkpoint = latest_checkpoint(session)
    size = None if checkpoint is None else checkpoint.size
    note = None if checkpoint is None else checkpoint.note
    ranges = {
        batch_id: merkle.inclusion_ranges(index, size)
        for batch_id, index in indexes.items()
        if size is not None and index < size
    }
    nodes = read_nodes(session, set().union(*(merkle.needed_nodes(r) for r in ranges.values())))
    proofs: dict[str, HeadProof] = {}
    for batch_id, _ in heads:
        leaf = indexes.get(batch_id)
        proof: list[str] | None = None
        if batch_id in ranges:
            hashes = merkle.hash_ranges(ranges[batch_id], lambda level, i: nodes[(level, i)])
            proof = [h.hex() for h in hashes]
        proofs[batch_id] = HeadProof(leaf_index=leaf, tree_size=size, proof=proof, checkpoint=note)
    return proofs
