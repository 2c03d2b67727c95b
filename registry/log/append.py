"""Putting committed events into the log: queue in the event's transaction, integrate
right after it commits (and periodically, for anything a crash left queued)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from registry.core.config import get_settings
from registry.core.db import after_commit, unit_of_work
from registry.log.models import LogLeaf
from registry.log.store import integrate, queue_event

log = logging.getLogger(__name__)
_INTEGRATE_REGISTERED = "log_integrate_registered"


def integrate_all(engine: Engine) -> int:
    """Integrate everything queued, in write transactions of its own; returns the count."""
    total = 0
    while True:
        with unit_of_work(engine, write=True) as session:
            added = integrate(session)
        total += added
        if added == 0:
            return total


def queue_for_log(session: Session, *, event_id: int) -> None:
    """Queue the event for the log and integrate it once this transaction commits."""
    if not get_settings().log_enabled:
        return
    queue_event(session, event_id=event_id)
    if session.info.get(_INTEGRATE_REGISTERED):
        return
    session.info[_INTEGRATE_REGISTERED] = True
    bind = session.get_bind()
    assert isinstance(bind, Engine)

    def run() -> None:
        session.info.pop(_INTEGRATE_REGISTERED, None)
        try:
            integrate_all(bind)
        except Exception:
            # The events are committed and queued: the next integration takes them.
            log.exception("could not integrate queued events into the log")

    after_commit(session, run)


def leaf_indexes(session: Session, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Leaf index per (batch_id, seq) for the given events that are in the log."""
    wanted = list(set(keys))
    out: dict[tuple[str, int], int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for batch_id, seq, index in session.exec(
            select(LogLeaf.batch_id, LogLeaf.seq, LogLeaf.leaf_index).where(
                tuple_(col(LogLeaf.batch_id), col(LogLeaf.seq)).in_(chunk)
            )
        ):
            out[(batch_id, seq)] = index
    return out


def batch_leaf_indexes(session: Session, batch_id: str) -> dict[int, int]:
    """Leaf index per seq of one batch's events that are in the log."""
    return dict(
        session.exec(
            select(LogLeaf.seq, LogLeaf.leaf_index).where(LogLeaf.batch_id == batch_id)
        ).all()
    )
