"""Writes recorded consumer scans into the database in one transaction per batch: the scan
rows, the per-code counters of page loads, and an alert for every clone signal the scans'
verdicts found.

Used by the Redis stream drain (a Celery task) and by the in-process scan buffer alike.
Scans drained from the stream carry their stream entry id, recorded in the same
transaction: a redelivered entry is skipped,
so at-least-once delivery still counts each scan exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from registry.alerts.models import AlertKind, code_subject
from registry.alerts.service import AlertSignal, raise_alerts
from registry.core.time import as_utc, utcnow
from registry.scans.models import KEEP_STREAM_IDS_HOURS, Scan, ScanCounter, ScanStreamEntry

if TYPE_CHECKING:
    from registry.scans.records import ScanRecord

CodeKey = tuple[str, str, str]  # (gtin, lot, serial)


@dataclass(frozen=True)
class IngestResult:
    written: int
    duplicates: int
    alerts: int


def ingest_scans(
    session: Session,
    scans: Sequence[ScanRecord],
    *,
    stream_ids: Sequence[str] | None = None,
) -> IngestResult:
    """Insert the scans (skipping stream ids already stored), add them to the counters,
    and raise alerts for the codes they touch. Flushes; the caller commits."""
    if not scans:
        return IngestResult(0, 0, 0)
    written = _insert_scans(session, scans, stream_ids)
    if not written:
        return IngestResult(0, len(scans), 0)
    _add_to_counters(session, written)
    signals = _alerts(written)
    raise_alerts(session, signals)
    return IngestResult(len(written), len(scans) - len(written), len(signals))


def _insert_scans(
    session: Session, scans: Sequence[ScanRecord], stream_ids: Sequence[str] | None
) -> list[ScanRecord]:
    if stream_ids is not None:
        fresh = _claim_stream_ids(session, stream_ids)
        scans = [s for s, sid in zip(scans, stream_ids, strict=True) if sid in fresh]
        if not scans:
            return []
    table = Scan.__table__  # type: ignore[attr-defined]
    session.execute(
        insert(table),
        [
            {
                "gtin": s.gtin,
                "lot": s.lot,
                "serial": s.serial,
                "scanned_at": as_utc(s.scanned_at),
                "lat": s.lat,
                "lon": s.lon,
                "country": None,
                "region": s.region[:80] if s.region else None,
                "client_hash": s.device,
            }
            for s in scans
        ],
    )
    return list(scans)


def _claim_stream_ids(session: Session, stream_ids: Sequence[str]) -> set[str]:
    """Record the stream ids; returns those not recorded before (the ones to write)."""
    table = ScanStreamEntry.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    stmt = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    now = utcnow()
    claimed = session.execute(
        stmt.on_conflict_do_nothing(index_elements=["stream_id"]).returning(table.c.stream_id),
        [{"stream_id": sid, "ingested_at": now} for sid in sorted(set(stream_ids))],
    )
    return {row[0] for row in claimed}


def prune_stream_ids(session: Session, *, now: datetime | None = None) -> int:
    """Forget stream ids older than a redelivery could be; returns how many."""
    cutoff = (now or utcnow()) - timedelta(hours=KEEP_STREAM_IDS_HOURS)
    result = session.execute(
        delete(ScanStreamEntry).where(col(ScanStreamEntry.ingested_at) < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _upsert_counters(dialect: str) -> Any:
    table = ScanCounter.__table__  # type: ignore[attr-defined]
    stmt = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["gtin", "lot", "serial"],
        set_={
            "count": table.c.count + new.count,
            "first_at": case(
                (new.first_at < table.c.first_at, new.first_at), else_=table.c.first_at
            ),
            "last_at": case((new.last_at > table.c.last_at, new.last_at), else_=table.c.last_at),
        },
    )


def _add_to_counters(session: Session, scans: Sequence[ScanRecord]) -> None:
    """Add the scans (page loads) to their codes' running counters."""
    totals: dict[CodeKey, list[Any]] = {}
    for scan in scans:
        at = as_utc(scan.scanned_at)
        key = (scan.gtin, scan.lot, scan.serial)
        entry = totals.get(key)
        if entry is None:
            totals[key] = [1, at, at]
        else:
            entry[0] += 1
            entry[1], entry[2] = min(entry[1], at), max(entry[2], at)
    # Sorted, so concurrent drains (several workers) lock counters in one order.
    session.execute(
        _upsert_counters(session.get_bind().dialect.name),
        [
            {"gtin": g, "lot": lot, "serial": s, "count": n, "first_at": lo, "last_at": hi}
            for (g, lot, s), (n, lo, hi) in sorted(totals.items())
        ],
    )


def _alerts(scans: Sequence[ScanRecord]) -> list[AlertSignal]:
    """One alert signal per clone signal a scan's verdict found (registry/scans/rules.py
    decided them when the scan was answered; nothing is judged again here)."""
    signals = []
    for scan in scans:
        for signal in scan.signals:
            signals.append(
                AlertSignal(
                    kind=AlertKind(signal.kind),
                    subject=code_subject(scan.gtin, scan.lot, scan.serial),
                    gtin=scan.gtin,
                    lot=scan.lot,
                    serial=scan.serial,
                    batch_id=scan.batch_id,
                    brand_id=scan.brand_id,
                    detail={
                        **signal.detail,
                        "message": signal.message,
                        "scanned_at": as_utc(scan.scanned_at).isoformat(),
                        "region": scan.region,
                    },
                    seen_at=as_utc(scan.scanned_at),
                )
            )
    return signals
