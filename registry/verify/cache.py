"""A bounded in-process cache of what verification reads from the database, so a code whose
lot was verified recently is judged without a database round trip.

It holds the published key set, and per (GTIN, lot): the lot's facts as the one loader
(registry/verify/facts.py) loaded them and the answer's batch-dependent JSON parts, rendered
once. With REGISTRY_VERIFY_CACHE_TTL=0 nothing is reused: every request loads afresh, by
the same code. Scan counts are not cached here: devices are counted by
registry/scans/counter.py before every answer.

Freshness (registry/verify/invalidation.py publishes the changes):
- keys, batches, events, runs, brands and licenses are checked against the change board
  before every use: with Redis (REGISTRY_REDIS_URL) one MGET per request or bulk call, and
  a change committed by any process is seen by the next request everywhere; without Redis
  a change made in this process is seen at once, one made by another process within
  REGISTRY_VERIFY_CACHE_TTL seconds. Everything is reloaded at least that often, which
  also bounds writes that bypass the ORM (raw SQL).
- license validity is a date range: state loaded for one day is never used on another.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial

from sqlalchemy import Engine
from sqlmodel import Session

from registry.codes.signature import KeySet
from registry.core.changes import ChangeBoard, change_board
from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.labels.service import published_key_set
from registry.verify.answer import BatchParts, render_parts
from registry.verify.facts import Facts, Lot, load_lots
from registry.verify.invalidation import KEYS_TOPIC, brand_topic, lot_topic

log = logging.getLogger(__name__)

# At most this many lots in one of a refresh's loads (its queries name each lot).
_REFRESH_LOTS = 256


@dataclass
class _LotEntry:
    facts: Facts
    parts: dict[str, BatchParts]
    topics: tuple[str, ...]
    tokens: tuple[str | None, ...]
    day: date
    expires: float


@dataclass
class _Held:
    """Cached parts found for a request, and the tokens they were loaded under."""

    keys: tuple[KeySet, str | None, float]
    lots: list[Lot]
    entries: list[_LotEntry]
    topics: list[str]
    expected: list[str | None]


@dataclass
class View:
    """What verifying codes of some lots needs, consistent as of one check."""

    keys: KeySet
    facts: Facts
    parts: dict[str, BatchParts]


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
        self._refreshing: set[Hashable] = set()
        # One thread reloads expired parts, started once: a thread started per refresh
        # cost the event loop more than the reload itself under a flood of scans.
        self._refresher = ThreadPoolExecutor(1, thread_name_prefix="verify-cache-refresh")

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> VerifyCache:
        return cls(engine, board=change_board(settings.redis_url), ttl=settings.verify_cache_ttl)

    def clear(self) -> None:
        """Forget everything (the next use of each part reloads it)."""
        with self._lock:
            self._keys = None
            self._lots.clear()

    # --- the request side: no database -------------------------------------------------

    def current(self, lots: Sequence[Lot], today: date) -> View | None:
        """The cached view of `lots` if every part of it is present and unchanged, else
        None (then `load`). Costs one change-board read (one Redis MGET, or none locally).

        Parts past their time-to-live still serve while one background thread reloads
        them, so expiry never makes a request wait; a change signalled on the board
        always does (the tokens differ, and None is returned)."""
        held = self._held(lots, today)
        if held is None:
            return None
        try:
            tokens = self._board.tokens(held.topics)
        except Exception:  # Redis unreachable: load from the database
            return None
        return self._checked(held, tokens, today)

    async def current_async(self, lots: Sequence[Lot], today: date) -> View | None:
        """`current` for the event loop: the Redis read does not block the loop."""
        held = self._held(lots, today)
        if held is None:
            return None
        try:
            tokens = await self._board.tokens_async(held.topics)
        except Exception:
            return None
        return self._checked(held, tokens, today)

    def _held(self, lots: Sequence[Lot], today: date) -> _Held | None:
        keys = self._keys
        if keys is None or self._ttl == 0:  # 0: no cache, every request loads
            return None
        entries = []
        for lot in lots:
            entry = self._lots.get((lot, today))
            if entry is None:
                return None
            entries.append(entry)
        topics = [KEYS_TOPIC]
        expected: list[str | None] = [keys[1]]
        for entry in entries:
            topics.extend(entry.topics)
            expected.extend(entry.tokens)
        return _Held(keys, list(lots), entries, topics, expected)

    def _checked(self, held: _Held, tokens: list[str | None], today: date) -> View | None:
        if tokens != held.expected:
            return None
        now = time.monotonic()
        stale = tuple(
            lot for lot, e in zip(held.lots, held.entries, strict=True) if e.expires <= now
        )
        if stale or held.keys[2] <= now:
            self._refresh_soon("due", partial(self._refresh_due, today))
        return self._view(held.keys[0], held.entries)

    # --- the loading side: database, in a worker thread ---------------------------------

    def load(self, lots: Sequence[Lot], today: date, *, due: float | None = None) -> View:
        """Load what is missing, changed or expired (by `due`, a `time.monotonic()`; by
        default now), store it, and return the view. However many lots, a fixed number of
        queries (registry/verify/facts.py)."""
        lots = list(dict.fromkeys(lots))
        # One loader at a time: requests that missed together find the first one's rows.
        with self._load_lock, unit_of_work(self._engine) as session:
            keys = self._load_keys(session)
            entries = self._load_lots(session, lots, today, due=due)
        return self._view(keys, [entries[lot] for lot in lots])

    def _refresh_due(self, today: date) -> None:
        """Reload, together, every held lot of `today` that expires within half a TTL (and
        the keys if they have expired). Lots then expire together, and a TTL costs one load
        of all of them instead of one per lot: 24 lots, 23-27 ms together against
        180-255 ms one by one, on the refresh thread that shares the scans' GIL."""
        due = time.monotonic() + self._ttl / 2
        with self._lock:
            lots = [
                lot for (lot, day), e in self._lots.items() if day == today and e.expires <= due
            ]
        for start in range(0, max(len(lots), 1), _REFRESH_LOTS):
            self.load(lots[start : start + _REFRESH_LOTS], today, due=due)

    def _expiry(self) -> float:
        # Spread within the last fifth of the TTL, so processes that loaded together do not
        # all reload at the same moment (within a process, lots reload together: _refresh_due).
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

    def _load_lots(
        self, session: Session, lots: list[Lot], today: date, *, due: float | None
    ) -> dict[Lot, _LotEntry]:
        found: dict[Lot, _LotEntry] = {}
        due = time.monotonic() if due is None else due
        held = {lot: e for lot in lots if (e := self._lots.get((lot, today))) and e.expires > due}
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
        loaded = load_lots(session, stale, today=today)
        brand_ids = sorted({b for facts in loaded.values() for b in facts.brands})
        brand_tokens = self._tokens([brand_topic(b) for b in brand_ids])
        brand_token = dict(zip(brand_ids, brand_tokens or (), strict=False))
        expires = self._expiry()
        for index, lot in enumerate(stale):
            facts = loaded[lot]
            batches = facts.batches.get(lot, [])
            lot_brands = sorted(facts.brands)
            entry = _LotEntry(
                facts=facts,
                parts={b.id: render_parts(b, facts) for b in batches},
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
            # anything read while the change board was unreachable, nor anything at TTL 0.
            if batches and lot_tokens is not None and brand_tokens is not None and self._ttl:
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

        self._refresher.submit(refresh)

    @staticmethod
    def _view(keys: KeySet, entries: list[_LotEntry]) -> View:
        if len(entries) == 1:
            return View(keys=keys, facts=entries[0].facts, parts=entries[0].parts)
        merged = Facts()
        parts: dict[str, BatchParts] = {}
        for entry in entries:
            merged.merge(entry.facts)
            parts.update(entry.parts)
        return View(keys=keys, facts=merged, parts=parts)
