"""Per-code device counters, taken before the answer: which devices scanned a code, in what
order, where it was last located, and whether it is flagged.

`observe` adds a device to a code atomically and returns what the counter knew at that
instant, so two scans in a row (in any API process) are judged in order. With Redis
(REGISTRY_REDIS_URL) it is one Lua script per scan on a hash per code, seen by every process
on its next request; without Redis, a dict in this process (the embedded default, one
process). `peek` reads codes without adding a device (bulk and CLI checks are not scans).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import orjson
import redis
from anyio import to_thread
from sqlalchemy import Engine

from registry.core.config import Settings
from registry.core.redis_wire import RedisWire
from registry.scans.history import CodeHistory, load_histories, scanned_serials
from registry.scans.rules import CodeScans, Flag, Located

log = logging.getLogger(__name__)
CodeKey = tuple[str, str, str]  # (gtin, lot, serial)
REDIS_RETRY_AFTER = 5.0  # seconds a process counts in memory after Redis failed


class DeviceCounter(Protocol):
    async def observe(
        self, key: CodeKey, device: str, *, at: datetime, here: Located | None
    ) -> CodeScans: ...

    async def flag(self, key: CodeKey, flag: Flag) -> None: ...

    def peek(self, keys: Sequence[CodeKey]) -> list[CodeScans]: ...


def _located_json(place: Located) -> bytes:
    return orjson.dumps(
        [place.at, place.lat, place.lon, place.radius_km, place.device, place.region],
        option=orjson.OPT_UTC_Z,
    )


def _located(raw: Any) -> Located | None:
    if not raw:
        return None
    at, lat, lon, radius, device, region = orjson.loads(raw)
    return Located(datetime.fromisoformat(at), lat, lon, radius, device, region)


def _flag_json(flag: Flag) -> bytes:
    return orjson.dumps([flag.kind, flag.at, flag.message], option=orjson.OPT_UTC_Z)


def _flag(raw: Any) -> Flag | None:
    if not raw:
        return None
    kind, at, message = orjson.loads(raw)
    return Flag(kind, datetime.fromisoformat(at), message)


def _text(raw: Any) -> str | None:
    if raw is None or raw in (b"", ""):
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class _CodeState:
    __slots__ = ("devices", "first_at", "first_region", "flag", "last_located")

    def __init__(self) -> None:
        self.devices: dict[str, int] = {}
        self.first_at: datetime | None = None
        self.first_region: str | None = None
        self.flag: Flag | None = None
        self.last_located: Located | None = None

    def scans(self, rank: int | None) -> CodeScans:
        return CodeScans(
            len(self.devices), rank, self.first_at, self.first_region, self.flag, self.last_located
        )


Seed = Callable[[Sequence[CodeKey]], dict[CodeKey, CodeHistory]]
LotSerials = Callable[[tuple[str, str]], dict[str, int]]
Lot = tuple[str, str]
Page = tuple[str, ...]  # serials of one lot whose histories are loaded together

PAGE_SCANS = 20_000  # durable scans one load reads at most (a code with more is read alone)
PAGE_CODES = 2_000  # codes one load asks for at most (one bind parameter each)
LOTS_HELD = 4096  # lots whose scanned serials are held
_LOT_LOCKS = 64  # loads of one lot take turns; of different lots, not necessarily


def lot_pages(counts: dict[str, int], *, max_scans: int, max_codes: int) -> dict[str, Page]:
    """Each scanned serial of a lot -> the page it is loaded with: serials in order, cut
    where a page would pass `max_scans` durable scans or `max_codes` codes."""
    pages: dict[str, Page] = {}
    page: list[str] = []
    scans = 0
    for serial in sorted(counts):
        count = max(counts[serial], 1)
        if page and (scans + count > max_scans or len(page) >= max_codes):
            pages.update(dict.fromkeys(page, tuple(page)))
            page, scans = [], 0
        page.append(serial)
        scans += count
    pages.update(dict.fromkeys(page, tuple(page)))
    return pages


class MemoryDeviceCounter:
    """The counters in this process (no Redis): exact for one process, at most `max_codes`
    codes (the least recently used are forgotten first). With `seed`, a code this process
    does not hold starts from its durable history (registry/scans/history.py), so a
    restart forgets no device and no flag that was written.

    With `lot_serials`, a code's first scan reads which serials of its lot have durable
    scans (once per lot), then loads its history together with the other scanned codes
    of its page of the lot (`lot_pages`, bounded in scans and codes), so after a restart a
    lot's codes cost a few loads instead of one each. Loads of one lot take turns: scans
    that miss together wait for one load instead of each running its own. A check of codes
    across several pages (bulk, CLI) loads only those codes."""

    def __init__(
        self,
        max_codes: int = 500_000,
        *,
        seed: Seed | None = None,
        lot_serials: LotSerials | None = None,
        page_scans: int = PAGE_SCANS,
        page_codes: int = PAGE_CODES,
    ) -> None:
        self._max_codes = max_codes
        self._seed = seed
        self._lot_serials = lot_serials
        self._page_scans = page_scans
        # A page fills at most an eighth of the codes held, so loading one pushes out
        # neither most of what this process holds nor the code a scan waits for.
        self._page_codes = max(1, min(page_codes, max_codes // 8))
        # (gtin, lot) -> its serials with durable scans, each -> its page; read once per
        # lot: a code outside it starts empty without a query of its own
        self._durable: OrderedDict[Lot, dict[str, Page]] = OrderedDict()
        self._codes: OrderedDict[CodeKey, _CodeState] = OrderedDict()
        self._lock = threading.Lock()
        self._lot_locks = [threading.Lock() for _ in range(_LOT_LOCKS)]

    def _missing(self, keys: Sequence[CodeKey]) -> tuple[list[CodeKey], bool]:
        """Codes not held that may have a history, and whether a lot must be read first."""
        if self._seed is None:
            return [], False
        with self._lock:
            missing = [key for key in dict.fromkeys(keys) if key not in self._codes]
            if not missing or self._lot_serials is None:  # not missing: the usual scan
                return missing, False
            if any((key[0], key[1]) not in self._durable for key in missing):
                return missing, True
            return [k for k in missing if k[2] in self._durable[(k[0], k[1])]], False

    def _add_seeds(self, keys: Sequence[CodeKey]) -> None:
        """Load the history of codes not held (called outside the event loop)."""
        assert self._seed is not None
        if self._lot_serials is None:
            if keys:
                self._hold(self._seed(keys))
            return
        lots: dict[Lot, list[CodeKey]] = {}
        for key in keys:
            lots.setdefault((key[0], key[1]), []).append(key)
        scattered: list[CodeKey] = []
        for lot, wanted in lots.items():
            with self._lot_locks[hash(lot) % _LOT_LOCKS]:
                pages = self._pages(lot)
                with self._lock:  # what a load that held this lot's turn did not bring in
                    due = [k for k in wanted if k[2] in pages and k not in self._codes]
                    spanned = {pages[key[2]] for key in due}
                    if len(spanned) == 1:  # a scan, or codes of one page: the page's
                        (page,) = spanned  # codes not held (one may have been evicted)
                        codes = ((lot[0], lot[1], serial) for serial in page)
                        due = [k for k in codes if k not in self._codes]
                if len(spanned) > 1:
                    # A bulk check across pages loads its own codes only: the pages it
                    # touches could hold a whole lot of any size.
                    scattered.extend(due)
                elif due:
                    self._hold(self._seed(due))
        if scattered:
            self._hold(self._seed(scattered))

    def _pages(self, lot: Lot) -> dict[str, Page]:
        """The lot's scanned serials by page, read if not held (the caller has its turn)."""
        with self._lock:
            pages = self._durable.get(lot)
            if pages is not None:
                self._durable.move_to_end(lot)
                return pages
        assert self._lot_serials is not None
        pages = lot_pages(
            self._lot_serials(lot), max_scans=self._page_scans, max_codes=self._page_codes
        )
        with self._lock:
            self._durable[lot] = pages
            while len(self._durable) > LOTS_HELD:
                self._durable.popitem(last=False)
        return pages

    def _hold(self, histories: dict[CodeKey, CodeHistory]) -> None:
        """Hold the loaded histories of codes not held yet."""
        with self._lock:
            for key, history in histories.items():
                if key in self._codes:
                    continue  # a scan in this process got there first
                state = self._state(key)
                state.devices = dict(history.devices)
                state.first_at, state.first_region = history.first_at, history.first_region
                state.flag = history.flag

    def _state(self, key: CodeKey) -> _CodeState:
        """The code's state, made if absent (the caller holds the lock)."""
        state = self._codes.get(key)
        if state is None:
            state = self._codes[key] = _CodeState()
            while len(self._codes) > self._max_codes:
                self._codes.popitem(last=False)
        else:
            self._codes.move_to_end(key)
        return state

    def observe_now(
        self, key: CodeKey, device: str, *, at: datetime, here: Located | None
    ) -> CodeScans:
        with self._lock:
            state = self._state(key)
            rank = state.devices.get(device)
            if rank is None:
                rank = state.devices[device] = len(state.devices) + 1
                if rank == 1:
                    state.first_at = at
                    state.first_region = here.region if here else None
            seen = state.scans(rank)
            if here is not None:
                state.last_located = here
            return seen

    async def observe(
        self, key: CodeKey, device: str, *, at: datetime, here: Located | None
    ) -> CodeScans:
        missing, read_lot = self._missing([key])
        if missing or read_lot:
            await to_thread.run_sync(self._add_seeds, missing)
        return self.observe_now(key, device, at=at, here=here)

    def flag_now(self, key: CodeKey, flag: Flag) -> None:
        with self._lock:
            state = self._codes.get(key)
            if state is not None and state.flag is None:
                state.flag = flag

    async def flag(self, key: CodeKey, flag: Flag) -> None:
        self.flag_now(key, flag)

    def peek(self, keys: Sequence[CodeKey]) -> list[CodeScans]:
        missing, read_lot = self._missing(keys)
        if missing or read_lot:
            self._add_seeds(missing)
        with self._lock:
            return [
                state.scans(None) if (state := self._codes.get(key)) else CodeScans()
                for key in keys
            ]


# KEYS[1]: the code's hash. ARGV: device, time, region, retention seconds, located JSON.
# Fields: n (devices), d:<device> (its rank), first_at, first_region, flag, loc.
_OBSERVE = """
local key = KEYS[1]
local field = 'd:' .. ARGV[1]
local rank = redis.call('HGET', key, field)
if not rank then
  rank = redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, field, rank)
  if rank == 1 then
    redis.call('HSET', key, 'first_at', ARGV[2], 'first_region', ARGV[3])
  end
end
local state = redis.call('HMGET', key, 'n', 'first_at', 'first_region', 'flag', 'loc')
if ARGV[5] ~= '' then
  redis.call('HSET', key, 'loc', ARGV[5])
end
redis.call('EXPIRE', key, tonumber(ARGV[4]))
return {tonumber(rank), state[1], state[2], state[3], state[4], state[5]}
"""
_FIELDS = ("n", "first_at", "first_region", "flag", "loc")


class RedisDeviceCounter:
    """The counters in Redis, shared by every API process. If Redis fails, this process
    counts in memory for a few seconds (logged) rather than failing the scan."""

    def __init__(self, url: str, *, prefix: str, retention_days: int, max_codes: int) -> None:
        timeouts: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        self._sync = redis.Redis.from_url(url, **timeouts)
        # Scans count on the event loop: one pipelined connection (core/redis_wire.py).
        self._wire = RedisWire(url, timeout=timeouts["socket_timeout"])
        self._prefix = prefix
        self._retention = retention_days * 86400
        self.fallback = MemoryDeviceCounter(max_codes)
        self._down_until = 0.0

    def key(self, code: CodeKey) -> str:
        return f"{self._prefix}{code[0]}/{code[1]}/{code[2]}"

    def _failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("device counters unreachable in Redis (%s); counting in memory", exc)
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER

    async def observe(
        self, key: CodeKey, device: str, *, at: datetime, here: Located | None
    ) -> CodeScans:
        if time.monotonic() < self._down_until:
            return self.fallback.observe_now(key, device, at=at, here=here)
        try:
            reply: Any = await self._wire.script(
                _OBSERVE,
                [self.key(key)],
                [
                    device,
                    at.isoformat(),
                    here.region if here else "",
                    self._retention,
                    _located_json(here) if here else "",
                ],
            )
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return self.fallback.observe_now(key, device, at=at, here=here)
        rank, devices, first_at, first_region, flag, located = reply
        return CodeScans(
            devices=int(devices),
            rank=int(rank),
            first_at=datetime.fromisoformat(_text(first_at) or at.isoformat()),
            first_region=_text(first_region),
            flag=_flag(flag),
            last_located=_located(located),
        )

    async def flag(self, key: CodeKey, flag: Flag) -> None:
        try:
            await self._wire.call("HSETNX", self.key(key), "flag", _flag_json(flag))
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            self.fallback.flag_now(key, flag)

    def peek(self, keys: Sequence[CodeKey]) -> list[CodeScans]:
        if not keys:
            return []
        try:
            pipe = self._sync.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(self.key(key), _FIELDS)
            replies: list[Any] = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return self.fallback.peek(keys)
        found = []
        for devices, first_at, first_region, flag, located in replies:
            first = _text(first_at)
            found.append(
                CodeScans(
                    devices=int(devices or 0),
                    first_at=datetime.fromisoformat(first) if first else None,
                    first_region=_text(first_region),
                    flag=_flag(flag),
                    last_located=_located(located),
                )
            )
        return found

    async def aclose(self) -> None:
        self._wire.close()
        self._sync.close()


def device_counter_for(
    settings: Settings, engine: Engine | None = None
) -> MemoryDeviceCounter | RedisDeviceCounter:
    """Redis counters when Redis is configured, else this process's (seeded from the
    durable scan records of `engine` when given)."""
    if settings.redis_url:
        return RedisDeviceCounter(
            settings.redis_url,
            prefix=settings.device_key_prefix,
            retention_days=settings.device_retention_days,
            max_codes=settings.device_memory_codes,
        )
    if engine is None:
        return MemoryDeviceCounter(settings.device_memory_codes)
    return MemoryDeviceCounter(
        settings.device_memory_codes,
        seed=partial(load_histories, engine),
        lot_serials=partial(scanned_serials, engine),
    )
