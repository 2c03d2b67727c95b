"""Writes are served on an event loop of their own, and reads take turns on the main one, so
a flood of scans cannot starve a cooperative's writes.

Under a flood of label scans the main event loop is never idle: every trip a request makes
to a worker thread and back (its session, its key check, its handler, its commit) waits
behind the scans already queued on the loop. A cooperative's append makes several such
trips, a scan none, so appends waited seconds where scans waited tens of milliseconds
(issue 15). Requests to write routes (`registry/core/routes.py`: keyed non-GET routes and
the console's forms) therefore run on a second event loop, in a thread of its own: the main
loop reads the body, hands the request over, and sends the answer when it is ready, so a
write costs the main loop two turns whatever it does inside. Everything else (the guard's
rate limits and body checks before it, exception handling after it) is unchanged.

The main loop's two turns are short only if its queue is: with every scan of a flood in
the loop's queue at once, a turn waited for all of them. At most `concurrent_reads` other
requests whose handlers are coroutines (the label URL, bulk verification) run at once; the
rest wait on a semaphore, outside the queue, and lose nothing (they were waiting for the
CPU anyway). Operations routes (health, metrics, docs) and sync handlers (keyed reads, run
in worker threads) never wait.

The server runs on asyncio's own event loop, not uvloop (`ServingLoop`, named by
`SERVING_LOOP` for `registry serve` and the load tests). Under the same flood with uvloop,
some requests waited more than a second before the loop read them: appends p99 1.5-1.9 s
seen by the client while their time in the server was under 0.4 s, scans up to 1.2 s;
with asyncio's loop, appends p99 0.22-0.49 s and scans at most 0.11-0.25 s, single-code
verification unchanged (session 5, docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import weakref
from collections.abc import Coroutine
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.core.routes import RouteTable

SERVING_LOOP = "registry.core.lanes:ServingLoop"  # uvicorn's `loop`, in every server process


class ServingLoop(asyncio.SelectorEventLoop):
    """asyncio's event loop, with Nagle's algorithm off on every TCP connection it accepts.

    asyncio turns it off only for sockets whose `proto` reads IPPROTO_TCP, and uvicorn's
    several-worker mode binds its listening socket with `proto` 0: every connection then
    kept Nagle's algorithm, and an answer sent in two writes (head, then body) waited for
    the client's delayed acknowledgement, 40 ms a request (2 workers: 725 req/s against
    8,300 with 1). The listening socket is served through a duplicate that reads its
    protocol from the kernel."""

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        sock: socket.socket | None = kwargs.get("sock")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6) and not sock.proto:
            kwargs["sock"] = socket.socket(fileno=os.dup(sock.fileno()))  # proto detected
        return await super().create_server(*args, **kwargs)


_lane: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_lane_guard = threading.Lock()


def write_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for writes, started on first use (a daemon thread: it holds
    no state that must outlive a request)."""
    global _lane
    with _lane_guard:
        if _lane is None or not _lane[1].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run, args=(loop,), name="write-lane", daemon=True)
            thread.start()
            _lane = (loop, thread)
        return _lane[0]


def _run(loop: asyncio.AbstractEventLoop) -> None:
    """Run the loop inside one task that never ends. AnyIO (which runs a sync route in a
    worker thread) takes the task that `run_until_complete` waits for as the loop's root and
    keeps its worker threads while it lives. Under `run_forever` there was none: it took
    each request's task for the root and stopped the worker threads that request started
    when it ended, so most writes started a thread of their own (116 threads for 147
    appends, 8 clients)."""

    async def forever() -> None:
        await asyncio.get_running_loop().create_future()

    loop.run_until_complete(forever())


class WriteLane:
    """ASGI middleware: requests the route table calls `write` run on `write_loop()`; other
    requests whose handlers run on the loop take turns, `concurrent_reads` at a time."""

    def __init__(self, app: ASGIApp, *, routes: RouteTable, concurrent_reads: int) -> None:
        self.app = app
        self.routes = routes
        self.concurrent_reads = concurrent_reads
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._turns = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.classify(scope) if scope["type"] == "http" else None
        if route is None or route.kind == "exempt" or not (route.kind == "write" or route.on_loop):
            await self.app(scope, receive, send)
        elif route.kind == "write":
            await self._write(scope, receive, send)
        else:
            async with self._turn():
                await self.app(scope, receive, send)

    def _turn(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # an app may be served by several loops (tests)
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = asyncio.Semaphore(self.concurrent_reads)
        return turn

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        sent: list[Message] = []
        await _run_on(write_loop(), self._serve(scope, body, sent))
        for message in sent:
            await send(message)

    async def _serve(self, scope: Scope, body: bytes, sent: list[Message]) -> None:
        delivered = False
        done = asyncio.Event()

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # a handler listening for a disconnect: none comes
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        try:
            await self.app(scope, receive, send)
        finally:
            done.set()


async def _run_on(lane: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` as a task on the lane's loop and wait for it on this one: one call into
    each loop. (`run_coroutine_threadsafe` and `wrap_future` pass through a
    `concurrent.futures.Future`, with its lock, condition and chained callbacks: twice the
    CPU for the hand-over, ~0.1 ms against ~0.05 ms per write.)"""
    here = asyncio.get_running_loop()
    done = here.create_future()
    started: list[asyncio.Task[None]] = []

    def settle(task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()  # retrieved in any case
        if done.cancelled():
            return
        if task.cancelled():
            done.cancel()
        elif error is not None:
            done.set_exception(error)
        else:
            done.set_result(None)

    def report(task: asyncio.Task[None]) -> None:
        if not here.is_closed():  # (the server has stopped)
            here.call_soon_threadsafe(settle, task)

    def start() -> None:
        task = lane.create_task(work)
        task.add_done_callback(report)
        started.append(task)

    lane.call_soon_threadsafe(start)
    try:
        await done
    except asyncio.CancelledError:
        # Queued after `start`, so the task exists by the time this runs on the lane.
        lane.call_soon_threadsafe(lambda: started[0].cancel())
        raise


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
