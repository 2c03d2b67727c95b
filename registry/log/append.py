"""Putting committed events into the log: queue in the event's transaction, integrate
right after it commits (and periodically, for anything a crash left queued)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from registry.core.config import get_settings
from registry.core.db import after_commit, unit_of_work
from registry.core.metrics import Sample
from registry.log.models import LogLeaf, LogPending
from registry.log.store import integrate, queue_event

log = logging.getLogger(__name__)
_INTEGRATE_REGISTERED = "log_integrate_registered"
_QUEUED = "log_queued_event_ids"
INTEGRATE_LIMIT = 5000  # leaves per sequencer transaction


@dataclass
class IntegrationStats:
    """This process's integrations: how long each held the log's one ordering point (the
    log_state row lock, from taking it until the commit returned)."""

    integrations: int = 0
    leaves: int = 0
    lock_seconds: float = 0.0
    lock_seconds_max: float = 0.0
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def record(self, leaves: int, held: float) -> None:
        with self._mutex:
            self.integrations += 1
            self.leaves += leaves
            self.lock_seconds += held
            self.lock_seconds_max = max(self.lock_seconds_max, held)

    def metrics(self) -> list[Sample]:
        return [
            Sample(
                "registry_log_integrations_total",
                "counter",
                "Sequencer transactions that added leaves",
                self.integrations,
            ),
            Sample(
                "registry_log_leaves_total", "counter", "Leaves added by this process", self.leaves
            ),
            Sample(
                "registry_log_lock_seconds_total",
                "counter",
                "Seconds the log's ordering lock was held",
                self.lock_seconds,
            ),
            Sample(
                "registry_log_lock_seconds_max",
                "gauge",
                "Longest single hold of the log's ordering lock",
                self.lock_seconds_max,
            ),
        ]


STATS = IntegrationStats()


def _integrate_once(engine: Engine, *, skip_locked: bool) -> int | None:
    with unit_of_work(engine, write=True) as session:
        added = integrate(session, limit=INTEGRATE_LIMIT, skip_locked=skip_locked)
    if added:
        STATS.record(added, time.perf_counter() - session.info["log_locked_at"])
    return added


def integrate_all(engine: Engine) -> int:
    """Integrate everything queued, in write transactions of its own; returns the count."""
    total = 0
    while True:
        added = _integrate_once(engine, skip_locked=False) or 0
        total += added
        if added < INTEGRATE_LIMIT:  # the queue was drained: no second transaction
            return total


def integrate_events(engine: Engine, event_ids: list[int], *, timeout: float = 30.0) -> None:
    """Return once the given committed events are in the log. If another request is
    integrating, do not queue behind it: poll until it (or we, once the lock is free) has
    taken them, so concurrent writers share one sequencer transaction."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        added = _integrate_once(engine, skip_locked=True)
        if added is not None and added < INTEGRATE_LIMIT:
            return  # we held the lock and drained the queue, ours included
        if added is None:
            with Session(engine) as reader:
                waiting = reader.exec(
                    select(LogPending.event_id).where(col(LogPending.event_id).in_(event_ids))
                ).first()
            if waiting is None or time.monotonic() > deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def queue_for_log(session: Session, *, event_id: int) -> None:
    """Queue the event for the log and integrate it once this transaction commits."""
    if not get_settings().log_enabled:
        return
    queue_event(session, event_id=event_id)
    session.info.setdefault(_QUEUED, []).append(event_id)
    if session.info.get(_INTEGRATE_REGISTERED):
        return
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return  # bound to a caller's connection: the periodic publication integrates it
    session.info[_INTEGRATE_REGISTERED] = True

    def run() -> None:
        session.info.pop(_INTEGRATE_REGISTERED, None)
        try:
            integrate_events(bind, session.info.pop(_QUEUED, []))
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
