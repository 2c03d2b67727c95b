"""Exports of recorded events (EPCIS 2.0 JSON-LD or an FSMA 204 CSV), streamed: events are
read a chunk at a time in record order (keyset on the event id, each chunk its own short
read) and written as they come, so memory stays flat however many events match.

Events are append-only, so bounding the export by the highest event id when it started
gives every chunk the same consistent set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, Row, Text, cast, func, select
from sqlmodel import Session
from sqlmodel import select as orm_select

from registry.audit import epcis, fsma
from registry.audit.exceptions import InvalidAuditQuery, LotNotFound
from registry.audit.records import ExportEvent, OrgInfo
from registry.audit.scope import check_batch, check_brand, visible_batches
from registry.batches.models import Batch, Event
from registry.batches.service import get_batch
from registry.brands.models import Brand
from registry.brands.service import get_brand
from registry.core.ids import new_id
from registry.core.time import as_utc, utcnow
from registry.orgs.models import Organization

ExportFormat = Literal["epcis", "csv"]
CHUNK_EVENTS = 2000
FLUSH_BYTES = 256 * 1024
CSV_PIECE_EVENTS = 800  # about 250 KB of CSV
MEDIA_TYPES = {"epcis": "application/ld+json", "csv": "text/csv; charset=utf-8"}
SUFFIXES = {"epcis": "jsonld", "csv": "csv"}

_events = Event.__table__  # type: ignore[attr-defined]
_batches = Batch.__table__  # type: ignore[attr-defined]
_brands = Brand.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    _events.c.id,
    _events.c.batch_id,
    _events.c.seq,
    _events.c.type,
    _events.c.event_time,
    _events.c.event_time_offset,
    _events.c.recorded_at,
    _events.c.actor_org_id,
    # As text, parsed with orjson: several times faster than the driver's json.loads.
    cast(_events.c.location, Text).label("location"),
    cast(_events.c.data, Text).label("data"),
    _events.c.prev_hash,
    _events.c.hash,
    _batches.c.gtin,
    _batches.c.lot,
    _batches.c.product,
    _batches.c.variety,
    _brands.c.slug,
    _brands.c.name,
    _batches.c.cooperative_org_id,
)


@dataclass(frozen=True)
class ExportPlan:
    """What one export covers, resolved and access-checked; ids and times only, so a
    worker job can carry it as JSON."""

    org_id: str | None  # None: the operator's CLI, which sees everything
    brand_id: str | None
    batch_ids: tuple[str, ...] | None
    time_from: datetime | None
    time_to: datetime | None  # exclusive
    upper_event_id: int
    label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "brand_id": self.brand_id,
            "batch_ids": list(self.batch_ids) if self.batch_ids is not None else None,
            "time_from": self.time_from.isoformat() if self.time_from else None,
            "time_to": self.time_to.isoformat() if self.time_to else None,
            "upper_event_id": self.upper_event_id,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportPlan:
        return cls(
            org_id=raw["org_id"],
            brand_id=raw["brand_id"],
            batch_ids=tuple(raw["batch_ids"]) if raw["batch_ids"] is not None else None,
            time_from=datetime.fromisoformat(raw["time_from"]) if raw["time_from"] else None,
            time_to=datetime.fromisoformat(raw["time_to"]) if raw["time_to"] else None,
            upper_event_id=raw["upper_event_id"],
            label=raw["label"],
        )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def plan_export(
    session: Session,
    *,
    org: Organization | None,
    brand: str | None = None,
    batch_id: str | None = None,
    gtin: str | None = None,
    lot: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> ExportPlan:
    """Resolve and check an export's selection: a brand, a batch, or a lot (GTIN + lot),
    optionally between two dates (UTC days, both included). 422 for a missing or
    contradictory selection, 404 for unknown names, 403 for what the caller may not see
    (`org` None: the operator, who sees everything)."""
    if sum(x is not None for x in (brand, batch_id, lot)) != 1 or (gtin is None) != (lot is None):
        raise InvalidAuditQuery("give exactly one of: brand=, batch_id=, or gtin= with lot=")
    if date_from and date_to and date_from > date_to:
        raise InvalidAuditQuery(f"from ({date_from}) is after to ({date_to})")
    brand_id = None
    batch_ids: tuple[str, ...] | None = None
    if brand is not None:
        brand_id = (
            get_brand(session, brand) if org is None else check_brand(session, org, brand)
        ).id
        label = brand
    elif batch_id is not None:
        batch = get_batch(session, batch_id)
        if org is not None:
            check_batch(session, org, batch)
        batch_ids, label = (batch.id,), f"batch-{batch.id}"
    else:
        matches = list(session.exec(orm_select(Batch).where(Batch.gtin == gtin, Batch.lot == lot)))
        if not matches:
            raise LotNotFound(f"no batch with GTIN {gtin} and lot {lot!r}")
        if org is not None:
            for batch in matches:
                check_batch(session, org, batch)
        batch_ids, label = tuple(b.id for b in matches), f"{gtin}-{lot}"
    upper = session.execute(select(func.max(_events.c.id))).scalar() or 0
    return ExportPlan(
        org_id=org.id if org is not None else None,
        brand_id=brand_id,
        batch_ids=batch_ids,
        time_from=_day_start(date_from) if date_from else None,
        time_to=_day_start(date_to) + timedelta(days=1) if date_to else None,
        upper_event_id=int(upper),
        label=label,
    )


def _selection(plan: ExportPlan, org: Organization | None) -> Any:
    query = (
        select(*_COLUMNS)
        .select_from(_events)
        .join(_batches, _batches.c.id == _events.c.batch_id)
        .join(_brands, _brands.c.id == _batches.c.brand_id)
        .where(_events.c.id <= plan.upper_event_id)
    )
    if org is not None:
        query = query.where(visible_batches(org))
    if plan.brand_id is not None:
        query = query.where(_batches.c.brand_id == plan.brand_id)
    if plan.batch_ids is not None:
        query = query.where(_events.c.batch_id.in_(plan.batch_ids))
    if plan.time_from is not None:
        query = query.where(_events.c.event_time >= plan.time_from)
    if plan.time_to is not None:
        query = query.where(_events.c.event_time < plan.time_to)
    return query


def count_events(session: Session, *, plan: ExportPlan, org: Organization | None) -> int:
    sub = _selection(plan, org).with_only_columns(_events.c.id).subquery()
    return int(session.execute(select(func.count()).select_from(sub)).scalar() or 0)


def _record(row: Sequence[Any]) -> ExportEvent:
    # _COLUMNS after `data` are ExportEvent's remaining fields, in its order.
    (_, batch_id, seq, type_, event_time, offset, recorded_at, actor, location, data, *rest) = row
    return ExportEvent(
        batch_id,
        seq,
        type_,
        as_utc(event_time),
        offset,
        as_utc(recorded_at),
        actor,
        orjson.loads(location) if location is not None else None,
        orjson.loads(data),
        *rest,
    )


def _chunks(engine: Engine, *, plan: ExportPlan) -> Iterator[tuple[Connection, Sequence[Row[Any]]]]:
    """The plan's rows in record order, a chunk at a time, each chunk read on a connection
    of its own that stays open while the chunk is used."""
    org = None
    if plan.org_id is not None:
        with Session(engine) as session:
            org = session.get(Organization, plan.org_id)
        assert org is not None  # organizations are never deleted
    selection = _selection(plan, org)
    last_id = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                selection.where(_events.c.id > last_id).order_by(_events.c.id).limit(CHUNK_EVENTS)
            ).all()
            if not rows:
                return
            yield conn, rows
            last_id = rows[-1].id


def iter_events(engine: Engine, *, plan: ExportPlan) -> Iterator[tuple[ExportEvent, Any]]:
    """The plan's events in record order, each with a finder of the event it corrects."""
    for conn, rows in _chunks(engine, plan=plan):
        for row in rows:
            record = _record(row)
            yield record, _finder(conn, record) if record.type == "correction" else None


def _finder(conn: Any, record: ExportEvent) -> Callable[[int], ExportEvent | None]:
    def find(seq: int) -> ExportEvent | None:
        query = (
            select(*_COLUMNS)
            .select_from(_events)
            .join(_batches, _batches.c.id == _events.c.batch_id)
            .join(_brands, _brands.c.id == _batches.c.brand_id)
            .where(_events.c.batch_id == record.batch_id, _events.c.seq == seq)
        )
        row = conn.execute(query).first()
        return None if row is None else _record(row)

    return find


def load_orgs(engine: Engine) -> dict[str, OrgInfo]:
    with engine.connect() as conn:
        table = Organization.__table__  # type: ignore[attr-defined]
        rows = conn.execute(select(table.c.id, table.c.name, table.c.kind, table.c.county_code))
        return {r.id: OrgInfo(r.id, r.name, str(r.kind), r.county_code) for r in rows}


def _no_target(_: int) -> ExportEvent | None:
    return None


def epcis_document(
    engine: Engine,
    *,
    plan: ExportPlan,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """One EPCISDocument with every planned event, as byte chunks."""
    yield epcis.document_head(base_url, created_at=utcnow(), document_id=f"urn:uuid:{new_id()}")
    buffer = bytearray()
    first = True
    done = 0
    for record, finder in iter_events(engine, plan=plan):
        for mapped in epcis.map_event(base_url, record, corrected=finder or _no_target):
            if not first:
                buffer += b","
            first = False
            buffer += orjson.dumps(mapped)
        done += 1
        if len(buffer) >= FLUSH_BYTES:
            yield bytes(buffer)
            buffer.clear()
            if progress is not None:
                progress(done)
    buffer += epcis.DOCUMENT_TAIL
    yield bytes(buffer)
    if progress is not None:
        progress(done)


def csv_document(
    engine: Engine,
    *,
    plan: ExportPlan,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The FSMA 204 sortable spreadsheet (UTF-8 with BOM), as byte chunks: the header,
    then a piece per CSV_PIECE_EVENTS events."""
    rows = fsma.Rows(load_orgs(engine))
    yield (fsma.BOM + fsma.csv_line(fsma.HEADER)).encode("utf-8")
    done = 0
    line, row = fsma.csv_line, rows.row
    for _, chunk in _chunks(engine, plan=plan):
        for start in range(0, len(chunk), CSV_PIECE_EVENTS):
            piece = chunk[start : start + CSV_PIECE_EVENTS]
            yield "".join([line(row(_record(r))) for r in piece]).encode("utf-8")
        done += len(chunk)
        if progress is not None:
            progress(done)


def export_chunks(
    engine: Engine,
    *,
    plan: ExportPlan,
    format: ExportFormat,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    if format == "epcis":
        return epcis_document(engine, plan=plan, base_url=base_url, progress=progress)
    return csv_document(engine, plan=plan, progress=progress)


def file_name(plan: ExportPlan, format: ExportFormat) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in plan.label)[:80]
    return f"export-{safe}.{SUFFIXES[format]}"
