"""A bounded in-process cache of what verification reads from the database, so a code whose
lot was verified recently is judged without a database round trip.

It holds the published key set, and per (GTIN, lot): the batches with their label runs,
events (timeline, chain audit), brand and license state, producer, the verdict's
batch-dependent JSON parts rendered once, and the lot's stored scan counters.

Freshness (registry/verify/invalidation.py publishes the changes):
- keys, batches, events, runs, brands and licenses are checked against the change board
  before every use: with Redis (REGISTRY_REDIS_URL) one MGET per request or bulk call, and
  a change committed by any process is seen by the next request everywhere; without Redis
  a change made in this process is seen at once, one made by another process within
  REGISTRY_VERIFY_CACHE_TTL seconds. Everything is reloaded at least that often, which
  also bounds writes that bypass the ORM (raw SQL).
- scan counters: this process's own recorder writes are added as they commit (and its
  pending scans are counted by the caller, as before); scans written by other processes
  (or by Celery workers draining the Redis stream) show within the TTL.
- license validity is a date range: state loaded for one day is never used on another.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any, NamedTuple

import orjson
from pydantic import TypeAdapter
from sqlalchemy import Engine, bindparam, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.batches.audit import audit_loaded
from registry.batches.models import Batch, Event
from registry.batches.schemas import AuditReport
from registry.brands.models import Brand, License, LicenseStatus
from registry.core.changes import ChangeBoard, change_board
from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.time import as_utc
from registry.labels.models import LabelRun
from registry.labels.service import published_key_set
from registry.orgs.models import Organization
from registry.verify.facts import Facts, IssuedRun
from registry.verify.invalidation import KEYS_TOPIC, brand_topic, lot_topic
from registry.verify.models import ScanCounter
from registry.verify.scans import CodeKey, ScanRecord, ScanRecorder
from registry.verify.schemas import ChainInfo, TimelineEntry
from registry.verify.service import describe_batch
from registry.verify.signature import KeySet

log = logging.getLogger(__name__)
Lot = tuple[str, str]  # (gtin, lot)
_TIMELINE = TypeAdapter(list[TimelineEntry])


class CachedFacts(Facts):
    """Facts whose chain audits were computed when they were loaded."""

    def __init__(self, audits: dict[str, AuditReport], **fields: Any) -> None:
        super().__init__(**fields)
        self.audits = audits

    def audit(self, batch: Batch) -> AuditReport:
        return self.audits[batch.id]


@dataclass(frozen=True)
class BatchParts:
    """The verdict's members that depend only on the batch, as ready-made JSON."""

    brand: orjson.Fragment
    producer: orjson.Fragment
    batch: orjson.Fragment
    timeline: orjson.Fragment
    chain: orjson.Fragment


@dataclass
class _LotEntry:
    facts: CachedFacts
    parts: dict[str, BatchParts]
    topics: tuple[str, ...]
    tokens: tuple[str | None, ...]
    day: date
    expires: float


@dataclass
class _CountEntry:
    by_serial: dict[str, list[Any]]  # serial -> [count, first_at]
    expires: float


@dataclass
class _Held:
    """Cached parts found for a request, and the tokens they were loaded under."""

    keys: tuple[KeySet, str | None, float]
    lots: list[Lot]
    entries: list[_LotEntry]
    counts: dict[Lot, dict[str, list[Any]]]
    topics: list[str]
    expected: list[str | None]


@dataclass
class View:
    """What verifying codes of some lots needs, consistent as of one check."""

    keys: KeySet
    facts: Facts
    parts: dict[str, BatchParts]
    counts: dict[Lot, dict[str, list[Any]]] = field(default_factory=dict)

    def stored_count(self, key: CodeKey) -> tuple[int, datetime | None]:
        entry = self.counts.get((key[0], key[1]), {}).get(key[2])
        return (0, None) if entry is None else (int(entry[0]), entry[1])


class VerifyCache:
    def __init__(
        self, engine: Engine, *, board: ChangeBoard, ttl: float, max_lots: int = 4096
    ) -> None:
        self._engine = engine
        self._board = board
        self._ttl = ttl
        self._max_lots = max_lots
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._keys: tuple[KeySet, str | None, float] | None = None
        self._lots: OrderedDict[tuple[Lot, date], _LotEntry] = OrderedDict()
        self._counts: OrderedDict[Lot, _CountEntry] = OrderedDict()
        self._recorders: list[ScanRecorder] = []
        self._refreshing: set[Hashable] = set()

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> VerifyCache:
        return cls(engine, board=change_board(settings.redis_url), ttl=settings.verify_cache_ttl)

    def clear(self) -> None:
        """Forget everything (the next use of each part reloads it)."""
        with self._lock:
            self._keys = None
            self._lots.clear()
            self._counts.clear()

    # --- the request side: no database -------------------------------------------------

    def current(self, lots: Sequence[Lot], today: date, *, counts: bool) -> View | None:
        """The cached view of `lots` if every part of it is present and unchanged, else
        None (then `load`). Costs one change-board read (one Redis MGET, or none locally).

        Parts past their time-to-live still serve while one background thread reloads
        them, so expiry never makes a request wait; a change signalled on the board
        always does (the tokens differ, and None is returned)."""
        held = self._held(lots, today, counts=counts)
        if held is None:
            return None
        try:
            tokens = self._board.tokens(held.topics)
        except Exception:  # Redis unreachable: load from the database
            return None
        return self._checked(held, tokens, today)

    async def current_async(self, lots: Sequence[Lot], today: date, *, counts: bool) -> View | None:
        """`current` for the event loop: the Redis read does not block the loop."""
        held = self._held(lots, today, counts=counts)
        if held is None:
            return None
        try:
            tokens = await self._board.tokens_async(held.topics)
        except Exception:
            return None
        return self._checked(held, tokens, today)

    def _held(self, lots: Sequence[Lot], today: date, *, counts: bool) -> _Held | None:
        keys = self._keys
        if keys is None or self._ttl == 0:  # 0: no cache, every request loads
            return None
        entries = []
        for lot in lots:
            entry = self._lots.get((lot, today))
            if entry is None:
                return None
            entries.append(entry)
        count_maps: dict[Lot, dict[str, list[Any]]] = {}
        if counts:
            now = time.monotonic()
            for lot in lots:
                count_entry = self._counts.get(lot)
                if count_entry is None:
                    return None
                if count_entry.expires <= now:
                    self._refresh_soon(("counts", lot), partial(self._reload_counts, lot))
                count_maps[lot] = count_entry.by_serial
        topics = [KEYS_TOPIC]
        expected: list[str | None] = [keys[1]]
        for entry in entries:
            topics.extend(entry.topics)
            expected.extend(entry.tokens)
        return _Held(keys, list(lots), entries, count_maps, topics, expected)

    def _checked(self, held: _Held, tokens: list[str | None], today: date) -> View | None:
        if tokens != held.expected:
            return None
        now = time.monotonic()
        stale = tuple(
            lot for lot, e in zip(held.lots, held.entries, strict=True) if e.expires <= now
        )
        if stale or held.keys[2] <= now:
            self._refresh_soon(("lots", stale), partial(self.load, stale, today, counts=False))
        return self._view(held.keys[0], held.entries, held.counts)

    # --- the loading side: database, in a worker thread ---------------------------------

    def load(self, lots: Sequence[Lot], today: date, *, counts: bool) -> View:
        """Load what is missing, expired or changed, store it, and return the view. However
        many lots, a fixed number of queries: keys, then the stale lots' batches, brands,
        licenses, runs, events and scan counters."""
        lots = list(dict.fromkeys(lots))
        # One loader at a time: requests that missed together find the first one's rows.
        with self._load_lock, unit_of_work(self._engine) as session:
            keys = self._load_keys(session)
            entries = self._load_lots(session, lots, today)
            count_maps = self._load_counts(session, lots) if counts else {}
        return self._view(keys, [entries[lot] for lot in lots], count_maps)

    def _expiry(self) -> float:
        # Spread within the last fifth of the TTL, so lots loaded together do not all
        # expire together.
        return time.monotonic() + self._ttl * random.uniform(0.8, 1.0)

    def _tokens(self, topics: list[str]) -> tuple[str | None, ...] | None:
        """Current tokens, read before the rows they guard; None if Redis is unreachable
        (the rows are then used for this request only, never stored)."""
        try:
            return tuple(self._board.tokens(topics))
        except Exception:
            log.warning("change board unreachable; verifying without the cache")
            return None

    def _load_keys(self, session: Session) -> KeySet:
        keys = self._keys
        tokens = self._tokens([KEYS_TOPIC])
        if keys is not None and keys[2] > time.monotonic() and tokens == (keys[1],):
            return keys[0]
        key_set = published_key_set(session)
        if tokens is not None:
            self._keys = (key_set, tokens[0], self._expiry())
        return key_set

    def _load_lots(self, session: Session, lots: list[Lot], today: date) -> dict[Lot, _LotEntry]:
        found: dict[Lot, _LotEntry] = {}
        now = time.monotonic()
        held = {lot: e for lot in lots if (e := self._lots.get((lot, today))) and e.expires > now}
        if held:
            topics = [t for e in held.values() for t in e.topics]
            tokens = self._tokens(topics) or ()
            at = 0
            for lot, entry in held.items():
                if tuple(tokens[at : at + len(entry.topics)]) == entry.tokens:
                    found[lot] = entry
                at += len(entry.topics)
        stale = [lot for lot in lots if lot not in found]
        if not stale:
            return found
        lot_tokens = self._tokens([lot_topic(g, lot) for g, lot in stale])
        rows = session.exec(
            select(Batch, Organization)
            .join(Organization, col(Organization.id) == Batch.cooperative_org_id)
            .where(tuple_(Batch.gtin, Batch.lot).in_(stale))
            .order_by(col(Batch.created_at), col(Batch.id))
        ).all()
        brand_ids = sorted({batch.brand_id for batch, _ in rows})
        brand_tokens = self._tokens([brand_topic(b) for b in brand_ids])
        facts = _load_facts(session, rows, brand_ids, today)
        by_lot: dict[Lot, list[tuple[Batch, Organization]]] = defaultdict(list)
        for batch, org in rows:
            by_lot[(batch.gtin or "", batch.lot)].append((batch, org))
        brand_token = dict(zip(brand_ids, brand_tokens or (), strict=False))
        expires = self._expiry()
        for index, lot in enumerate(stale):
            lot_facts = facts.of(by_lot.get(lot, []))
            lot_brands = sorted({batch.brand_id for batch, _ in by_lot.get(lot, [])})
            entry = _LotEntry(
                facts=lot_facts,
                parts={b.id: _render(b, lot_facts) for b, _ in by_lot.get(lot, [])},
                topics=(lot_topic(*lot), *(brand_topic(b) for b in lot_brands)),
                tokens=(
                    lot_tokens[index] if lot_tokens else None,
                    *(brand_token.get(b) for b in lot_brands),
                ),
                day=today,
                expires=expires,
            )
            found[lot] = entry
            # Unknown lots are not kept (made-up codes must not push real lots out), nor
            # anything read while the change board was unreachable.
            if lot in by_lot and lot_tokens is not None and brand_tokens is not None:
                with self._lock:
                    self._lots[(lot, today)] = entry
                    self._lots.move_to_end((lot, today))
                    while len(self._lots) > self._max_lots:
                        self._lots.popitem(last=False)
        return found

    def _refresh_soon(self, job: Hashable, work: Callable[[], object]) -> None:
        """Run `work` in a background thread unless the same job is already running."""
        with self._lock:
            if job in self._refreshing:
                return
            self._refreshing.add(job)

        def refresh() -> None:
            try:
                work()
            except Exception:
                log.exception("verification cache refresh %s failed", job)
            finally:
                with self._lock:
                    self._refreshing.discard(job)

        threading.Thread(target=refresh, name="verify-cache-refresh", daemon=True).start()

    def _reload_counts(self, lot: Lot) -> None:
        """Re-read a lot's counters: other processes' scans then show."""
        with unit_of_work(self._engine) as session:
            self._load_counts(session, [lot], reread=True)

    def _load_counts(
        self, session: Session, lots: list[Lot], *, reread: bool = False
    ) -> dict[Lot, dict[str, list[Any]]]:
        found: dict[Lot, dict[str, list[Any]]] = {}
        for lot in lots:
            cached = self._counts.get(lot)
            if cached is not None and not reread:
                found[lot] = cached.by_serial
        stale = [lot for lot in lots if lot not in found]
        if not stale:
            return found
        # With this process's recorder paused, every write it committed has been added to
        # the cached counters already, and none is half done: the rows read are exact.
        with ExitStack() as paused:
            for recorder in self._recorders:
                paused.enter_context(recorder.paused())
            for lot in stale:
                found[lot] = {}
            for gtin, lot_text, serial, count, first_at in session.execute(
                _COUNTERS, {"lots": stale}
            ):
                found[(gtin, lot_text)][serial] = [count, as_utc(first_at)]
            with self._lock:
                expires = self._expiry()
                for lot in stale:
                    self._counts[lot] = _CountEntry(found[lot], expires)
                    self._counts.move_to_end(lot)
                while len(self._counts) > self._max_lots:
                    self._counts.popitem(last=False)
        return found

    # --- this process's scan recorder --------------------------------------------------

    def attach(self, recorder: ScanRecorder) -> None:
        """Follow this process's in-process scan buffer: its committed writes are added
        to the cached counters, and counters are read while it is paused."""
        recorder.listeners.append(self)
        self._recorders.append(recorder)

    def scans_written(self, scans: list[ScanRecord]) -> None:
        """Add committed scans to the cached counters, so the stored count stays exact
        for this process's own scans once they leave the recorder's pending list."""
        with self._lock:
            for scan in scans:
                entry = self._counts.get((scan.gtin, scan.lot))
                if entry is None:
                    continue
                counter = entry.by_serial.get(scan.serial)
                if counter is None:
                    entry.by_serial[scan.serial] = [1, as_utc(scan.scanned_at)]
                else:
                    counter[0] += 1
                    at = as_utc(scan.scanned_at)
                    if counter[1] is None or at < counter[1]:
                        counter[1] = at

    # --- views ----------------------------------------------------------------------------

    @staticmethod
    def _view(
        keys: KeySet, entries: list[_LotEntry], counts: dict[Lot, dict[str, list[Any]]]
    ) -> View:
        if len(entries) == 1:
            return View(keys=keys, facts=entries[0].facts, parts=entries[0].parts, counts=counts)
        merged = CachedFacts(audits={})
        runs: dict[str, Sequence[IssuedRun]] = {}
        parts: dict[str, BatchParts] = {}
        for entry in entries:
            f = entry.facts
            merged.batches.update(f.batches)
            runs.update(f.runs)
            merged.brands.update(f.brands)
            merged.producers.update(f.producers)
            merged.licensed |= f.licensed
            merged.events.update(f.events)
            merged.actor_names.update(f.actor_names)
            merged.actor_names_en.update(f.actor_names_en)
            merged.audits.update(f.audits)
            parts.update(entry.parts)
        merged.runs = runs
        return View(keys=keys, facts=merged, parts=parts, counts=counts)


_COUNTERS = sa_select(
    col(ScanCounter.gtin),
    col(ScanCounter.lot),
    col(ScanCounter.serial),
    col(ScanCounter.count),
    col(ScanCounter.first_at),
).where(tuple_(col(ScanCounter.gtin), col(ScanCounter.lot)).in_(bindparam("lots", expanding=True)))


class RunRange(NamedTuple):
    """A label run as verdicts read it (plain attributes: bulk checks read them per code)."""

    first_serial: int
    last_serial: int
    key_id: str


@dataclass
class _Loaded:
    """Brands, license state, runs and events of some batches, loaded together."""

    brands: dict[str, Brand]
    licensed_pairs: set[tuple[str, str]]
    runs: dict[str, list[RunRange]]
    events: dict[str, list[Event]]
    actor_names: dict[str, str]
    actor_names_en: dict[str, str]

    def of(self, rows: list[tuple[Batch, Organization]]) -> CachedFacts:
        """The facts of one lot's batches."""
        batches = [batch for batch, _ in rows]
        lot = {(b.gtin or "", b.lot): batches for b in batches}
        events = {b.id: self.events[b.id] for b in batches if b.id in self.events}
        return CachedFacts(
            audits={b.id: audit_loaded(batch=b, events=events.get(b.id, [])) for b in batches},
            batches=lot,
            runs={b.id: self.runs[b.id] for b in batches if b.id in self.runs},
            brands={b.brand_id: self.brands[b.brand_id] for b in batches},
            producers={org.id: org for _, org in rows},
            licensed={
                b.id for b in batches if (b.brand_id, b.cooperative_org_id) in self.licensed_pairs
            },
            events=events,
            actor_names={
                e.actor_org_id: self.actor_names[e.actor_org_id]
                for group in events.values()
                for e in group
            },
            actor_names_en={
                e.actor_org_id: self.actor_names_en[e.actor_org_id]
                for group in events.values()
                for e in group
                if e.actor_org_id in self.actor_names_en
            },
        )


def _load_facts(
    session: Session, rows: Sequence[tuple[Batch, Organization]], brand_ids: list[str], today: date
) -> _Loaded:
    batch_ids = [batch.id for batch, _ in rows]
    if not batch_ids:
        return _Loaded({}, set(), {}, {}, {}, {})
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))}
    licensed_pairs = {
        (brand_id, org_id)
        for brand_id, org_id in session.exec(
            select(License.brand_id, License.org_id).where(
                col(License.brand_id).in_(brand_ids),
                License.status == LicenseStatus.active,
                col(License.valid_from) <= today,
                col(License.valid_to) >= today,
            )
        )
    }
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
    for event, actor, actor_en in session.exec(
        select(Event, Organization.name, Organization.name_en)
        .join(Organization, col(Organization.id) == Event.actor_org_id)
        .where(col(Event.batch_id).in_(batch_ids))
        .order_by(col(Event.batch_id), col(Event.seq), col(Event.id))
    ):
        events[event.batch_id].append(event)
        actor_names[event.actor_org_id] = actor
        if actor_en:
            actor_names_en[event.actor_org_id] = actor_en
    return _Loaded(brands, licensed_pairs, dict(runs), dict(events), actor_names, actor_names_en)


def _render(batch: Batch, facts: CachedFacts) -> BatchParts:
    audit = facts.audit(batch)
    chain = ChainInfo(length=audit.length, head_hash=batch.head_hash, intact=audit.intact)
    described = describe_batch(batch, facts.brands[batch.brand_id], facts)
    return BatchParts(
        brand=orjson.Fragment(described.brand.model_dump_json()),
        producer=orjson.Fragment(described.producer.model_dump_json()),
        batch=orjson.Fragment(described.batch.model_dump_json()),
        timeline=orjson.Fragment(_TIMELINE.dump_json(described.timeline)),
        chain=orjson.Fragment(chain.model_dump_json()),
    )
