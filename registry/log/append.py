"""Putting committed events into the log: queue in the event's transaction and integrate
in it too, just before it commits (SQLite: always, one writer holds the database anyway;
PostgreSQL: when no one else holds the log's lock), else right after it commits (the
sequencer), and periodically, for anything a crash left queued."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine, bindparam, insert, inspect, text, tuple_
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import Pool
from sqlmodel import Session, col, select

from registry.batches.models import Event
from registry.core.config import get_settings
from registry.core.db import after_commit, runs_after_commit, unit_of_work
from registry.log.models import LogLeaf, LogPending
from registry.log.store import LOCK_HELD_SECONDS, Fresh, integrate

if TYPE_CHECKING:
    from registry.core.metrics import Sample

log = logging.getLogger(__name__)
_PENDING = LogPending.__table__  # type: ignore[attr-defined]
_INTEGRATE_REGISTERED = "log_integrate_registered"
_QUEUED = "log_queued_events"  # event id -> Event, flushed and queued
_UNFLUSHED = "log_unflushed_events"  # queued before their INSERT was flushed
_FRESH = "log_fresh_events"  # SQLite: event id -> Event, flushed, placed before the commit
LEAF_INDEXES = "log_leaf_indexes"  # session.info: (batch_id, seq) -> leaf index, after commit
INTEGRATE_LIMIT = 5000  # leaves per sequencer transaction
WAIT_SECONDS = 30.0

EventKey = tuple[str, int]  # (batch_id, seq)


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
        # Imported here: the metrics module brings FastAPI, which the CLI need not load.
        from registry.core.metrics import Sample

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


def _integrate_round(
    engine: Engine, wanted: dict[int, EventKey]
) -> tuple[int, dict[int, int | None]]:
    """One sequencer transaction: integrate what is queued (everyone's); returns how many
    leaves it added and where each wanted event is: its leaf index, None if it is neither
    queued nor in the log, or left out while it is still queued behind INTEGRATE_LIMIT
    others."""
    with unit_of_work(engine, write=True) as session:
        placed = integrate(session, limit=INTEGRATE_LIMIT, commit=True)
        found: dict[int, int | None] = {
            leaf.event_id: leaf.leaf_index for leaf in placed if leaf.event_id in wanted
        }
        elsewhere = {event_id: key for event_id, key in wanted.items() if event_id not in found}
        if elsewhere:  # integrated meanwhile by another process or by the publisher
            indexes = leaf_indexes(session, elsewhere.values())
            drained = len(placed) < INTEGRATE_LIMIT
            for event_id, key in elsewhere.items():
                if key in indexes or drained:
                    found[event_id] = indexes.get(key)
    if placed:
        STATS.record(len(placed), _lock_held(session))
    return len(placed), found


def _lock_held(session: Session) -> float:
    held: float | None = session.info.get(LOCK_HELD_SECONDS)
    return time.perf_counter() - session.info["log_locked_at"] if held is None else held


class Sequencer:
    """Group commit into the log for one database, within this process.

    A request whose events have committed waits here for their leaf indexes. One waiting
    thread at a time (the leader) runs sequencer transactions, each integrating everything
    queued by every writer, until its own events are placed; the others sleep until they
    are served or the leader hands over. So concurrent writers share sequencer
    transactions without polling, and the log's lock is held once per round, not once per
    writer. Other processes' sequencers queue on the same row lock (registry/log/store.py).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._wanted: dict[int, EventKey] = {}  # event id -> key, not placed yet
        self._placed: dict[int, int | None] = {}  # placed, not yet taken by its waiter
        self._leading = False

    def place(
        self, engine: Engine, events: dict[int, EventKey], *, timeout: float = WAIT_SECONDS
    ) -> dict[int, int | None]:
        """The leaf index of each of the given committed events (None: not in the log; an
        event missing from the answer: not placed within `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._wanted.update(events)
            while not self._served(events):
                if not self._leading:
                    self._leading = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._take(events)
                self._cond.wait(left)
            else:
                return self._take(events)
        try:
            self._lead(engine, events, deadline)
        finally:  # hand over, and forget our events even if a round failed
            with self._cond:
                self._leading = False
                self._cond.notify_all()
                taken = self._take(events)
        return taken

    def _lead(self, engine: Engine, events: dict[int, EventKey], deadline: float) -> None:
        while True:
            with self._cond:
                if self._served(events) or time.monotonic() > deadline:
                    return
                wanted = dict(self._wanted)
            _, found = _integrate_round(engine, wanted)
            with self._cond:
                for event_id, index in found.items():
                    if self._wanted.pop(event_id, None) is not None:
                        self._placed[event_id] = index
                self._cond.notify_all()

    def _served(self, events: dict[int, EventKey]) -> bool:
        return all(event_id in self._placed for event_id in events)

    def _take(self, events: dict[int, EventKey]) -> dict[int, int | None]:
        for event_id in events:
            self._wanted.pop(event_id, None)
        return {e: self._placed.pop(e) for e in events if e in self._placed}


_SEQUENCERS: weakref.WeakKeyDictionary[Pool, Sequencer] = weakref.WeakKeyDictionary()
_SEQUENCERS_LOCK = threading.Lock()


def sequencer_for(engine: Engine) -> Sequencer:
    """This process's sequencer for the engine's database (engines made with other
    execution options share their pool, and so their sequencer)."""
    with _SEQUENCERS_LOCK:
        sequencer = _SEQUENCERS.get(engine.pool)
        if sequencer is None:
            sequencer = _SEQUENCERS[engine.pool] = Sequencer()
        return sequencer


def integrate_all(engine: Engine) -> int:
    """Integrate everything queued, in write transactions of its own; returns the count."""
    total = 0
    while True:
        added, _ = _integrate_round(engine, {})
        total += added
        if added < INTEGRATE_LIMIT:
            return total


def log_enabled() -> bool:
    return get_settings().log_enabled


def queue_for_log(session: Session, *, event: Event, queued: bool = False) -> None:
    """Queue the event for the log, in its own transaction: its queue row is written by
    the flush that inserts it (`queued=True`: the caller's statement that inserted it wrote
    it too). Once the transaction commits, the event is integrated and its leaf index is in
    `session.info[LEAF_INDEXES]`."""
    if not log_enabled():
        return
    if queued:
        assert event.id is not None
        session.info.setdefault(_QUEUED, {})[event.id] = event
    else:
        session.info.setdefault(_UNFLUSHED, []).append(event)
    if session.info.get(_INTEGRATE_REGISTERED):
        return
    bind = session.get_bind()
    if not isinstance(bind, Engine) or not runs_after_commit(session):
        return  # a caller's connection or commit: the periodic publication integrates it
    session.info[_INTEGRATE_REGISTERED] = True
    if bind.dialect.name == "sqlite":
        # One writer at a time holds the whole database: integrate in the event's own
        # transaction (`_integrate_before_commit`), with no second write transaction.
        return
    # PostgreSQL: integrated in the event's own transaction too if no one holds the log's
    # lock at that moment (`_integrate_before_commit`); otherwise the commit need not wait
    # for its WAL flush (`log_integrate` turns synchronous_commit off): the answer waits for
    # the sequencer's synchronous commit, whose flush covers this commit record too (it
    # comes later in the WAL), so concurrent writers share one flush per round.

    def run() -> None:
        session.info.pop(_INTEGRATE_REGISTERED, None)
        events: dict[int, Event] = session.info.pop(_QUEUED, {})
        indexes: dict[EventKey, int] = session.info.get(LEAF_INDEXES, {})
        queued = {
            event_id: (e.batch_id, e.seq)
            for event_id, e in events.items()
            if (e.batch_id, e.seq) not in indexes
        }
        if not queued:  # all placed before the (durable) commit
            return
        placed: dict[int, int | None] = {}
        try:
            placed = sequencer_for(bind).place(bind, queued)
        except Exception:
            # The events are committed and queued: the next integration takes them.
            log.exception("could not integrate queued events into the log")
        found = {queued[e]: index for e, index in placed.items() if index is not None}
        session.info[LEAF_INDEXES] = {**indexes, **found}
        if len(found) < len(queued):  # no sequencer commit covered them all
            wait_until_durable(bind)

    after_commit(session, run)


def _queue_flushed(session: OrmSession, _: object) -> None:
    """Write the queue rows of the events this flush inserted (one statement)."""
    waiting: list[Event] | None = session.info.get(_UNFLUSHED)
    if not waiting:
        return
    flushed = [e for e in waiting if e.id is not None and e in session]
    session.info[_UNFLUSHED] = [e for e in waiting if e.id is None and e in session]
    if not flushed:
        return
    if session.info.get(_INTEGRATE_REGISTERED) and session.get_bind().dialect.name == "sqlite":
        # Placed by `_integrate_before_commit` in this transaction: no queue row needed.
        session.info.setdefault(_FRESH, {}).update((e.id, e) for e in flushed)
        return
    session.connection().execute(insert(_PENDING), [{"event_id": e.id} for e in flushed])
    queued = session.info.setdefault(_QUEUED, {})
    queued.update((e.id, e) for e in flushed)


def _integrate_before_commit(session: OrmSession) -> None:
    """Put the transaction's queued events into the log before it commits, so the event
    and its leaf are one commit (and the leaf indexes are known when it returns).

    SQLite: always (the writer holds the whole database anyway). PostgreSQL: if no other
    transaction holds the log's lock at that moment; the events it could not place are
    left queued for the sequencer, once the transaction has committed (`queue_for_log`)."""
    if not isinstance(session, Session) or not session.info.get(_INTEGRATE_REGISTERED):
        return
    if session.get_bind().dialect.name != "sqlite":
        if not session.in_nested_transaction():  # a savepoint's release: not yet
            _try_integrate_before_commit(session)
        return
    del session.info[_INTEGRATE_REGISTERED]
    session.flush()
    # (not those a rolled-back savepoint took back: they left the session)
    fresh = {i: e for i, e in session.info.pop(_FRESH, {}).items() if e in session}
    queued: dict[int, Event] = {**session.info.pop(_QUEUED, {}), **fresh}
    rows = [Fresh(i, e.batch_id, e.seq, e.hash) for i, e in sorted(fresh.items())]
    indexes: dict[EventKey, int] = {}
    leaves = 0
    while True:  # a backlog (a crash's) goes first, in event-id order
        placed = integrate(session, limit=INTEGRATE_LIMIT, fresh=rows)
        leaves += len(placed)
        indexes.update(
            ((leaf.batch_id, leaf.seq), leaf.leaf_index)
            for leaf in placed
            if leaf.event_id in queued
        )
        if len(placed) < INTEGRATE_LIMIT or (rows and placed[-1].event_id == rows[-1].event_id):
            break  # the queue is drained, and this transaction's events placed
    session.info[LEAF_INDEXES] = indexes
    if leaves:
        locked_at = session.info["log_locked_at"]
        after_commit(session, lambda: STATS.record(leaves, time.perf_counter() - locked_at))


def _try_integrate_before_commit(session: Session) -> None:
    session.flush()
    queued: dict[int, Event] = session.info.get(_QUEUED, {})
    if not queued:
        return
    # The transaction commits in the same round trip: nothing is written after this.
    placed = integrate(session, limit=INTEGRATE_LIMIT, wait=False, commit=True)
    if not placed:
        return  # the lock was taken: the sequencer, after the commit
    session.info[LEAF_INDEXES] = {
        (leaf.batch_id, leaf.seq): leaf.leaf_index for leaf in placed if leaf.event_id in queued
    }
    STATS.record(len(placed), _lock_held(session))


def _forget_rolled_back(session: OrmSession, _: object) -> None:
    """A rolled-back savepoint took its events (and their queue rows) with it."""
    for name in (_UNFLUSHED, _QUEUED):
        held = session.info.get(name)
        if held is None:
            continue
        if isinstance(held, dict):
            session.info[name] = {i: e for i, e in held.items() if inspect(e).persistent}
        else:
            session.info[name] = [e for e in held if e in session]


if not sa_event.contains(OrmSession, "after_flush", _queue_flushed):
    sa_event.listen(OrmSession, "after_flush", _queue_flushed)
    sa_event.listen(OrmSession, "after_soft_rollback", _forget_rolled_back)
    sa_event.listen(OrmSession, "before_commit", _integrate_before_commit)


def wait_until_durable(engine: Engine, *, timeout: float = WAIT_SECONDS) -> None:
    """Return once PostgreSQL has flushed every commit made so far (those made with
    synchronous_commit off are flushed by its WAL writer within a fraction of a second)."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            target = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
            flushed = text("SELECT pg_current_wal_flush_lsn() >= CAST(:lsn AS pg_lsn)")
            while not conn.execute(flushed, {"lsn": target}).scalar_one():
                if time.monotonic() > deadline:
                    log.error("WAL not flushed within %.0f s of an append", timeout)
                    return
                time.sleep(0.01)
    except Exception:
        log.exception("could not learn whether appended events are durable")


# Built once, with bound parameters: built per call, each cost SQLAlchemy a new cache key
# (a sequencer round that finds events placed meanwhile reads their leaves).
_LEAVES_OF_EVENTS = select(LogLeaf.batch_id, LogLeaf.seq, LogLeaf.leaf_index).where(
    tuple_(col(LogLeaf.batch_id), col(LogLeaf.seq)).in_(bindparam("keys", expanding=True))
)
_LEAVES_OF_BATCH = select(LogLeaf.seq, LogLeaf.leaf_index).where(
    LogLeaf.batch_id == bindparam("batch_id")
)


def leaf_indexes(session: Session, keys: Iterable[EventKey]) -> dict[EventKey, int]:
    """Leaf index per (batch_id, seq) for the given events that are in the log."""
    wanted = list(set(keys))
    out: dict[EventKey, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for batch_id, seq, index in session.exec(_LEAVES_OF_EVENTS, params={"keys": chunk}):
            out[(batch_id, seq)] = index
    return out


def batch_leaf_indexes(session: Session, batch_id: str) -> dict[int, int]:
    """Leaf index per seq of one batch's events that are in the log."""
    return dict(session.exec(_LEAVES_OF_BATCH, params={"batch_id": batch_id}).all())
