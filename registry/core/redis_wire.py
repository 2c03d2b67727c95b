"""The scan path's Redis commands on one pipelined connection per event loop.

A label scan with Redis makes three round trips (the rate limit's hit, the change board's
tokens, the device counter's script). Through redis-py's asyncio client each cost 75-130 us
of the event loop's time on this project's machines (a pooled connection checked out and
back, `wait_for` with its task, instrumentation, the command packed argument by argument),
more than the rest of the scan. Here each owner's commands (the rate limits', the change
board's, the device counter's) share one connection per event loop: the commands asked for
in one turn of the loop are written together, and the replies, which Redis sends in order,
are parsed by hiredis and handed to the waiting futures in that order (46 us of CPU a
command one at a time, 9 us in a turn of fifty: docs/decisions.md, "Session 11").

Failures raise redis-py's exceptions, so callers keep their handlers: a connection that
cannot be made or is lost raises `redis.ConnectionError`, a reply later than `timeout`
raises `redis.TimeoutError` (and the connection is dropped, since a late reply would
answer the wrong command), an error reply raises `redis.ResponseError`. The next command
connects again. URLs as redis-py reads them: redis://, rediss:// and unix://, with a
password and a database.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import weakref
from collections import deque
from typing import Any

import hiredis
from redis.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int | float


def pack(args: tuple[Arg, ...]) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


class _Link(asyncio.Protocol):
    """One connection: commands written in order, replies matched to them in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.broken = False
        self.unsent: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:
                self.fail(RedisConnectionError("Redis sent a reply nobody asked for"))
                return
            future = self.waiting.popleft()
            if future.done():  # its caller was cancelled; the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                text = str(reply)
                error = NoScriptError if text.startswith("NOSCRIPT") else ResponseError
                future.set_exception(error(text))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError("the connection to Redis was lost"))

    def send(self, args: tuple[Arg, ...], future: asyncio.Future[Any]) -> None:
        """Queue a command; the loop turn's commands leave together, in one write (each
        write is a system call that also delivers the bytes to Redis: about 20 us)."""
        self.waiting.append(future)
        self.unsent.append(pack(args))
        if len(self.unsent) == 1:
            future.get_loop().call_soon(self._write)

    def _write(self) -> None:
        data = b"".join(self.unsent)
        self.unsent.clear()
        if self.transport is not None and not self.broken:
            self.transport.write(data)

    def fail(self, error: Exception) -> None:
        self.broken = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class RedisWire:
    """`call` sends one command and returns its reply; `script` runs a Lua script by its
    SHA-1, loading it once when Redis does not know it."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        params = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py reads the URL
        self._path: str | None = params.get("path")
        self._host = params.get("host", "localhost")
        self._port = int(params.get("port", 6379))
        tls = params.get("connection_class") is SSLConnection
        self._ssl = ssl.create_default_context() if tls else None
        self._hello: list[tuple[Arg, ...]] = []
        if params.get("password"):
            user = params.get("username")
            password = params["password"]
            self._hello.append(("AUTH", user, password) if user else ("AUTH", password))
        if params.get("db"):
            self._hello.append(("SELECT", int(params["db"])))
        self._timeout = timeout
        # A connection belongs to the loop that made it (a server has one loop; tests many).
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Link]
        self._links = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._locks = weakref.WeakKeyDictionary()

    async def call(self, *args: Arg) -> Any:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is None or link.broken:
            link = await self._connected(loop)
        return await self._ask(loop, link, args)

    async def script(self, source: str, keys: list[Arg], args: list[Arg]) -> Any:
        sha = _sha(source)
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.call("EVAL", source, len(keys), *keys, *args)

    def close(self) -> None:
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            link.fail(RedisConnectionError("the connection was closed"))

    async def _ask(
        self, loop: asyncio.AbstractEventLoop, link: _Link, args: tuple[Arg, ...]
    ) -> Any:
        future: asyncio.Future[Any] = loop.create_future()
        link.send(args, future)
        timer = loop.call_later(self._timeout, self._late, link, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _late(self, link: _Link, future: asyncio.Future[Any]) -> None:
        if not future.done():
            link.fail(RedisTimeoutError(f"Redis did not answer within {self._timeout} s"))

    async def _connected(self, loop: asyncio.AbstractEventLoop) -> _Link:
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:  # one connection made at a time; the others wait for it
            link = self._links.get(loop)
            if link is None or link.broken:
                link = await self._connect(loop)
                self._links[loop] = link
        return link

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Link:
        try:
            if self._path is not None:
                made = loop.create_unix_connection(_Link, self._path)
            else:
                made = loop.create_connection(_Link, self._host, self._port, ssl=self._ssl)
            _, link = await asyncio.wait_for(made, self._timeout)
        except (TimeoutError, OSError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc or 'timed out'}") from None
        for command in self._hello:
            await self._ask(loop, link, command)
        return link


_SHAS: dict[str, str] = {}


def _sha(source: str) -> str:
    sha = _SHAS.get(source)
    if sha is None:
        sha = _SHAS[source] = hashlib.sha1(source.encode()).hexdigest()
    return sha
