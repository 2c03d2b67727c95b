"""The scan path's pipelined Redis connection (registry/core/redis_wire.py), against the
real Redis: replies matched to their commands under concurrency, scripts by SHA with the
fallback, errors as redis-py raises them, and a connection that fails, hangs or is lost."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from registry.core.redis_wire import RedisWire, pack

SCRIPT = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}"


def test_commands_are_packed_as_resp_arrays() -> None:
    assert pack(("GET", "k")) == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    assert pack(("SET", b"\x00\r\n", 7)) == b"*3\r\n$3\r\nSET\r\n$3\r\n\x00\r\n\r\n$1\r\n7\r\n"
    assert pack(("ECHO", "é")) == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"


def test_concurrent_commands_get_their_own_replies(redis_url: str) -> None:
    prefix = f"wire-test:{uuid.uuid4().hex}:"
    plain = redis.Redis.from_url(redis_url)
    plain.mset({f"{prefix}{n}": str(n) for n in range(300)})

    async def run() -> None:
        wire = RedisWire(redis_url)
        replies = await asyncio.gather(*(wire.call("GET", f"{prefix}{n}") for n in range(300)))
        assert replies == [str(n).encode() for n in range(300)]
        assert await wire.call("MGET", f"{prefix}1", f"{prefix}none") == [b"1", None]
        wire.close()

    try:
        asyncio.run(run())
    finally:
        plain.delete(*(f"{prefix}{n}" for n in range(300)))
        plain.close()


def test_the_commands_of_one_loop_turn_leave_in_one_write(redis_url: str) -> None:
    # Each write is a system call that also delivers the bytes to Redis: under load, a turn
    # of the event loop starts many scans' commands.
    async def run() -> None:
        wire = RedisWire(redis_url)
        await wire.call("PING")  # connected
        transport = wire._links[asyncio.get_running_loop()].transport
        assert transport is not None
        writes: list[bytes] = []
        real = transport.write

        def write(data: bytes | bytearray | memoryview) -> None:
            writes.append(bytes(data))
            real(data)

        transport.write = write  # type: ignore[method-assign]
        replies = await asyncio.gather(*(wire.call("ECHO", str(n)) for n in range(50)))
        assert replies == [str(n).encode() for n in range(50)]
        assert len(writes) == 1
        assert await wire.call("ECHO", "next turn") == b"next turn"
        assert len(writes) == 2
        wire.close()

    asyncio.run(run())


def test_the_database_of_the_url_is_selected(redis_url: str) -> None:
    key = f"wire-test:{uuid.uuid4().hex}"
    plain = redis.Redis.from_url(redis_url)

    async def run() -> None:
        wire = RedisWire(redis_url)
        await wire.call("SET", key, "here")
        wire.close()

    try:
        asyncio.run(run())
        assert plain.get(key) == b"here"  # the same database as redis-py's client of the URL
    finally:
        plain.delete(key)
        plain.close()


def test_scripts_run_by_sha_and_are_loaded_when_redis_does_not_know_them(
    redis_url: str,
) -> None:
    key = f"wire-test:{uuid.uuid4().hex}"
    plain = redis.Redis.from_url(redis_url)

    async def run() -> None:
        wire = RedisWire(redis_url)
        plain.script_flush()
        assert await wire.script(SCRIPT, [key], ["a"]) == [key.encode(), b"a", 1]  # EVAL
        assert await wire.script(SCRIPT, [key], ["b"]) == [key.encode(), b"b", 2]  # EVALSHA
        wire.close()

    try:
        asyncio.run(run())
    finally:
        plain.delete(key)
        plain.close()


def test_an_error_reply_raises_and_the_connection_goes_on(redis_url: str) -> None:
    async def run() -> None:
        wire = RedisWire(redis_url)
        with pytest.raises(ResponseError, match="unknown command"):
            await wire.call("NO-SUCH-COMMAND")
        assert await wire.call("PING") == b"PONG"
        wire.close()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_raises_a_connection_error() -> None:
    async def run() -> None:
        wire = RedisWire(f"redis://127.0.0.1:{_free_port()}/0")
        with pytest.raises(RedisConnectionError):
            await wire.call("PING")

    asyncio.run(run())


def test_a_server_that_does_not_answer_times_out_and_the_next_call_reconnects() -> None:
    async def run() -> None:
        accepted: list[asyncio.StreamWriter] = []
        answering = False

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            while data := await reader.read(1024):
                if answering:
                    writer.write(b"+PONG\r\n" * data.count(b"PING"))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        wire = RedisWire(f"redis://127.0.0.1:{port}/0", timeout=0.2)
        with pytest.raises(RedisTimeoutError):
            await wire.call("PING")
        answering = True
        assert await wire.call("PING") == b"PONG"
        assert len(accepted) == 2  # the late connection was dropped, a new one made
        wire.close()
        await _shut(server, accepted)

    asyncio.run(run())


def test_a_lost_connection_fails_what_waits_and_the_next_call_reconnects() -> None:
    async def run() -> None:
        connections: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)
            data = await reader.read(1024)
            if len(connections) == 1:
                writer.close()  # the first connection dies with a command unanswered
                return
            writer.write(b"+PONG\r\n" * data.count(b"PING"))
            while await reader.read(1024):
                pass

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        wire = RedisWire(f"redis://127.0.0.1:{port}/0")
        with pytest.raises(RedisConnectionError):
            await wire.call("PING")
        assert await wire.call("PING") == b"PONG"
        wire.close()
        await _shut(server, connections)

    asyncio.run(run())


async def _shut(server: asyncio.Server, writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
