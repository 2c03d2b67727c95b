"""Rate limits per client address and per API key, by the `limits` library's sliding window
counter: in Redis with the library when `REGISTRY_REDIS_URL` is set (shared by every API
process), in process memory otherwise (`MemoryWindows`; also, for a while, when Redis stops
answering: limits never switch off).

With Redis, a request's hit is the library's own Lua script on the library's own keys, sent
on the scan path's pipelined connection (`WireStorage`, registry/core/redis_wire.py):
through redis-py's asyncio client it cost about 130 us of the event loop's time, more than
a whole label scan without Redis. Refusals (their Retry-After) read the window through the
library as before.

Public requests count per client address, or per key when a valid API key is sent; writes
count per key (per address when no valid key is sent, so invented keys buy nothing); reads
with a valid key are not limited. A platform's key gets `factor` times the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from starlette.types import Scope

from registry.core.clients import client_address
from registry.core.config import Settings
from registry.core.errors import TooManyRequests
from registry.core.redis_wire import RedisWire
from registry.core.routes import RouteInfo

log = logging.getLogger(__name__)

KeyKind = Callable[[str], str | None]  # API key -> its organization's kind, None if invalid
KEY_CACHE_SECONDS = 60.0
KEY_CACHE_SIZE = 10_000
REDIS_RETRY_SECONDS = 30.0


def _scaled(item: RateLimitItem, factor: int) -> RateLimitItem:
    return type(item)(item.amount * factor, item.multiples, item.namespace)


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


class MemoryWindows:
    """Sliding-window counters in this process, by the `limits` library's sliding window
    counter (a window's count plus the previous window's, weighted by how much of it still
    overlaps; windows aligned on multiples of the period; the same Retry-After).

    Its own `async+memory` storage does the same at the cost of an asyncio task per hit
    (expiry bookkeeping), a tenth of a label scan's time; this is a dict lookup.
    `tests/core/test_ratelimit_windows.py` holds the two to the same answers."""

    SWEEP_AT = 100_000  # keys held before the stale ones (older than 2 windows) are dropped

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # (limit, identity) -> window, previous, current. The library's own key (`key_for`,
        # a string) cost four times the lookup and is only needed where Redis stores it.
        self._counts: dict[tuple[RateLimitItem, tuple[str, ...]], tuple[int, int, int]] = {}

    def hit(self, item: RateLimitItem, *identity: str) -> int | None:
        """None if the request may go on (and it is counted), else the seconds until it may
        be retried."""
        now, period = self._clock(), item.get_expiry()
        window = int(now / period)  # (the library's arithmetic, to the last bit)
        key = (item, identity)
        held, previous, current = self._counts.get(key, (window, 0, 0))
        if held != window:
            previous, current = (current if held == window - 1 else 0), 0
        previous_left = (1 - ((now - period) / period) % 1) * period if previous else 0.0
        if math.floor(previous * previous_left / period + current) + 1 > item.amount:
            self._counts[key] = (window, previous, current)
            current_left = (1 - (now / period) % 1) * period + period
            reset_in = min(
                previous_left % (period / previous) if previous else math.inf,
                current_left % period if current else math.inf,
            )
            return 1 if reset_in == math.inf else max(1, math.ceil(reset_in))
        if len(self._counts) >= self.SWEEP_AT:
            self._counts = {k: v for k, v in self._counts.items() if v[0] >= window - 1}
        self._counts[key] = (window, previous, current + 1)
        return None


class WireStorage(RedisStorage):
    """The library's Redis storage with its sliding-window hit sent by `RedisWire`: the
    same script (`SCRIPT_ACQUIRE_SLIDING_WINDOW`, read from the installed library) on the
    same two keys, so every other operation of the library (window stats, clearing) and
    every process sees the same counts. `tests/core/test_ratelimit.py` holds the two paths
    to the same answers."""

    def __init__(self, uri: str, *, wire: RedisWire, **options: object) -> None:
        super().__init__(uri, **options)  # type: ignore[arg-type]  # passed on to redis-py
        self._wire = wire
        self._script = self.bridge.SCRIPT_ACQUIRE_SLIDING_WINDOW.decode()

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        keys: list[str | bytes | int | float] = [
            self.bridge.prefixed_key(self._previous_window_key(key)),
            self.bridge.prefixed_key(self._current_window_key(key)),
        ]
        return bool(await self._wire.script(self._script, keys, [limit, expiry, amount]))


@dataclass
class _Backend:
    loop: asyncio.AbstractEventLoop
    limiter: SlidingWindowCounterRateLimiter
    pool: ConnectionPool
    wire: RedisWire


class RateLimits:
    """The limiter one app uses; `check` answers a request's refusal or None."""

    def __init__(
        self,
        settings: Settings,
        *,
        key_kind: KeyKind | None,
        privileged_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self.enabled = settings.rate_limits
        self.public = parse(settings.rate_limit_public)
        self.writes = parse(settings.rate_limit_writes)
        self.factor = settings.rate_limit_platform_factor
        self._redis_url = settings.redis_url
        self._key_kind = key_kind
        self._privileged = privileged_kinds
        self._namespace = settings.rate_limit_prefix
        self._keys: dict[str, tuple[float, str | None]] = {}
        self._backend: _Backend | None = None
        self._memory = MemoryWindows()  # without Redis, and while Redis does not answer
        self._redis_down_until = 0.0

    def _redis(self) -> _Backend:
        # The Redis client lives with the event loop that uses it (one per server process).
        loop = asyncio.get_running_loop()
        if self._backend is None or self._backend.loop is not loop:
            assert self._redis_url is not None
            pool = ConnectionPool.from_url(
                self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            wire = RedisWire(self._redis_url, timeout=0.5)
            storage = WireStorage(
                "async+" + self._redis_url,
                wire=wire,
                implementation="redispy",
                key_prefix=self._namespace,
                connection_pool=pool,
            )
            self._backend = _Backend(loop, SlidingWindowCounterRateLimiter(storage), pool, wire)
        return self._backend

    async def aclose(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.wire.close()
            await backend.pool.disconnect()

    async def _kind_of(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        kind: str | None = None
        if self._key_kind is not None:
            try:
                kind = await to_thread.run_sync(self._key_kind, token)
            except Exception:  # the route itself will answer the database's trouble
                log.warning("rate limit: API key lookup failed", exc_info=True)
                return None
        if len(self._keys) >= KEY_CACHE_SIZE:
            self._keys.clear()
        self._keys[digest] = (now + KEY_CACHE_SECONDS, kind)
        return kind

    async def _hit(self, item: RateLimitItem, *identity: str) -> int | None:
        """None if the request may go on, else the seconds until it may be retried."""
        if self._redis_url is None or time.monotonic() < self._redis_down_until:
            return self._memory.hit(item, *identity)
        backend = self._redis()
        try:
            if await backend.limiter.hit(item, *identity):
                return None
            stats = await backend.limiter.get_window_stats(item, *identity)
        except Exception:
            log.warning("rate limit: Redis unreachable, counting in this process for a while")
            self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return await self._hit(item, *identity)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def check(self, scope: Scope, route: RouteInfo) -> TooManyRequests | None:
        if not self.enabled or route.kind == "exempt":
            return None
        token = bearer(scope)
        kind = await self._kind_of(token) if token else None
        if route.kind == "read" and kind is not None:
            return None
        item, what = (self.writes, "writes") if route.kind == "write" else (self.public, "requests")
        if kind is not None and token is not None:
            if kind in self._privileged:
                item = _scaled(item, self.factor)
            who = "this API key"
            identity = ("key", hashlib.sha256(token.encode()).hexdigest()[:32])
        else:
            who = "this address"
            identity = ("address", client_address(scope))
        retry = await self._hit(item, route.kind, *identity)
        if retry is None:
            return None
        return TooManyRequests(
            f"rate limit reached: at most {item.amount} {what} per "
            f"{item.multiples} {item.GRANULARITY.name} from {who}; retry in {retry} s",
            retry_after=retry,
        )
