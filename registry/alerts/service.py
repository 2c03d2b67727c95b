"""Raising and listing alerts. Raising is an upsert, so any number of workers may report
the same signal at once and the table keeps one row per (kind, subject)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from registry.alerts.models import Alert, AlertKind, batch_subject
from registry.batches.audit import audit_batch
from registry.batches.models import Batch
from registry.core.ids import new_id
from registry.core.time import utcnow


@dataclass(frozen=True)
class AlertSignal:
    """One observation of a signal; `raise_alerts` folds repeats into the stored row."""

    kind: AlertKind
    subject: str
    detail: dict[str, Any]
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    batch_id: str | None = None
    brand_id: str | None = None
    seen_at: datetime = field(default_factory=utcnow)


def raise_alerts(session: Session, signals: list[AlertSignal]) -> None:
    """Insert each signal's alert, or bump `occurrences` and `last_seen_at` of the existing
    row; the first detail is kept (it says what first raised the alert)."""
    if not signals:
        return
    table = Alert.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    stmt = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "subject"],
        set_={
            "occurrences": table.c.occurrences + 1,
            "last_seen_at": stmt.excluded.last_seen_at,
        },
    )
    # Sorted, so concurrent writers lock rows in one order (no deadlock on PostgreSQL).
    # One row per (kind, subject) per statement: PostgreSQL refuses to upsert a row twice.
    unique = {(s.kind, s.subject): s for s in reversed(signals)}
    ordered = [unique[key] for key in sorted(unique)]
    session.execute(
        stmt,
        [
            {
                "id": new_id(),
                "kind": str(s.kind),
                "subject": s.subject,
                "gtin": s.gtin,
                "lot": s.lot,
                "serial": s.serial,
                "batch_id": s.batch_id,
                "brand_id": s.brand_id,
                "detail": s.detail,
                "occurrences": 1,
                "created_at": s.seen_at,
                "last_seen_at": s.seen_at,
            }
            for s in ordered
        ],
    )


def list_alerts(
    session: Session,
    *,
    kind: AlertKind | None = None,
    brand_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Alert]:
    """Alerts, newest first, optionally of one kind, one brand, or raised since a time."""
    query = select(Alert)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if brand_id is not None:
        query = query.where(Alert.brand_id == brand_id)
    if since is not None:
        query = query.where(col(Alert.created_at) >= since)
    query = query.order_by(col(Alert.created_at).desc(), col(Alert.id)).offset(offset).limit(limit)
    return list(session.exec(query))


def raise_chain_alerts(session: Session, *, changed_since: datetime) -> int:
    """Audit the chain of every batch changed since `changed_since` and raise a
    `chain_broken` alert for each broken one; returns how many are broken."""
    broken = 0
    batches = session.exec(
        select(Batch).where(col(Batch.updated_at) >= changed_since).order_by(col(Batch.id))
    )
    signals = []
    for batch in batches:
        report = audit_batch(session, batch=batch)
        if report.intact:
            continue
        broken += 1
        first = report.problems[0]
        signals.append(
            AlertSignal(
                kind=AlertKind.chain_broken,
                subject=batch_subject(batch.id),
                gtin=batch.gtin,
                lot=batch.lot,
                batch_id=batch.id,
                brand_id=batch.brand_id,
                detail={
                    "message": f"chain fails its audit at event {first.seq}: {first.problem}",
                    "seq": first.seq,
                    "problems": len(report.problems),
                    "length": report.length,
                },
            )
        )
    raise_alerts(session, signals)
    return broken
