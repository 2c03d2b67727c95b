"""What the database knows about some lots (GTIN + lot), loaded by one loader in a fixed
number of queries whatever the number of lots: batches with their producer, brands and
licences in force, label runs, events with their actors' names (and English ones), and
each batch head's inclusion proof in the transparency log. The chain audit of each batch
is computed once, when its facts are loaded.

The verification cache (registry/verify/cache.py) stores what this loads; with the cache
off, every request calls it afresh. Nothing else loads lot facts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import String, column, true, tuple_, values
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry.batches.audit import audit_loaded
from registry.batches.models import Batch, Event
from registry.batches.schemas import AuditReport
from registry.brands.models import Brand, License, LicenseStatus
from registry.labels.models import LabelRun
from registry.log.proofs import batch_head_proofs
from registry.log.schemas import HeadProof
from registry.orgs.models import Organization
from registry.scans.rules import CloneSignal, shipping_signal

Lot = tuple[str, str]  # (gtin, lot)


class RunRange(NamedTuple):
    """A label run as verdicts read it: the serials it issued and the key that signed them."""

    first_serial: int
    last_serial: int
    key_id: str


@dataclass
class Facts:
    """The facts of some lots' batches (the input of `judge`)."""

    batches: dict[Lot, list[Batch]] = field(default_factory=dict)
    runs: dict[str, list[RunRange]] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)
    producers: dict[str, Organization] = field(default_factory=dict)
    # batch ids whose producer holds a licence for the brand that is active and in force
    licensed: set[str] = field(default_factory=set)
    events: dict[str, list[Event]] = field(default_factory=dict)
    actor_names: dict[str, str] = field(default_factory=dict)
    actor_names_en: dict[str, str] = field(default_factory=dict)  # where an org has one
    audits: dict[str, AuditReport] = field(default_factory=dict)
    # Each batch head's place in the transparency log, proved against the latest signed
    # checkpoint when it was loaded (a cache refresh picks up a newer checkpoint).
    head_proofs: dict[str, HeadProof] = field(default_factory=dict)
    _shipping: dict[str, CloneSignal | None] = field(default_factory=dict, repr=False)

    def shipping(self, batch_id: str) -> CloneSignal | None:
        """`shipping_signal` of the batch's events, worked out once per loaded facts (every
        consumer scan of the batch asks)."""
        if batch_id not in self._shipping:
            types = [e.type for e in self.events.get(batch_id, [])]
            self._shipping[batch_id] = shipping_signal(types)
        return self._shipping[batch_id]

    def merge(self, other: Facts) -> None:
        self.batches.update(other.batches)
        self.runs.update(other.runs)
        self.brands.update(other.brands)
        self.producers.update(other.producers)
        self.licensed |= other.licensed
        self.events.update(other.events)
        self.actor_names.update(other.actor_names)
        self.actor_names_en.update(other.actor_names_en)
        self.audits.update(other.audits)
        self.head_proofs.update(other.head_proofs)
        self._shipping.update(other._shipping)


def _chains(session: Session, batch_ids: list[str]) -> Any:
    """The batches' events with their actors' names, in (batch_id, seq) order. On
    PostgreSQL each batch's chain is read on its own along the (batch_id, seq) index (a
    lateral subquery per batch, which `OFFSET 0` keeps the planner from merging into a
    join): as `batch_id IN (...)`, a few dozen batches were planned as a walk of every
    event of the registry, with statistics or without."""
    if session.get_bind().dialect.name != "postgresql":
        return (
            select(Event, Organization.name, Organization.name_en)
            .join(Organization, col(Organization.id) == Event.actor_org_id)
            .where(col(Event.batch_id).in_(batch_ids))
            .order_by(col(Event.batch_id), col(Event.seq), col(Event.id))
        )
    wanted = values(column("id", String()), name="wanted").data([(b,) for b in batch_ids])
    chain = select(Event).where(Event.batch_id == wanted.c.id).offset(0).lateral("chain")
    event = aliased(Event, chain)
    return (
        select(event, Organization.name, Organization.name_en)
        .select_from(wanted)
        .join(chain, true())
        .join(Organization, col(Organization.id) == event.actor_org_id)
        .order_by(col(event.batch_id), col(event.seq), col(event.id))
    )


def load_lots(session: Session, lots: Sequence[Lot], *, today: date) -> dict[Lot, Facts]:
    """The facts of each lot (an unknown lot gets empty facts). The licence-in-force rule
    (active, `valid_from <= today <= valid_to`) is written here and nowhere else."""
    found: dict[Lot, Facts] = {lot: Facts() for lot in lots}
    if not lots:
        return found
    rows = session.exec(
        select(Batch, Organization)
        .join(Organization, col(Organization.id) == Batch.cooperative_org_id)
        .where(tuple_(Batch.gtin, Batch.lot).in_(sorted(set(lots))))
        .order_by(col(Batch.created_at), col(Batch.id))
    ).all()
    if not rows:
        return found
    batch_ids = [batch.id for batch, _ in rows]
    brand_ids = sorted({batch.brand_id for batch, _ in rows})
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))}
    licensed_pairs = set(
        session.exec(
            select(License.brand_id, License.org_id).where(
                col(License.brand_id).in_(brand_ids),
                License.status == LicenseStatus.active,
                col(License.valid_from) <= today,
                col(License.valid_to) >= today,
            )
        )
    )
    runs: dict[str, list[RunRange]] = defaultdict(list)
    for batch_id, first, last, key_id in session.exec(
        select(LabelRun.batch_id, LabelRun.first_serial, LabelRun.last_serial, LabelRun.key_id)
        .where(col(LabelRun.batch_id).in_(batch_ids))
        .order_by(col(LabelRun.first_serial))
    ):
        runs[batch_id].append(RunRange(first, last, key_id))
    events: dict[str, list[Event]] = defaultdict(list)
    actor_names: dict[str, str] = {}
    actor_names_en: dict[str, str] = {}
    for event, actor, actor_en in session.exec(_chains(session, batch_ids)):
        events[event.batch_id].append(event)
        actor_names[event.actor_org_id] = actor
        if actor_en:
            actor_names_en[event.actor_org_id] = actor_en
    proofs = batch_head_proofs(session, [(batch.id, batch.head_seq) for batch, _ in rows])
    for batch, producer in rows:
        facts = found[(batch.gtin or "", batch.lot)]
        facts.batches.setdefault((batch.gtin or "", batch.lot), []).append(batch)
        facts.runs[batch.id] = runs.get(batch.id, [])
        facts.brands[batch.brand_id] = brands[batch.brand_id]
        facts.producers[producer.id] = producer
        if (batch.brand_id, batch.cooperative_org_id) in licensed_pairs:
            facts.licensed.add(batch.id)
        facts.events[batch.id] = events.get(batch.id, [])
        for event in facts.events[batch.id]:
            facts.actor_names[event.actor_org_id] = actor_names[event.actor_org_id]
            if event.actor_org_id in actor_names_en:
                facts.actor_names_en[event.actor_org_id] = actor_names_en[event.actor_org_id]
        facts.audits[batch.id] = audit_loaded(batch=batch, events=facts.events[batch.id])
        facts.head_proofs[batch.id] = proofs[batch.id]
    return found
