"""Read-only queries behind the console pages: batch stages, quota use this year, the
handlers to ship to, a handler's goods in transit and held, a batch's label runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from registry.batches.ledger import EPSILON_KG, Ledger
from registry.batches.models import Batch, BatchStatus, Event
from registry.batches.service import harvested_kg_in_year, ledger_of, shipped_to
from registry.brands.models import Brand, License, LicenseStatus
from registry.jobs.models import Job
from registry.labels.models import LabelRun
from registry.orgs.models import Organization, OrgKind

STAGES = ("registered", "harvested", "packed", "labelled", "shipped", "recalled")


def stage_of(batch: Batch, ledger: Ledger) -> str:
    """How far the batch has come: the furthest of harvested, packed, labelled, shipped."""
    if batch.status == BatchStatus.recalled or ledger.recalled:
        return "recalled"
    if ledger.shipped_any:
        return "shipped"
    if ledger.labels_issued:
        return "labelled"
    if ledger.packed_units:
        return "packed"
    if ledger.harvested_kg > EPSILON_KG:
        return "harvested"
    return "registered"


@dataclass(frozen=True)
class BatchRow:
    batch: Batch
    brand: Brand
    ledger: Ledger
    stage: str


def batch_row(session: Session, batch: Batch) -> BatchRow:
    ledger = ledger_of(session, batch)
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    return BatchRow(batch, brand, ledger, stage_of(batch, ledger))


@dataclass(frozen=True)
class QuotaUse:
    brand: Brand
    year: int
    harvested_kg: float
    quota_kg: float

    @property
    def percent(self) -> int:
        return round(100 * self.harvested_kg / self.quota_kg) if self.quota_kg else 100


def quota_use(session: Session, *, org: Organization, today: date) -> list[QuotaUse]:
    """Per licensed brand: this year's harvested kg against the licence in force today."""
    if org.kind != OrgKind.cooperative:
        return []
    rows = session.exec(
        select(License, Brand)
        .join(Brand, col(Brand.id) == col(License.brand_id))
        .where(
            License.org_id == org.id,
            License.status == LicenseStatus.active,
            License.valid_from <= today,
            License.valid_to >= today,
        )
        .order_by(col(Brand.slug))
    ).all()
    return [
        QuotaUse(
            brand,
            today.year,
            harvested_kg_in_year(session, brand_id=brand.id, org_id=org.id, year=today.year),
            lic.annual_quota_kg,
        )
        for lic, brand in rows
    ]


def licensed_brands(session: Session, *, org: Organization, today: date) -> list[Brand]:
    return [use.brand for use in quota_use(session, org=org, today=today)]


def organizations_of_kind(session: Session, kind: OrgKind) -> list[Organization]:
    return list(
        session.exec(select(Organization).where(Organization.kind == kind).order_by("name"))
    )


def org_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.exec(select(Organization).where(col(Organization.id).in_(ids))).all()
    return {o.id: o.name for o in rows}


@dataclass(frozen=True)
class Goods:
    row: BatchRow
    from_org_id: str
    from_name: str
    in_transit_kg: float  # shipped to me from `from_org_id`, not yet received
    held_kg: float  # what I hold of the batch


def goods_of(session: Session, *, org: Organization) -> list[Goods]:
    """Batches shipped to the org: what is still on its way and what it holds."""
    batch_ids = select(Event.batch_id).where(shipped_to(org.id)).distinct()
    batches = session.exec(
        select(Batch).where(col(Batch.id).in_(batch_ids)).order_by(col(Batch.updated_at).desc())
    ).all()
    goods = []
    for batch in batches:
        row = batch_row(session, batch)
        senders = {src for (src, dst) in row.ledger.in_transit_kg if dst == org.id}
        names = org_names(session, senders | {batch.cooperative_org_id})
        held = row.ledger.held_kg.get(org.id, 0.0)
        pending = [
            (src, kg)
            for (src, dst), kg in row.ledger.in_transit_kg.items()
            if dst == org.id and kg > EPSILON_KG
        ]
        if not pending:
            src = batch.cooperative_org_id
            goods.append(Goods(row, src, names.get(src, src), 0.0, held))
        for src, kg in pending:
            goods.append(Goods(row, src, names.get(src, src), kg, held))
    return goods


def label_runs(session: Session, *, batch_id: str) -> list[LabelRun]:
    return list(
        session.exec(
            select(LabelRun)
            .where(LabelRun.batch_id == batch_id)
            .order_by(col(LabelRun.first_serial))
        )
    )


def run_jobs(session: Session, *, run_ids: list[str], org_id: str) -> dict[str, Job]:
    """The newest sheet job of each run that the org asked for."""
    if not run_ids:
        return {}
    # The org's recent jobs (finished ones expire after a few days anyway), newest first.
    jobs = session.exec(
        select(Job)
        .where(Job.owner_org_id == org_id)
        .order_by(col(Job.created_at).desc())
        .limit(500)
    ).all()
    latest: dict[str, Job] = {}
    for job in jobs:
        run_id = job.params.get("run_id")
        if run_id in run_ids and run_id not in latest:
            latest[run_id] = job
    return latest


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")
