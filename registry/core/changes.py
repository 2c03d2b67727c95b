"""Change signals for in-process caches: a committed write names the *topics* it made stale
(e.g. `lot:06901234500004|L1`), and every cache holding state under a topic sees it change.

Each topic has a token that is replaced by a fresh random value on every change. A cache
remembers the tokens it read *before* loading state from the database and compares them
with the current ones before using that state again: a changed token means "reload".
Random tokens (not counters) cannot repeat, so even a Redis flush only causes reloads.

- `RedisChangeBoard` (REGISTRY_REDIS_URL set): tokens live in Redis, so a write in any
  process is seen by every process's next read; one MGET per check. A change made while
  Redis is unreachable is published by its process before it reads a token again.
- `LocalChangeBoard` (no Redis): tokens live in this process only; writes made by other
  processes are seen when the cache's time-to-live runs out.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol

PREFIX = "registry:changed:"
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


class ChangeBoard(Protocol):
    shared: bool  # True when other processes' writes are seen at once

    def tokens(self, topics: Sequence[str]) -> list[str | None]:
        """The current token of each topic (None: never changed, or forgotten)."""

    async def tokens_async(self, topics: Sequence[str]) -> list[str | None]:
        """`tokens` for an event loop: waits without blocking it."""

    def changed(self, topics: Iterable[str]) -> None:
        """Give each topic a new token."""


class LocalChangeBoard:
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def tokens(self, topics: Sequence[str]) -> list[str | None]:
        get = self._tokens.get
        return [get(t) for t in topics]

    async def tokens_async(self, topics: Sequence[str]) -> list[str | None]:
        return self.tokens(topics)

    def changed(self, topics: Iterable[str]) -> None:
        with self._lock:
            for topic in topics:
                self._tokens[topic] = secrets.token_hex(8)


class RedisChangeBoard:
    """Tokens in Redis. A change that cannot be published (Redis unreachable) is kept and
    published before this process reads a token again: once Redis is back, no cache
    answers from state older than a change this process committed meanwhile (other
    processes see it from that moment; a process that exits first leaves it to the TTL)."""

    shared = True

    def __init__(self, url: str) -> None:
        # Imported here: a process that never builds a board (the CLI's audit) skips the
        # client library's start-up.
        import redis

        from registry.core.redis_wire import RedisWire

        self._redis = redis.Redis.from_url(url, **_TIMEOUTS)
        # The scans' reads, on the event loop: one pipelined connection (core/redis_wire.py).
        self._wire = RedisWire(url, timeout=_TIMEOUTS["socket_timeout"])
        self._unpublished: set[str] = set()
        self._lock = threading.Lock()

    def tokens(self, topics: Sequence[str]) -> list[str | None]:
        if self._unpublished:
            self.changed(())
        values: list[bytes | None] = self._redis.mget([PREFIX + t for t in topics])  # type: ignore[assignment]
        return [None if v is None else v.decode() for v in values]

    async def tokens_async(self, topics: Sequence[str]) -> list[str | None]:
        if self._unpublished:
            names = self._take_unpublished(())
            try:
                await asyncio.gather(
                    *(self._wire.call("SET", PREFIX + t, secrets.token_hex(8)) for t in names)
                )
            except Exception:
                self._keep_unpublished(names)
                raise
        values = await self._wire.call("MGET", *(PREFIX + t for t in topics))
        return [v.decode() if isinstance(v, bytes) else v for v in values]

    def changed(self, topics: Iterable[str]) -> None:
        names = self._take_unpublished(topics)
        if not names:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for topic in names:
                pipe.set(PREFIX + topic, secrets.token_hex(8))
            pipe.execute()
        except Exception:
            self._keep_unpublished(names)
            raise

    def _take_unpublished(self, topics: Iterable[str]) -> list[str]:
        with self._lock:
            names, self._unpublished = self._unpublished | set(topics), set()
        return sorted(names)

    def _keep_unpublished(self, names: Iterable[str]) -> None:
        with self._lock:
            self._unpublished.update(names)


_LOCAL = LocalChangeBoard()


@cache
def _redis_board(url: str) -> RedisChangeBoard:
    return RedisChangeBoard(url)


def change_board(redis_url: str | None) -> ChangeBoard:
    """Redis's board when a URL is configured, else this process's own."""
    return _redis_board(redis_url) if redis_url else _LOCAL
