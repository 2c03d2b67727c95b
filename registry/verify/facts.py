"""What the database knows about a set of label codes, loaded in a fixed number of queries.

The verifier judges codes against these facts. One code or a thousand cost the same four
round trips: batches with their brand, producer and license state; label runs; events with
their actors' names; scan counters.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import bindparam, exists, tuple_
from sqlmodel import Session, col, select

from registry.batches.audit import audit_loaded
from registry.batches.models import Batch, Event
from registry.batches.schemas import AuditReport
from registry.brands.models import Brand, License, LicenseStatus
from registry.labels.models import LabelRun
from registry.orgs.models import Organization
from registry.verify.models import ScanCounter
from registry.verify.scans import CodeKey


class IssuedRun(Protocol):
    """What a verdict reads of a label run: a `LabelRun`, or the cache's light copy."""

    @property
    def first_serial(self) -> int: ...

    @property
    def last_serial(self) -> int: ...

    @property
    def key_id(self) -> str: ...


@dataclass
class Facts:
    batches: dict[tuple[str, str], list[Batch]] = field(default_factory=dict)
    runs: Mapping[str, Sequence[IssuedRun]] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)
    producers: dict[str, Organization] = field(default_factory=dict)
    # batch ids whose producer holds a license for the brand that is active and in force
    licensed: set[str] = field(default_factory=set)
    events: dict[str, list[Event]] = field(default_factory=dict)
    actor_names: dict[str, str] = field(default_factory=dict)
    actor_names_en: dict[str, str] = field(default_factory=dict)  # where an org has one
    counters: dict[CodeKey, tuple[int, datetime]] = field(default_factory=dict)

    def audit(self, batch: Batch) -> AuditReport:
        """The batch's chain audit (see `_AuditMemo`)."""
        return _AUDITS.audit(batch, self.events.get(batch.id, []))


class _AuditMemo:
    """Chain audits remembered per batch, keyed by a digest of every stored field the audit
    reads. An audit is a pure function of those fields, so an unchanged digest means an
    unchanged answer; any edit (a new event, a tampered row) changes the digest and the
    chain is recomputed. The digest (orjson + SHA-256) costs far less than the audit's
    RFC 8785 canonicalization."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._reports: OrderedDict[str, tuple[bytes, AuditReport]] = OrderedDict()

    @staticmethod
    def _digest(batch: Batch, events: list[Event]) -> bytes:
        fields: list[Any] = [batch.id, batch.head_seq, batch.head_hash]
        for e in events:
            fields.append(
                (e.id, e.batch_id, e.seq, e.type, e.event_time, e.event_time_offset,
                 e.recorded_at, e.actor_org_id, e.location, e.data, e.prev_hash, e.hash)
            )  # fmt: skip
        return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_NAIVE_UTC)).digest()

    def audit(self, batch: Batch, events: list[Event]) -> AuditReport:
        digest = self._digest(batch, events)
        with self._lock:
            hit = self._reports.get(batch.id)
            if hit is not None and hit[0] == digest:
                self._reports.move_to_end(batch.id)
                return hit[1]
        report = audit_loaded(batch=batch, events=events)
        with self._lock:
            self._reports[batch.id] = (digest, report)
            self._reports.move_to_end(batch.id)
            while len(self._reports) > self._size:
                self._reports.popitem(last=False)
        return report


_AUDITS = _AuditMemo()


# Built once: each request binds values instead of constructing and caching-keying new
# statements, which costs more than running them on the verification path.
_LICENSED = (
    exists()
    .where(
        col(License.brand_id) == Batch.brand_id,
        col(License.org_id) == Batch.cooperative_org_id,
        col(License.status) == LicenseStatus.active,
        col(License.valid_from) <= bindparam("today"),
        col(License.valid_to) >= bindparam("today"),
    )
    .label("licensed")
)
_BATCHES = (
    select(Batch, Brand, Organization, _LICENSED)
    .join(Brand, col(Brand.id) == Batch.brand_id)
    .join(Organization, col(Organization.id) == Batch.cooperative_org_id)
    .where(tuple_(Batch.gtin, Batch.lot).in_(bindparam("pairs", expanding=True)))
)
_RUNS = select(LabelRun).where(col(LabelRun.batch_id).in_(bindparam("batch_ids", expanding=True)))
_EVENTS = (
    select(Event, Organization.name, Organization.name_en)
    .join(Organization, col(Organization.id) == Event.actor_org_id)
    .where(col(Event.batch_id).in_(bindparam("batch_ids", expanding=True)))
    .order_by(col(Event.batch_id), col(Event.seq), col(Event.id))
)
_COUNTERS = select(ScanCounter).where(
    tuple_(ScanCounter.gtin, ScanCounter.lot, ScanCounter.serial).in_(
        bindparam("codes", expanding=True)
    )
)


def load_facts(
    session: Session, codes: Iterable[CodeKey], *, today: date, with_counters: bool = True
) -> Facts:
    """Batches (with brand, producer and license state), runs, events and scan counters
    for `codes`."""
    keys = sorted(set(codes))
    facts = Facts()
    if not keys:
        return facts
    pairs = sorted({(gtin, lot) for gtin, lot, _ in keys})
    rows = session.exec(_BATCHES, params={"pairs": pairs, "today": today}).all()
    if not rows:
        return facts
    for batch, brand, producer, is_licensed in rows:
        facts.batches.setdefault((batch.gtin or "", batch.lot), []).append(batch)
        facts.brands[brand.id] = brand
        facts.producers[producer.id] = producer
        if is_licensed:
            facts.licensed.add(batch.id)
    batch_ids = sorted(batch.id for batch, *_ in rows)

    runs: dict[str, list[LabelRun]] = defaultdict(list)
    for run in session.exec(_RUNS, params={"batch_ids": batch_ids}):
        runs[run.batch_id].append(run)
    facts.runs = dict(runs)

    events: dict[str, list[Event]] = defaultdict(list)
    for event, actor, actor_en in session.exec(_EVENTS, params={"batch_ids": batch_ids}):
        events[event.batch_id].append(event)
        facts.actor_names[event.actor_org_id] = actor
        if actor_en:
            facts.actor_names_en[event.actor_org_id] = actor_en
    facts.events = dict(events)

    if with_counters:
        facts.counters = {
            (c.gtin, c.lot, c.serial): (c.count, c.first_at)
            for c in session.exec(_COUNTERS, params={"codes": keys})
        }
    return facts
