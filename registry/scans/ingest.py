"""Writes recorded consumer scans into the database in one transaction per batch: the scan
rows, the per-code counters, and an alert for every clone signal the new scans raise.

Used by the Redis stream drain (a Celery task) and by the in-process scan buffer alike.
Scans drained from the stream carry their stream entry id, recorded in the same
transaction: a redelivered entry is skipped,
so at-least-once delivery still counts each scan exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, insert, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from registry.alerts.models import AlertKind, code_subject
from registry.alerts.service import AlertSignal, raise_alerts
from registry.batches.models import Batch, Event
from registry.brands.models import Brand
from registry.core.config import Settings
from registry.core.time import as_utc, utcnow
from registry.scans.models import KEEP_STREAM_IDS_HOURS, ScanStreamEntry
from registry.scans.signals import Sighting, first_impossible_move, travel_window_hours
from registry.verify.models import Scan, ScanCounter

if TYPE_CHECKING:
    from registry.verify.scans import ScanRecord

CodeKey = tuple[str, str, str]  # (gtin, lot, serial)
# Events after which goods are in the market (and consumer scans are expected).
LEAVES_PRODUCER = ("shipped", "sold")


@dataclass(frozen=True)
class CloneRules:
    default_threshold: int
    max_travel_kmh: float
    min_travel_km: float

    @classmethod
    def from_settings(cls, settings: Settings) -> CloneRules:
        return cls(
            default_threshold=settings.scan_alert_threshold,
            max_travel_kmh=settings.max_travel_kmh,
            min_travel_km=settings.min_travel_km,
        )


@dataclass(frozen=True)
class IngestResult:
    written: int
    duplicates: int
    alerts: int


def ingest_scans(
    session: Session,
    scans: Sequence[ScanRecord],
    *,
    rules: CloneRules,
    stream_ids: Sequence[str] | None = None,
) -> IngestResult:
    """Insert the scans (skipping stream ids already stored), add them to the counters,
    and raise alerts for the codes they touch. Flushes; the caller commits."""
    if not scans:
        return IngestResult(0, 0, 0)
    written = _insert_scans(session, scans, stream_ids)
    if not written:
        return IngestResult(0, len(scans), 0)
    counts = _add_to_counters(session, written)
    signals = _clone_signals(session, written, counts, rules)
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
                "country": s.country,
                "client_hash": s.client_hash,
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


def _add_to_counters(session: Session, scans: Sequence[ScanRecord]) -> dict[CodeKey, int]:
    """Add the scans to their codes' counters; returns each touched code's new total."""
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
    keys = sorted(totals)
    return {
        (c.gtin, c.lot, c.serial): c.count
        for c in session.exec(
            select(ScanCounter).where(
                tuple_(ScanCounter.gtin, ScanCounter.lot, ScanCounter.serial).in_(keys)
            )
        )
    }


def _clone_signals(
    session: Session, scans: Sequence[ScanRecord], counts: dict[CodeKey, int], rules: CloneRules
) -> list[AlertSignal]:
    pairs = sorted({(gtin, lot) for gtin, lot, _ in counts})
    batches: dict[tuple[str, str], Batch] = {}
    for row in session.exec(
        select(Batch).where(tuple_(Batch.gtin, Batch.lot).in_(pairs)).order_by(col(Batch.id))
    ):
        batches.setdefault((row.gtin or "", row.lot), row)
    if not batches:
        return []
    brand_ids = sorted({b.brand_id for b in batches.values()})
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))}
    shipped_at = _left_producer_at(session, [b.id for b in batches.values()])
    now = utcnow()
    signals: list[AlertSignal] = []

    def signal(kind: AlertKind, key: CodeKey, batch: Batch, detail: dict[str, Any]) -> None:
        signals.append(
            AlertSignal(
                kind=kind,
                subject=code_subject(*key),
                gtin=key[0],
                lot=key[1],
                serial=key[2],
                batch_id=batch.id,
                brand_id=batch.brand_id,
                detail=detail,
                seen_at=now,
            )
        )

    earliest: dict[CodeKey, datetime] = {}
    for scan in scans:
        key = (scan.gtin, scan.lot, scan.serial)
        at = as_utc(scan.scanned_at)
        earliest[key] = min(earliest.get(key, at), at)
    for key, count in sorted(counts.items()):
        batch = batches.get(key[:2])
        if batch is None:
            continue
        brand = brands.get(batch.brand_id)
        threshold = (brand.scan_alert_threshold if brand else None) or rules.default_threshold
        if count > threshold:
            signal(
                AlertKind.scan_threshold_exceeded,
                key,
                batch,
                {
                    "message": f"scanned {count} times, more than the {threshold} expected",
                    "count": count,
                    "threshold": threshold,
                },
            )
        left_at = shipped_at.get(batch.id)
        if left_at is None or earliest[key] < left_at:
            signal(
                AlertKind.not_yet_shipped,
                key,
                batch,
                {
                    "message": "scanned before its batch was shipped or sold",
                    "scanned_at": earliest[key].isoformat(),
                    "shipped_at": left_at.isoformat() if left_at else None,
                },
            )
    signals.extend(_travel_signals(session, scans, batches, rules, now))
    return signals


def _left_producer_at(session: Session, batch_ids: list[str]) -> dict[str, datetime]:
    """When each batch was first shipped or sold (recorded), for those that were."""
    rows = session.exec(
        select(Event.batch_id, func.min(Event.recorded_at))
        .where(col(Event.batch_id).in_(batch_ids), col(Event.type).in_(LEAVES_PRODUCER))
        .group_by(col(Event.batch_id))
    )
    return {batch_id: as_utc(at) for batch_id, at in rows}


def _travel_signals(
    session: Session,
    scans: Sequence[ScanRecord],
    batches: dict[tuple[str, str], Batch],
    rules: CloneRules,
    now: datetime,
) -> list[AlertSignal]:
    """Impossible travel among each code's located scans within reach of the new ones."""
    located = [s for s in scans if s.lat is not None and s.lon is not None]
    if not located:
        return []
    keys = sorted({(s.gtin, s.lot, s.serial) for s in located})
    window = timedelta(hours=travel_window_hours(rules.max_travel_kmh))
    since = min(as_utc(s.scanned_at) for s in located) - window
    until = max(as_utc(s.scanned_at) for s in located) + window
    sightings: dict[CodeKey, list[Sighting]] = defaultdict(list)
    scans_table = Scan.__table__  # type: ignore[attr-defined]
    c = scans_table.c
    for gtin, lot, serial, at, lat, lon in session.execute(
        sa_select(c.gtin, c.lot, c.serial, c.scanned_at, c.lat, c.lon).where(
            tuple_(c.gtin, c.lot, c.serial).in_(keys),
            c.lat.is_not(None),
            c.lon.is_not(None),
            c.scanned_at >= since,
            c.scanned_at <= until,
        )
    ):
        assert lat is not None
        assert lon is not None
        sightings[(gtin, lot, serial)].append(Sighting(at=as_utc(at), lat=lat, lon=lon))
    signals = []
    for key in keys:
        move = first_impossible_move(
            sightings[key], max_kmh=rules.max_travel_kmh, min_km=rules.min_travel_km
        )
        batch = batches.get(key[:2])
        if move is None or batch is None:
            continue
        signals.append(
            AlertSignal(
                kind=AlertKind.impossible_travel,
                subject=code_subject(*key),
                gtin=key[0],
                lot=key[1],
                serial=key[2],
                batch_id=batch.id,
                brand_id=batch.brand_id,
                detail={
                    "message": move.describe(rules.max_travel_kmh),
                    "km": round(move.km, 1),
                    "hours": round(move.hours, 4),
                    "from": [move.earlier.lat, move.earlier.lon, move.earlier.at.isoformat()],
                    "to": [move.later.lat, move.later.lon, move.later.at.isoformat()],
                },
                seen_at=now,
            )
        )
    return signals
