"""Chain audits: recompute every hash from the stored fields and compare."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, col, select

from registry.batches.chain import find_chain_problems
from registry.batches.models import Batch, Event
from registry.batches.schemas import AuditReport, ChainProblemPublic, hashed_body


def _report(batch: Batch, events: list[Event]) -> AuditReport:
    links = [(e.seq, e.prev_hash, e.hash, hashed_body(e)) for e in events]
    problems = find_chain_problems(links, head_seq=batch.head_seq, head_hash=batch.head_hash)
    return AuditReport(
        batch_id=batch.id,
        intact=not problems,
        length=len(events),
        head_hash=batch.head_hash,
        problems=[ChainProblemPublic(seq=p.seq, problem=p.problem) for p in problems],
    )


def audit_loaded(*, batch: Batch, events: list[Event]) -> AuditReport:
    """Audit a chain whose events the caller already loaded, in (seq, id) order."""
    return _report(batch, events)


def audit_batch(session: Session, *, batch: Batch) -> AuditReport:
    events = session.exec(
        select(Event).where(Event.batch_id == batch.id).order_by(col(Event.seq), col(Event.id))
    ).all()
    return _report(batch, list(events))


def count_events(session: Session) -> int:
    from sqlalchemy import func

    return int(session.exec(select(func.count()).select_from(Event)).one())


def audit_all(session: Session, *, chunk: int = 2000) -> Iterator[tuple[AuditReport, int]]:
    """Audit every batch, streaming events in (batch_id, seq) order.

    Yields each batch's report with the number of events it covered, so callers can
    show progress. Batches with no events at all are reported too.
    """
    batches = {b.id: b for b in session.exec(select(Batch))}
    seen: set[str] = set()
    current: list[Event] = []
    stream = session.exec(
        select(Event)
        .order_by(col(Event.batch_id), col(Event.seq), col(Event.id))
        .execution_options(yield_per=chunk)
    )
    for event in stream:
        if current and current[0].batch_id != event.batch_id:
            seen.add(current[0].batch_id)
            yield _report(batches[current[0].batch_id], current), len(current)
            current = []
        current.append(event)
    if current:
        seen.add(current[0].batch_id)
        yield _report(batches[current[0].batch_id], current), len(current)
    for batch_id in sorted(batches.keys() - seen):
        yield _report(batches[batch_id], []), 0
