"""Signed checkpoints: published for the integrated tree only when it is consistent with
the previous checkpoint and with its own stored root."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.log import merkle, note
from registry.log.exceptions import LogInconsistent, NoCheckpoint
from registry.log.keys import ensure_log_key, signer_of
from registry.log.models import LogCheckpoint
from registry.log.store import hashes_of_ranges, locked_state, root_at


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.exec(
        select(LogCheckpoint).order_by(col(LogCheckpoint.id).desc()).limit(1)
    ).first()


def require_checkpoint(session: Session) -> LogCheckpoint:
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise NoCheckpoint("the log has published no checkpoint yet")
    return checkpoint


def check_consistent(
    session: Session, *, first: int, first_root: bytes, size: int, root: bytes
) -> None:
    """Raise LogInconsistent unless the stored tree of `size` extends the tree (first, root)."""
    if size < first:
        raise LogInconsistent(f"the log shrank from {first} to {size} leaves")
    if first == 0:
        return
    proof = hashes_of_ranges(session, merkle.consistency_ranges(first, size))
    try:
        merkle.verify_consistency(first, size, first_root, root, proof)
    except merkle.ProofError as exc:
        raise LogInconsistent(
            f"tree of {size} leaves does not extend checkpoint {first}: {exc}"
        ) from exc


def publish_checkpoint(session: Session, *, name: str, passphrase: str) -> LogCheckpoint | None:
    """Sign and store a checkpoint of the integrated tree; None if nothing changed.

    Refuses (LogInconsistent) if the stored root does not match the stored subtrees or the
    tree does not extend the previous checkpoint: a checkpoint is never signed for a
    rewritten history by this code path."""
    state = locked_state(session)  # one publisher at a time
    size, stored_root = state.size, bytes(state.root)
    root = root_at(session, size)
    if root != stored_root:
        raise LogInconsistent(
            f"stored root {stored_root.hex()} does not match the subtrees' {root.hex()}"
        )
    previous = latest_checkpoint(session)
    if previous is not None:
        if previous.size == size and bytes(previous.root) == root:
            return None
        check_consistent(
            session, first=previous.size, first_root=bytes(previous.root), size=size, root=root
        )
    key = ensure_log_key(session, name=name, passphrase=passphrase)
    body = note.Checkpoint(origin=key.name, size=size, root=root).text()
    checkpoint = LogCheckpoint(
        size=size, root=root, note=note.sign(body, signer_of(key, passphrase))
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint
