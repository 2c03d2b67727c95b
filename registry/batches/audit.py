"""Chain audits: recompute every hash from the stored fields and compare; check the batch
row against event 0 (the row is only an index of chained facts) and, with the log, every
event's hash against its leaf and the batch head against the log's last leaf of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, and_, cast, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.batches.chain import ChainProblem, find_chain_problems
from registry.batches.models import Batch, Event
from registry.batches.schemas import AuditReport, ChainProblemPublic, EventFields, hashed_body
from registry.brands.models import Brand
from registry.log.models import LogLeaf, LogPending
from registry.log.proofs import batch_head_proof

# Batch columns that event 0 (`created`) carries; the row must say what the chain says.
_ROW_FIELDS = ("lot", "product", "variety", "gtin")


def row_problems(
    batch: Batch, event0: EventFields | None, brand_slug: str | None
) -> list[ChainProblem]:
    """Where the batch row differs from the facts chained in event 0."""
    if event0 is None or event0.seq != 0 or event0.type != "created":
        return []  # the chain check already reports a missing or wrong event 0
    data = event0.data
    problems = [
        ChainProblem(
            0,
            f"batch row {name} {getattr(batch, name)!r} differs from event 0's {data.get(name)!r}",
        )
        for name in _ROW_FIELDS
        if getattr(batch, name) != data.get(name)
    ]
    if brand_slug is not None and brand_slug != data.get("brand"):
        problems.append(
            ChainProblem(
                0, f"batch row brand {brand_slug!r} differs from event 0's {data.get('brand')!r}"
            )
        )
    if batch.cooperative_org_id != event0.actor_org_id:
        problems.append(ChainProblem(0, "batch row cooperative differs from the author of event 0"))
    return problems


def log_problems(
    batch: Batch,
    hashes: dict[int, str],
    leaves: dict[int, bytes],
    pending: set[int],
) -> list[ChainProblem]:
    """Each event's hash against its leaf; the head against the batch's last leaf.

    `hashes` and `leaves` map seq to the event's hash / the leaf's data; `pending` holds
    the seqs still queued for the log (committed, not integrated yet)."""
    problems: list[ChainProblem] = []
    for seq, digest in hashes.items():
        leaf = leaves.get(seq)
        if leaf is None:
            if seq not in pending:
                problems.append(ChainProblem(seq, "event is not in the transparency log"))
        elif leaf.hex() != digest:
            problems.append(
                ChainProblem(
                    seq, f"hash {digest[:12]}… differs from its log leaf {leaf.hex()[:12]}…"
                )
            )
    beyond = sorted(s for s in leaves if s not in hashes)
    if beyond:
        problems.append(
            ChainProblem(
                beyond[0],
                f"the log holds seq {beyond[0]} of this batch, which the "
                f"chain lacks (head is seq {batch.head_seq})",
            )
        )
    return problems


def _report(
    batch: Batch,
    events: Sequence[EventFields],
    *,
    brand_slug: str | None = None,
    log: tuple[dict[int, bytes], set[int]] | None = None,
) -> AuditReport:
    links = [(e.seq, e.prev_hash, e.hash, hashed_body(e)) for e in events]
    problems = find_chain_problems(links, head_seq=batch.head_seq, head_hash=batch.head_hash)
    problems += row_problems(batch, events[0] if events else None, brand_slug)
    if log is not None:
        problems += log_problems(batch, {e.seq: e.hash for e in events}, *log)
    problems.sort(key=lambda p: p.seq)
    return AuditReport(
        batch_id=batch.id,
        intact=not problems,
        length=len(events),
        head_hash=batch.head_hash,
        problems=[ChainProblemPublic(seq=p.seq, problem=p.problem) for p in problems],
    )


def audit_loaded(*, batch: Batch, events: list[Event]) -> AuditReport:
    """Audit a chain whose events the caller already loaded, in (seq, id) order (the chain
    and the batch row; not the log, which needs the database)."""
    return _report(batch, events)


def _log_of_batch(
    session: Session, batch_id: str, event_ids: list[int]
) -> tuple[dict[int, bytes], set[int]]:
    leaves = {
        seq: bytes(data)
        for seq, data in session.exec(
            select(LogLeaf.seq, LogLeaf.data).where(LogLeaf.batch_id == batch_id)
        )
    }
    pending_ids = (
        set(
            session.exec(
                select(LogPending.event_id).where(col(LogPending.event_id).in_(event_ids))
            ).all()
        )
        if event_ids
        else set()
    )
    return leaves, pending_ids


def audit_batch(session: Session, *, batch: Batch) -> AuditReport:
    events = list(
        session.exec(
            select(Event).where(Event.batch_id == batch.id).order_by(col(Event.seq), col(Event.id))
        ).all()
    )
    brand = session.get(Brand, batch.brand_id)
    leaves, pending_ids = _log_of_batch(session, batch.id, [e.id for e in events if e.id])
    pending = {e.seq for e in events if e.id in pending_ids}
    return _report(
        batch, events, brand_slug=None if brand is None else brand.slug, log=(leaves, pending)
    )


def audit_with_head_proof(session: Session, *, batch: Batch) -> AuditReport:
    """The batch's audit with its head's place in the log (leaf, proof, checkpoint)."""
    report = audit_batch(session, batch=batch)
    report.log = batch_head_proof(session, batch_id=batch.id, head_seq=batch.head_seq)
    return report


def count_events(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Event)).one())


def audit_all(session: Session, *, chunk: int = 5000) -> Iterator[tuple[AuditReport, int]]:
    """Audit every batch, streaming events with their log leaves in (batch_id, seq) order.

    Yields each batch's report with the number of events it covered, so callers can
    show progress. Batches with no events at all are reported too."""
    batches = {b.id: b for b in session.exec(select(Batch))}
    slugs = dict(session.exec(select(Brand.id, Brand.slug)).all())
    pending_ids = set(session.exec(select(LogPending.event_id)).all())
    seen: set[str] = set()
    # Plain column rows, not ORM objects: the audit reads each event once, its JSON
    # columns as text parsed with orjson.
    events_t, leaves_t = Event.__table__, LogLeaf.__table__  # type: ignore[attr-defined]
    joined = events_t.outerjoin(
        leaves_t,
        and_(leaves_t.c.batch_id == events_t.c.batch_id, leaves_t.c.seq == events_t.c.seq),
    )
    columns = [
        cast(events_t.c[name], Text) if name in _JSON_FIELDS else events_t.c[name]
        for name in _StreamedEvent.FIELDS
    ]
    stream = session.execute(
        sa_select(*columns, leaves_t.c.data)
        .select_from(joined)
        .order_by(events_t.c.batch_id, events_t.c.seq, events_t.c.id)
        .execution_options(yield_per=chunk)
    )
    beyond = _leaves_without_event(session)
    current: list[_StreamedEvent] = []
    leaves: dict[int, bytes] = {}

    def flush() -> AuditReport:
        batch = batches[current[0].batch_id]
        pending = {e.seq for e in current if e.id in pending_ids}
        log = ({**beyond.get(batch.id, {}), **leaves}, pending)
        return _report(batch, current, brand_slug=slugs.get(batch.brand_id), log=log)

    for *fields, leaf_data in stream:
        row = _StreamedEvent(*fields)
        if current and current[0].batch_id != row.batch_id:
            seen.add(current[0].batch_id)
            yield flush(), len(current)
            current, leaves = [], {}
        current.append(row)
        if leaf_data is not None:
            leaves[row.seq] = bytes(leaf_data)
    if current:
        seen.add(current[0].batch_id)
        yield flush(), len(current)
    for batch_id in sorted(batches.keys() - seen):
        yield _report(batches[batch_id], [], log=(beyond.get(batch_id, {}), set())), 0


_JSON_FIELDS = ("location", "data")


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses (NaN, huge integers) json reads
        return json.loads(text)


class _StreamedEvent:
    """One event row of the audit stream (an `EventFields`)."""

    # The columns, in the order __init__ takes them.
    FIELDS = (
        "id",
        "batch_id",
        "seq",
        "type",
        "event_time",
        "event_time_offset",
        "recorded_at",
        "actor_org_id",
        "location",
        "data",
        "prev_hash",
        "hash",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        id: int,
        batch_id: str,
        seq: int,
        type: str,
        event_time: datetime,
        event_time_offset: str,
        recorded_at: datetime,
        actor_org_id: str,
        location: str | None,
        data: str,
        prev_hash: str,
        hash: str,
    ) -> None:
        self.id = id
        self.batch_id = batch_id
        self.seq = seq
        self.type = type
        self.event_time = event_time
        self.event_time_offset = event_time_offset
        self.recorded_at = recorded_at
        self.actor_org_id = actor_org_id
        self.location: dict[str, Any] | None = _json(location)
        self.data: dict[str, Any] = _json(data)
        self.prev_hash = prev_hash
        self.hash = hash


def _leaves_without_event(session: Session) -> dict[str, dict[int, bytes]]:
    """Leaves whose event is gone, by batch and seq (a chain cut back below its log)."""
    events_t, leaves_t = Event.__table__, LogLeaf.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa_select(leaves_t.c.batch_id, leaves_t.c.seq, leaves_t.c.data)
        .select_from(
            leaves_t.outerjoin(
                events_t,
                and_(events_t.c.batch_id == leaves_t.c.batch_id, events_t.c.seq == leaves_t.c.seq),
            )
        )
        .where(events_t.c.id.is_(None))
    )
    found: dict[str, dict[int, bytes]] = {}
    for batch_id, seq, data in rows:
        found.setdefault(batch_id, {})[int(seq)] = bytes(data)
    return found


def orphan_leaves(session: Session) -> list[tuple[int, str, int]]:
    """Leaves (index, batch_id, seq) of batches that are gone altogether (the per-batch
    audit reports leaves beyond the head of batches that still exist)."""
    rows = session.exec(
        select(LogLeaf.leaf_index, LogLeaf.batch_id, LogLeaf.seq)
        .outerjoin(Batch, col(Batch.id) == col(LogLeaf.batch_id))
        .where(col(Batch.id).is_(None))
        .order_by(col(LogLeaf.leaf_index))
    ).all()
    return [(int(i), str(b), int(s)) for i, b, s in rows]
