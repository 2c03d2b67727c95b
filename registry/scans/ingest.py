"""Writes recorded consumer scans into the database in one transaction per batch: the scan
rows, the per-code counters of page loads, and an alert for every clone signal the scans'
verdicts found.

Used by the Redis stream drain (a Celery task, `ingest_scans`) and by the in-process scan
buffer (`ScanRows`, made before its transaction) alike. Scans drained from the stream carry
their stream entry id, recorded in the same transaction: a redelivered entry is skipped,
so at-least-once delivery still counts each scan exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
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


@dataclass(frozen=True)
class ScanRows:
    """A batch of scans as its statements with their parameters, and its alerts, made
    before the write transaction: on SQLite the writer holds the database's one write lock
    for the transaction, and Python work inside it, on a thread that waits for the GIL
    behind the label scans' event loop, was most of a flush's time (issue 15)."""

    count: int
    statements: tuple[tuple[str, Any], ...]  # (SQL, the driver's parameters), in order
    signals: list[AlertSignal]

    @classmethod
    def of(cls, scans: Sequence[ScanRecord], dialect: str) -> ScanRows:
        sqlite = dialect == "sqlite"
        stamp = _sqlite_time if sqlite else as_utc
        times = [stamp(s.scanned_at) for s in scans]  # once each, for both statements
        rows = [
            (s.gtin, s.lot, s.serial, at, s.lat, s.lon, s.region[:80] if s.region else None,
             s.device)
            for s, at in zip(scans, times, strict=True)
        ]  # fmt: skip
        counters = _counter_rows(scans, times)
        statements = (
            (
                (_INSERT_SCANS.sqlite, _json_rows(rows)),
                (_UPSERT_COUNTERS.sqlite, _json_rows(counters)),
            )
            if sqlite
            else ((_INSERT_SCANS.postgresql, rows), (_UPSERT_COUNTERS.postgresql, counters))
        )
        return cls(len(scans), statements, _alerts(scans))

    def write(self, session: Session) -> None:
        """Insert the scans, add them to the counters and raise their alerts. Flushes;
        the caller commits."""
        if not self.count:
            return
        connection = session.connection()
        for statement, parameters in self.statements:
            connection.exec_driver_sql(statement, parameters)
        raise_alerts(session, self.signals)


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
    rows = ScanRows.of(written, session.get_bind().dialect.name)
    rows.write(session)
    return IngestResult(len(written), len(scans) - len(written), len(rows.signals))


def _json_rows(rows: list[tuple[Any, ...]]) -> tuple[str]:
    """SQLite: rows as one JSON array, the one parameter of a statement that reads it with
    `json_each` (`Statement`), so SQLite writes them all in one step with the GIL released.
    The driver's executemany took the GIL back for every row, each time behind the label
    scans' event loop, with the write lock held (issue 15; docs/decisions.md, "Session 9")."""
    return (orjson.dumps(rows).decode(),)


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


@dataclass(frozen=True)
class Statement:
    """An INSERT of many rows, as each backend takes them: PostgreSQL through the driver's
    executemany, SQLite as one JSON array (`_json_rows`)."""

    postgresql: str
    sqlite: str

    @classmethod
    def insert(cls, table: str, columns: list[str], tail: str = "") -> Statement:
        head = f"INSERT INTO {table} ({', '.join(columns)}) "
        picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
        return cls(
            postgresql=f"{head}VALUES ({', '.join(['%s'] * len(columns))}) {tail}".rstrip(),
            # WHERE true: SQLite's parser needs it between a SELECT and an ON CONFLICT.
            sqlite=f"{head}SELECT {picks} FROM json_each(?) WHERE true {tail}".rstrip(),
        )


# The two statements of every flush, in SQL written here and sent with the driver's own
# calls: built through SQLAlchemy's expression layer, a thousand-scan flush spent more time
# converting parameters (and SQLite's datetimes) than writing, on a thread that shares the
# GIL with the label scans (issue 10).
_INSERT_SCANS = Statement.insert(
    "scans", ["gtin", "lot", "serial", "scanned_at", "lat", "lon", "region", "client_hash"]
)
_UPSERT_COUNTERS = Statement.insert(
    "scan_counters",
    ["gtin", "lot", "serial", "count", "first_at", "last_at"],
    "ON CONFLICT (gtin, lot, serial) DO UPDATE SET "
    "count = scan_counters.count + excluded.count, "
    "first_at = CASE WHEN excluded.first_at < scan_counters.first_at "
    "THEN excluded.first_at ELSE scan_counters.first_at END, "
    "last_at = CASE WHEN excluded.last_at > scan_counters.last_at "
    "THEN excluded.last_at ELSE scan_counters.last_at END",
)


def _sqlite_time(at: datetime) -> str:
    """A UTC time as SQLite's column holds it: the text SQLAlchemy's DateTime writes there
    (tests/scans/test_scan_recorder.py holds them equal); PostgreSQL takes the datetime."""
    text = as_utc(at).isoformat(" ")[:-6]  # without its "+00:00"
    return text if at.microsecond else text + ".000000"


def _counter_rows(scans: Sequence[ScanRecord], times: list[Any]) -> list[tuple[Any, ...]]:
    """The scans (page loads) summed per code for the codes' running counters. `times` as
    the driver takes them (SQLite's fixed-width text orders as the instants do)."""
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
    return [(g, lot, s, n, lo, hi) for (g, lot, s), (n, lo, hi) in sorted(totals.items())]


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
