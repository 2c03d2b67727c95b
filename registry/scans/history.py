"""A code's device history from the durable records, for a device counter that starts empty
(the in-process counter after a restart): which devices scanned it, in order of their first
scan, where the first one was, and the clone flag its alerts recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from registry.alerts.models import Alert, AlertKind, code_subject
from registry.core.db import unit_of_work
from registry.core.time import as_utc
from registry.scans.models import Scan, ScanCounter
from registry.scans.rules import FLAG_MESSAGES, Flag

CodeKey = tuple[str, str, str]
_FLAG_KINDS = (AlertKind.scan_threshold_exceeded, AlertKind.impossible_travel)


@dataclass
class CodeHistory:
    # device -> (rank, first scan); ranks in order of each device's first scan
    devices: dict[str, int] = field(default_factory=dict)
    first_at: datetime | None = None
    first_region: str | None = None
    flag: Flag | None = None


def scanned_serials(engine: Engine, lot: tuple[str, str]) -> dict[str, int]:
    """Serials of a lot with any durable scan, each with its number of scans (one query per
    lot): a code outside it has no history, so it needs no query of its own, and the counts
    bound the rows a load of several codes reads."""
    with unit_of_work(engine) as session:
        return dict(
            session.exec(
                select(ScanCounter.serial, ScanCounter.count).where(
                    ScanCounter.gtin == lot[0], ScanCounter.lot == lot[1]
                )
            ).all()
        )


def load_histories(engine: Engine, keys: Sequence[CodeKey]) -> dict[CodeKey, CodeHistory]:
    """The history of each code (empty for a code never scanned), in two queries."""
    found = {key: CodeHistory() for key in keys}
    if not keys:
        return found
    lots: dict[tuple[str, str], list[str]] = {}
    for gtin, lot, serial in sorted(found):
        lots.setdefault((gtin, lot), []).append(serial)
    with unit_of_work(engine) as session:
        table = Scan.__table__  # type: ignore[attr-defined]
        c = table.c
        # Per lot, `gtin = ? AND lot = ? AND serial IN (...)`: one range of the code index,
        # and one bind parameter per code where a tuple IN takes three.
        rows = session.execute(
            sa_select(c.gtin, c.lot, c.serial, c.client_hash, c.scanned_at, c.region)
            .where(
                or_(
                    *(
                        and_(c.gtin == gtin, c.lot == lot, c.serial.in_(serials))
                        for (gtin, lot), serials in lots.items()
                    )
                )
            )
            .order_by(c.scanned_at, c.id)
        )
        for gtin, lot, serial, device, at, region in rows:
            history = found[(gtin, lot, serial)]
            if history.first_at is None:
                history.first_at, history.first_region = as_utc(at), region
            if device and device not in history.devices:
                history.devices[device] = len(history.devices) + 1
        subjects = {code_subject(*key): key for key in keys}
        alerts = session.exec(
            select(Alert.subject, Alert.kind, Alert.created_at)
            .where(col(Alert.subject).in_(sorted(subjects)), col(Alert.kind).in_(_FLAG_KINDS))
            .order_by(col(Alert.created_at))
        )
        for subject, kind, created_at in alerts:
            history = found[subjects[subject]]
            if history.flag is None:
                message = FLAG_MESSAGES.get(str(kind), "it may have been copied")
                history.flag = Flag(str(kind), as_utc(created_at), message)
    return found
