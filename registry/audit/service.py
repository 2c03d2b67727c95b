"""Trace, brand-wide mass balance and the alerts list, for regulators and the parties of a
chain. Read-only; every query is limited by `scope.visible_batches`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, true
from sqlmodel import Session, col, select

from registry.alerts.models import Alert
from registry.audit.balance import BatchBalance, Discrepancy, Hop, TimedEvent, replay_balance
from registry.audit.exceptions import InvalidAuditQuery, LotNotFound
from registry.audit.schemas import (
    AlertPublic,
    BatchBalancePublic,
    BatchTrace,
    CooperativeBalance,
    DiscrepancyPublic,
    HarvestStep,
    HoldingPublic,
    HopPublic,
    MassBalanceReport,
    OrgRef,
    ReceiptStep,
    StepBack,
    Totals,
    TraceAnswer,
)
from registry.audit.scope import SEE_ALL, check_batch, check_brand, visible_batches
from registry.batches.ledger import EPSILON_KG, LedgerEvent
from registry.batches.models import Batch, Event
from registry.batches.service import get_batch, load_events
from registry.brands.models import Brand, License, LicenseStatus
from registry.core.pagination import Page, decode_cursor, encode_cursor, parse_instant
from registry.core.time import as_utc, in_offset, rfc3339_utc
from registry.orgs.models import Organization, OrgKind


class _Orgs:
    """Organization names by id, loaded once each per answer."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._known: dict[str, OrgRef] = {}

    def __call__(self, org_id: str) -> OrgRef:
        if org_id not in self._known:
            org = self._session.get(Organization, org_id)
            self._known[org_id] = (
                OrgRef(id=org.id, name=org.name, kind=str(org.kind))
                if org is not None
                else OrgRef(id=org_id, name="(unknown organization)", kind="unknown")
            )
        return self._known[org_id]


def _timed(events: Iterable[Event]) -> list[TimedEvent]:
    return [
        TimedEvent(
            LedgerEvent(e.seq, e.type, e.actor_org_id, e.data),
            in_offset(e.event_time, e.event_time_offset).isoformat(),
        )
        for e in events
    ]


# --- trace ----------------------------------------------------------------------------


def _hop(hop: Hop, orgs: _Orgs) -> HopPublic:
    return HopPublic(
        from_org=orgs(hop.from_org_id),
        to_org=orgs(hop.to_org_id),
        shipped_kg=hop.shipped_kg,
        shipped_at=hop.shipped_at,
        shipped_seq=hop.shipped_seq,
        reference_doc=hop.reference_doc,
        received_kg=hop.received_kg,
        receipts=[ReceiptStep(**r) for r in hop.received],
    )


def _trace_batch(session: Session, batch: Batch, orgs: _Orgs) -> BatchTrace:
    balance = replay_balance(
        batch.id, batch.cooperative_org_id, _timed(load_events(session, batch.id))
    )
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    path = [_hop(h, orgs) for h in balance.hops]
    return BatchTrace(
        batch_id=batch.id,
        brand=brand.slug,
        lot=batch.lot,
        gtin=batch.gtin,
        product=batch.product,
        status=str(batch.status),
        one_step_back=StepBack(
            supplier=orgs(batch.cooperative_org_id),
            harvests=[HarvestStep(**h) for h in balance.harvests],
        ),
        one_step_forward=[h for h in path if h.from_org.id == batch.cooperative_org_id],
        custody_path=path,
        holders=[HoldingPublic(org=orgs(o), kg=kg) for o, kg in balance.held_kg.items()],
        in_transit_kg=balance.in_transit_kg,
        sold=[HoldingPublic(org=orgs(o), kg=kg) for o, kg in balance.sold_by_org.items()],
    )


def trace(
    session: Session,
    *,
    org: Organization,
    batch_id: str | None = None,
    gtin: str | None = None,
    lot: str | None = None,
) -> TraceAnswer:
    """Where a lot came from, where it went and who holds it now (per matching batch)."""
    if (batch_id is None) == (lot is None) or (gtin is None) != (lot is None):
        raise InvalidAuditQuery("give batch_id=, or gtin= with lot=")
    if batch_id is not None:
        batches = [get_batch(session, batch_id)]
    else:
        batches = list(
            session.exec(
                select(Batch).where(Batch.gtin == gtin, Batch.lot == lot).order_by(col(Batch.id))
            )
        )
        if not batches:
            raise LotNotFound(f"no batch with GTIN {gtin} and lot {lot!r}")
    for batch in batches:
        check_batch(session, org, batch)
    orgs = _Orgs(session)
    return TraceAnswer(items=[_trace_batch(session, b, orgs) for b in batches])


# --- mass balance ---------------------------------------------------------------------


def _discrepancy(d: Discrepancy) -> DiscrepancyPublic:
    return DiscrepancyPublic(kind=d.kind, detail=d.detail, numbers=d.numbers, events=d.events)


def _chains(
    session: Session, org: Organization, brand: Brand
) -> Iterator[tuple[Batch, list[Event]]]:
    """Every visible batch of the brand with its events, one batch in memory at a time."""
    batches = {
        b.id: b
        for b in session.exec(select(Batch).where(Batch.brand_id == brand.id, visible_batches(org)))
    }
    rows = session.exec(
        select(Event)
        .where(
            col(Event.batch_id).in_(
                select(Batch.id).where(Batch.brand_id == brand.id, visible_batches(org))
            )
        )
        .order_by(col(Event.batch_id), col(Event.seq))
        .execution_options(yield_per=2000)
    )
    for batch_id, events in itertools.groupby(rows, key=lambda e: e.batch_id):
        if batch_id in batches:
            yield batches[batch_id], list(events)


def _quota(session: Session, brand: Brand, org_id: str, year: int) -> float | None:
    lic = session.exec(
        select(License)
        .where(
            License.brand_id == brand.id,
            License.org_id == org_id,
            License.status == LicenseStatus.active,
            col(License.valid_from) <= date(year, 12, 31),
            col(License.valid_to) >= date(year, 1, 1),
        )
        .order_by(col(License.valid_from))
    ).first()
    return None if lic is None else lic.annual_quota_kg


def _batch_public(batch: Batch, b: BatchBalance, year: int) -> BatchBalancePublic:
    return BatchBalancePublic(
        batch_id=batch.id,
        lot=batch.lot,
        gtin=batch.gtin,
        status=str(batch.status),
        harvested_kg=b.harvested_kg,
        harvested_kg_in_year=b.harvested_kg_by_year.get(year, 0.0),
        packed_units=b.packed_units,
        packed_kg=b.packed_kg,
        labels_issued=b.labels_issued,
        shipped_kg=b.shipped_kg,
        received_kg=b.received_kg,
        sold_kg=b.sold_kg,
        held_kg=b.held_kg,
        in_transit_kg=b.in_transit_kg,
        recalled=b.recalled,
        discrepancies=[_discrepancy(d) for d in b.discrepancies],
    )


def _add(totals: Totals, b: BatchBalancePublic) -> None:
    totals.harvested_kg += b.harvested_kg_in_year
    totals.packed_units += b.packed_units
    totals.packed_kg += b.packed_kg
    totals.labels_issued += b.labels_issued
    totals.shipped_kg += b.shipped_kg
    totals.received_kg += b.received_kg
    totals.sold_kg += b.sold_kg


def mass_balance(
    session: Session, *, org: Organization, brand: str, year: int
) -> MassBalanceReport:
    """Per cooperative and batch of the brand: a batch belongs to `year` if it has a
    harvest dated in it (or, never harvested, was registered in it)."""
    the_brand = check_brand(session, org, brand)
    orgs = _Orgs(session)
    per_coop: dict[str, CooperativeBalance] = {}
    harvest_refs: dict[str, list[dict[str, Any]]] = {}
    for batch, events in _chains(session, org, the_brand):
        balance = replay_balance(batch.id, batch.cooperative_org_id, _timed(events))
        in_year = year in balance.harvested_kg_by_year or (
            balance.harvested_kg == 0 and as_utc(batch.created_at).year == year
        )
        if not in_year:
            continue
        coop_id = batch.cooperative_org_id
        coop = per_coop.get(coop_id)
        if coop is None:
            coop = per_coop[coop_id] = CooperativeBalance(
                org=orgs(coop_id),
                quota_kg=None,
                quota_used_kg=None,
                totals=Totals(),
                batches=[],
                discrepancies=[],
            )
        public = _batch_public(batch, balance, year)
        coop.batches.append(public)
        _add(coop.totals, public)
        harvest_refs.setdefault(coop_id, []).extend(
            {"batch_id": batch.id, "seq": h["seq"], "type": "harvested"}
            for h in balance.harvests
            if str(h["harvest_date"]).startswith(f"{year:04d}")
        )
    sees_quota = org.kind in SEE_ALL or org.kind == OrgKind.brand_owner
    for coop_id, coop in per_coop.items():
        if not (sees_quota or org.id == coop_id):
            continue
        coop.quota_kg = _quota(session, the_brand, coop_id, year)
        coop.quota_used_kg = coop.totals.harvested_kg
        if coop.quota_kg is None or coop.quota_used_kg > coop.quota_kg + EPSILON_KG:
            limit = coop.quota_kg or 0.0
            coop.discrepancies.append(
                DiscrepancyPublic(
                    kind="quota_exceeded",
                    detail=f"{coop.org.name} harvested {coop.quota_used_kg:g} kg in {year}, "
                    + (
                        f"over its quota of {limit:g} kg"
                        if coop.quota_kg is not None
                        else "with no licence covering the year"
                    ),
                    numbers={"harvested_kg": coop.quota_used_kg, "quota_kg": limit},
                    events=harvest_refs.get(coop_id, []),
                )
            )
    cooperatives = sorted(per_coop.values(), key=lambda c: (c.org.name, c.org.id))
    for coop in cooperatives:
        coop.batches.sort(key=lambda b: (b.lot, b.batch_id))
    everything = [
        d
        for coop in cooperatives
        for d in [*coop.discrepancies, *(d for b in coop.batches for d in b.discrepancies)]
    ]
    return MassBalanceReport(
        brand=the_brand.slug,
        year=year,
        reconciles=not everything,
        cooperatives=cooperatives,
        discrepancies=everything,
    )


# --- alerts ---------------------------------------------------------------------------


def _visible_alerts(org: Organization) -> Any:
    if org.kind in SEE_ALL:
        return true()
    batches = select(Batch.id).where(visible_batches(org))
    condition: Any = col(Alert.batch_id).in_(batches)
    if org.kind == OrgKind.brand_owner:
        owned = select(Brand.id).where(Brand.owner_org_id == org.id)
        condition = or_(condition, col(Alert.brand_id).in_(owned))
    return condition


def list_alerts(
    session: Session,
    *,
    org: Organization,
    brand: str | None,
    kind: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[AlertPublic]:
    """Alerts newest first (by when they were first raised), a page at a time."""
    query = select(Alert).where(_visible_alerts(org))
    if brand is not None:
        query = query.where(Alert.brand_id == check_brand(session, org, brand).id)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if since is not None:
        query = query.where(col(Alert.created_at) >= since)
    if cursor is not None:
        at_text, last_id = decode_cursor(cursor, str, str)
        at = parse_instant(at_text)
        query = query.where(
            or_(
                col(Alert.created_at) < at,
                and_(col(Alert.created_at) == at, col(Alert.id) < last_id),
            )
        )
    rows = list(
        session.exec(
            query.order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit + 1)
        )
    )
    items = [
        AlertPublic(
            id=a.id,
            kind=str(a.kind),
            subject=a.subject,
            gtin=a.gtin,
            lot=a.lot,
            serial=a.serial,
            batch_id=a.batch_id,
            brand_id=a.brand_id,
            detail=a.detail,
            occurrences=a.occurrences,
            created_at=as_utc(a.created_at),
            last_seen_at=as_utc(a.last_seen_at),
        )
        for a in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(rfc3339_utc(last.created_at), last.id)
    return Page[AlertPublic](items=items, next_cursor=next_cursor)
