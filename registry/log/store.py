"""Reading and growing the stored tree: leaves, complete subtree hashes and the log state.

`integrate` is the only writer. An event's transaction queues the event
(`append.queue_for_log`); `integrate` then, under the log_state row lock (SQLite: the write
lock), gives the queued events it can see the next leaf indexes in event-id order, writes
the leaves and the subtree hashes they complete, and moves the size and root. It runs in
the event's own transaction when the lock is free (SQLite: always; PostgreSQL: `SKIP
LOCKED`, in the database, committing in the same round trip), otherwise in the
sequencer's transaction after the event's commit, so writers of different batches never
wait for each other's locks. A rolled-back event never reached the queue, so leaf indexes
have no gaps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Table, delete, insert, text, tuple_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.batches.models import Event
from registry.core.time import utcnow
from registry.log import merkle
from registry.log.models import LogLeaf, LogNode, LogPending, LogState

LOCK_HELD_SECONDS = "log_lock_held_seconds"  # session.info, after `integrate(commit=True)`
_STATE: Table = LogState.__table__  # type: ignore[attr-defined]
_PENDING: Table = LogPending.__table__  # type: ignore[attr-defined]
_LEAVES: Table = LogLeaf.__table__  # type: ignore[attr-defined]
_NODES: Table = LogNode.__table__  # type: ignore[attr-defined]


def locked_state(session: Session) -> LogState:
    """The log's state row, locked for the sequencer (created if a test emptied it)."""
    query = select(LogState).where(LogState.id == 1).with_for_update()
    state = session.exec(query).first()
    if state is not None:
        return state
    savepoint = session.begin_nested()
    try:
        session.add(LogState(id=1, size=0, root=merkle.EMPTY_ROOT))
        session.flush()
    except IntegrityError:
        savepoint.rollback()
    else:
        savepoint.commit()
    return session.exec(select(LogState).where(LogState.id == 1).with_for_update()).one()


def current_state(session: Session) -> tuple[int, bytes]:
    state = session.get(LogState, 1)
    return (0, merkle.EMPTY_ROOT) if state is None else (state.size, bytes(state.root))


def read_nodes(session: Session, keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """The hashes of the given complete subtrees, in two queries."""
    keys = set(keys)
    out: dict[merkle.NodeKey, bytes] = {}
    leaves = [index for level, index in keys if level == 0]
    inner = [(level, index) for level, index in keys if level > 0]
    if leaves:
        for index, data in session.exec(
            select(LogLeaf.leaf_index, LogLeaf.data).where(col(LogLeaf.leaf_index).in_(leaves))
        ):
            out[(0, index)] = merkle.leaf_hash(bytes(data))
    if inner:
        for level, index, digest in session.exec(
            select(LogNode.level, LogNode.node_index, LogNode.hash).where(
                tuple_(col(LogNode.level), col(LogNode.node_index)).in_(inner)
            )
        ):
            out[(level, index)] = bytes(digest)
    missing = keys - out.keys()
    if missing:
        raise merkle.ProofError(
            "the stored tree lacks subtree hashes",
            expected=f"{len(keys)} nodes",
            actual=f"missing {sorted(missing)[:3]}",
        )
    return out


def hashes_of_ranges(session: Session, ranges: list[tuple[int, int]]) -> list[bytes]:
    nodes = read_nodes(session, merkle.needed_nodes(ranges))
    return merkle.hash_ranges(ranges, lambda level, index: nodes[(level, index)])


def root_at(session: Session, size: int) -> bytes:
    """The root of the first `size` leaves, from O(log size) stored subtrees."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return hashes_of_ranges(session, [(0, size)])[0]


def _edge(size: int) -> list[merkle.NodeKey]:
    """The complete subtrees that make up a tree of `size` leaves, largest first."""
    return merkle.complete_subtrees(0, size) if size else []


# The right edge of the last tree this process grew, by (size, root): the next integration
# starts from it instead of reading O(log n) subtrees. Equal size and root mean the same
# leaves (SHA-256), hence the same edge, whichever database or process grew the tree.
_LAST_EDGE: dict[tuple[int, bytes], list[bytes]] = {}


def _edge_of(session: Session, size: int, root: bytes) -> merkle.CompactRange:
    hashes = _LAST_EDGE.get((size, root))
    if hashes is None:
        keys = _edge(size)
        stored = read_nodes(session, keys)
        hashes = [stored[key] for key in keys]
    return merkle.CompactRange(size, hashes)


class Fresh(NamedTuple):
    """An event to place that is not in the queue: its id, batch, seq and chain hash."""

    event_id: int
    batch_id: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Leaf:
    """A queued event that an integration placed in the log."""

    event_id: int
    batch_id: str
    seq: int
    leaf_index: int


def integrate(
    session: Session,
    *,
    limit: int = 5000,
    wait: bool = True,
    commit: bool = False,
    fresh: Sequence[Fresh] = (),
) -> list[Leaf]:
    """Give queued committed events the next leaf indexes, in event-id order; returns them.

    Call in a write transaction of its own and commit it; concurrent callers queue on the
    log_state row lock, and the first one integrates what every waiting writer queued.
    Core statements, not ORM objects: this runs once per sequencer round.

    On PostgreSQL the database does it (`log_integrate`, migrations 0010 and 0011): one round trip,
    so the lock is held while PostgreSQL works and commits, not across this process's
    turns for the GIL. There, `wait=False` integrates only if no one holds the lock (and
    otherwise returns nothing and lets the transaction commit without waiting for its WAL
    flush: the sequencer's durable commit that integrates its events covers it); that is
    how an append integrates in its own transaction (`append._integrate_before_commit`).
    `commit=True` (PostgreSQL) commits the transaction in the same round trip, so the lock
    is released as soon as PostgreSQL has done; the caller then writes nothing more in it.

    `fresh` (SQLite): events of this very transaction that were never queued, placed after
    the queued ones once fewer than `limit` are left (the caller repeats until then), which
    spares an append the queue row's INSERT and DELETE (two of its statements, each a turn
    for the GIL under a read flood: issue 15)."""
    if session.get_bind().dialect.name == "postgresql":
        return _integrate_in_database(session, limit=limit, wait=wait, commit=commit)
    state = session.execute(
        sa_select(_STATE.c.size, _STATE.c.root).where(_STATE.c.id == 1).with_for_update()
    ).first()
    if state is None:
        locked_state(session)  # creates the row
        return integrate(session, limit=limit, fresh=fresh)
    session.info["log_locked_at"] = time.perf_counter()
    pending, events = _PENDING, Event.__table__  # type: ignore[attr-defined]
    rows: list[Any] = list(
        session.execute(
            sa_select(pending.c.event_id, events.c.batch_id, events.c.seq, events.c.hash)
            .join(events, events.c.id == pending.c.event_id)
            .order_by(pending.c.event_id)
            .limit(limit)
        )
    )
    queued = [row[0] for row in rows]
    if len(rows) < limit:
        rows += fresh
    if not rows:
        return []
    size = int(state.size)
    edge = _edge_of(session, size, bytes(state.root))
    placed: list[Leaf] = []
    leaves: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for offset, (event_id, batch_id, seq, chain_hash) in enumerate(rows):
        data = bytes.fromhex(chain_hash)
        placed.append(Leaf(event_id, batch_id, seq, size + offset))
        leaves.append({"leaf_index": size + offset, "batch_id": batch_id, "seq": seq, "data": data})
        for level, node_index, digest in edge.append_hash(merkle.leaf_hash(data)):
            nodes.append({"level": level, "node_index": node_index, "hash": digest})
    session.execute(insert(_LEAVES), leaves)
    if nodes:
        session.execute(insert(_NODES), nodes)
    if queued:
        session.execute(delete(pending).where(pending.c.event_id.in_(queued)))
    root = edge.root()
    session.execute(
        update(_STATE)
        .where(_STATE.c.id == 1)
        .values(size=edge.size, root=root, updated_at=utcnow())
    )
    # Kept even if this transaction then rolls back: the key would no longer match.
    _LAST_EDGE.clear()
    _LAST_EDGE[(edge.size, root)] = edge.edge
    return placed


def _integrate_in_database(session: Session, *, limit: int, wait: bool, commit: bool) -> list[Leaf]:
    started = session.info["log_locked_at"] = time.perf_counter()
    query = f"SELECT * FROM log_integrate({int(limit)}, {bool(wait)})"
    if not commit:
        return [Leaf(*row) for row in session.execute(text(query))]
    # One message, two statements (the simple query protocol, hence the literals): the
    # function's answer and the COMMIT come back together. The driver then knows that no
    # transaction is open, and SQLAlchemy's own commit sends nothing.
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(query + "; COMMIT")
        placed = [Leaf(*row) for row in cursor.fetchall()]
        # At most this long, from sending the call (a wait for the lock included) until
        # the commit had released it; measured here, before this thread waits for the GIL.
        session.info[LOCK_HELD_SECONDS] = time.perf_counter() - started
        return placed
    finally:
        cursor.close()


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.exec(select(func.count()).select_from(LogPending)).one())
