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
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

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

        self._url = url
        self._redis = redis.Redis.from_url(url, **_TIMEOUTS)
        # asyncio connections belong to the loop that made them: one client per loop (a
        # server has one). Kept for the process's life: a client dropped with its loop
        # would leave its socket to the garbage collector, which warns about it.
        self._async: dict[asyncio.AbstractEventLoop, AsyncRedis] = {}
        self._unpublished: set[str] = set()
        self._lock = threading.Lock()

    def tokens(self, topics: Sequence[str]) -> list[str | None]:
        if self._unpublished:
            self.changed(())
        values: list[bytes | None] = self._redis.mget([PREFIX + t for t in topics])  # type: ignore[assignment]
        return [None if v is None else v.decode() for v in values]

    async def tokens_async(self, topics: Sequence[str]) -> list[str | None]:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            from redis.asyncio import Redis as AsyncRedis

            client = self._async[loop] = AsyncRedis.from_url(self._url, **_TIMEOUTS)
        if self._unpublished:
            names = self._take_unpublished(())
            try:
                pipe = client.pipeline(transaction=False)
                for topic in names:
                    pipe.set(PREFIX + topic, secrets.token_hex(8))
                await pipe.execute()
            except Exception:
                self._keep_unpublished(names)
                raise
        values = await client.mget([PREFIX + t for t in topics])
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
