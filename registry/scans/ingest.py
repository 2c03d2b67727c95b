"""Writes recorded consumer scans into the database in one transaction per batch: the scan
rows, the per-code counters of page loads, and an alert for every clone signal the scans'
verdicts found.

Used by the Redis stream drain (a Celery task) and by the in-process scan buffer alike.
Scans drained from the stream carry their stream entry id, recorded in the same
transaction: a redelivered entry is skipped,
so at-least-once delivery still counts each scan exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from registry.alerts.models import AlertKind, code_subject
from registry.alerts.service import AlertSignal, raise_alerts
from registry.core.time import as_utc, utcnow
from registry.scans.models import KEEP_STREAM_IDS_HOURS, ScanStreamEntry

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
    written = list(scans)
    if stream_ids is not None:
        fresh = _claim_stream_ids(session, stream_ids)
        written = [s for s, sid in zip(scans, stream_ids, strict=True) if sid in fresh]
        if not written:
            return IngestResult(0, len(scans), 0)
    place, stamp = _driver_style(session)
    times = [stamp(s.scanned_at) for s in written]  # once each, for both statements
    _insert_scans(session, written, times, place)
    _add_to_counters(session, written, times, place)
    signals = _alerts(written)
    raise_alerts(session, signals)
    return IngestResult(len(written), len(scans) - len(written), len(signals))


def _insert_scans(session: Session, scans: list[ScanRecord], times: list[Any], place: str) -> None:
    session.connection().exec_driver_sql(
        _INSERT_SCANS.replace("?", place),
        [
            (
                s.gtin,
                s.lot,
                s.serial,
                at,
                s.lat,
                s.lon,
                s.region[:80] if s.region else None,
                s.device,
            )
            for s, at in zip(scans, times, strict=True)
        ],
    )


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


# The two statements of every flush, in SQL both SQLite and PostgreSQL read, sent with the
# driver's own executemany: built through SQLAlchemy's expression layer, a thousand-scan
# flush spent more time converting parameters (and SQLite's datetimes) than writing, on a
# thread that shares the GIL with the label scans (issue 10).
_INSERT_SCANS = (
    "INSERT INTO scans (gtin, lot, serial, scanned_at, lat, lon, region, client_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_COUNTERS = (
    "INSERT INTO scan_counters (gtin, lot, serial, count, first_at, last_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gtin, lot, serial) DO UPDATE SET "
    "count = scan_counters.count + excluded.count, "
    "first_at = CASE WHEN excluded.first_at < scan_counters.first_at "
    "THEN excluded.first_at ELSE scan_counters.first_at END, "
    "last_at = CASE WHEN excluded.last_at > scan_counters.last_at "
    "THEN excluded.last_at ELSE scan_counters.last_at END"
)


def _driver_style(session: Session) -> tuple[str, Callable[[datetime], Any]]:
    """The driver's placeholder, and a UTC time as the column stores it: SQLite keeps the
    text SQLAlchemy's DateTime writes there (tests/scans/test_scan_recorder.py holds them
    equal), PostgreSQL a timestamptz."""
    if session.get_bind().dialect.name == "sqlite":
        return "?", _sqlite_time
    return "%s", as_utc


def _sqlite_time(at: datetime) -> str:
    text = as_utc(at).isoformat(" ")[:-6]  # without its "+00:00"
    return text if at.microsecond else text + ".000000"


def _add_to_counters(
    session: Session, scans: list[ScanRecord], times: list[Any], place: str
) -> None:
    """Add the scans (page loads) to their codes' running counters. `times` as the driver
    takes them (SQLite's fixed-width text orders as the instants do)."""
    totals: dict[CodeKey, list[Any]] = {}
    for scan, at in zip(scans, times, strict=True):
        key = (scan.gtin, scan.lot, scan.serial)
        entry = totals.get(key)
        if entry is None:
            totals[key] = [1, at, at]
        else:
            entry[0] += 1
            entry[1], entry[2] = min(entry[1], at), max(entry[2], at)
    # Sorted, so concurrent drains (several workers) lock counters in one order.
    session.connection().exec_driver_sql(
        _UPSERT_COUNTERS.replace("?", place),
        [(g, lot, s, n, lo, hi) for (g, lot, s), (n, lo, hi) in sorted(totals.items())],
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
