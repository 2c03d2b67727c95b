"""Clone signals at verification time: the reasons a consumer scan adds to a verdict, from
what is stored (the ingestion side raises the matching alerts, registry/scans/ingest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from registry.batches.models import Event
from registry.core.config import Settings
from registry.core.time import as_utc
from registry.scans.ingest import LEAVES_PRODUCER, CodeKey
from registry.scans.signals import Sighting, impossible_travel
from registry.verify.models import Scan
from registry.verify.schemas import Reason, ReasonCode


def last_sighting(session: Session, key: CodeKey, *, before: datetime) -> Sighting | None:
    """The latest stored scan of the code that has a location (one indexed lookup)."""
    gtin, lot, serial = key
    row = session.exec(
        select(Scan)
        .where(
            Scan.gtin == gtin,
            Scan.lot == lot,
            Scan.serial == serial,
            col(Scan.scanned_at) <= before,
            col(Scan.lat).is_not(None),
            col(Scan.lon).is_not(None),
        )
        .order_by(col(Scan.scanned_at).desc())
        .limit(1)
    ).first()
    if row is None or row.lat is None or row.lon is None:
        return None
    return Sighting(at=as_utc(row.scanned_at), lat=row.lat, lon=row.lon)


def travel_reasons(
    session: Session, *, key: CodeKey, lat: float, lon: float, now: datetime, settings: Settings
) -> list[Reason]:
    """Impossible travel from the code's last located scan (one indexed lookup)."""
    last = last_sighting(session, key, before=now)
    if last is None:
        return []
    move = impossible_travel(
        last,
        Sighting(at=now, lat=lat, lon=lon),
        max_kmh=settings.max_travel_kmh,
        min_km=settings.min_travel_km,
    )
    if move is None:
        return []
    return [
        Reason(
            code=ReasonCode.impossible_travel,
            message=f"this code was {move.describe(settings.max_travel_kmh)}",
        )
    ]


def shipping_reasons(events: Sequence[Event], *, settings: Settings) -> list[Reason]:
    """Where the operator asked for it: a scan of a batch that has not left its producer
    (needs only the batch's events, so the cached verification path can apply it)."""
    if settings.unshipped_scans_suspicious and not any(e.type in LEAVES_PRODUCER for e in events):
        return [
            Reason(
                code=ReasonCode.not_yet_shipped,
                message="this code's batch has not been shipped or sold yet, so no package "
                "of it should be in a consumer's hands: it may have been copied",
            )
        ]
    return []
