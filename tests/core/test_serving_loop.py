"""The event loop every server process runs (`registry serve`, the load tests): asyncio's,
with Nagle's algorithm off on the connections it accepts through a listening socket bound
the way uvicorn's several-worker mode binds it (`proto` 0)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from registry.core.lanes import SERVING_LOOP, ServingLoop


def _nodelay_of_accepted(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> int:
    listener = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket does
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: asyncio.Future[int] | None = None

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            assert accepted is not None
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def serve_one() -> int:
        nonlocal accepted
        accepted = asyncio.get_running_loop().create_future()
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    loop = make_loop()
    try:
        return loop.run_until_complete(serve_one())
    finally:
        loop.close()
        listener.close()


def test_uvicorn_runs_the_serving_loop() -> None:
    config = uvicorn.Config("registry.main:app_factory", factory=True, loop=SERVING_LOOP)
    assert config.get_loop_factory() is ServingLoop


def test_connections_accepted_through_a_worker_socket_send_at_once() -> None:
    assert _nodelay_of_accepted(ServingLoop) != 0


def test_asyncio_alone_leaves_nagle_on_there() -> None:
    # Why ServingLoop exists. If a Python release sets TCP_NODELAY on such sockets itself,
    # this fails, and ServingLoop's override can go.
    assert _nodelay_of_accepted(asyncio.SelectorEventLoop) == 0
