"""Bounded request bodies: size (413 naming the limit), JSON values and depth (413, never a
500 in the echo of the input), JSON content type (415 naming the header), for every route,
before anything is parsed; the event loop stays free while the costliest bodies are
answered; and a real server keeps answering /healthz meanwhile."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from loadtests.server import Server, fresh_database
from registry.core.bounds import json_depth_exceeds, json_values_at_most
from registry.core.db import make_engine
from registry.main import create_app
from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND, World

BULK_LIMIT = 1000 * (2048 + 8) + 1024
BULK_VALUES = 16_000
SYNC_LIMIT, SYNC_VALUES = 4 * 1_048_576, 50_000
JSON = {"Content-Type": "application/json"}
# The costliest JSON to parse per byte: small objects (3 values each, as the limit counts).
SMALL_OBJECT = b'{"a":[0]},'


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_depth_is_counted_without_parsing() -> None:
    assert not json_depth_exceeds(b'{"a": [[1, {"b": 2}]]}', 4)
    assert json_depth_exceeds(b'{"a": [[1, {"b": [2]}]]}', 4)
    # Brackets inside strings, escaped quotes included, are text.
    assert not json_depth_exceeds(b'{"a": "[[[[[[\\"]]]]]]"}', 2)
    assert json_depth_exceeds(nested(33).encode(), 32)
    assert not json_depth_exceeds(nested(32).encode(), 32)
    assert not json_depth_exceeds(b"[[[[[[", 2)  # unbalanced: the parser refuses it


def test_json_values_are_counted_without_parsing() -> None:
    assert json_values_at_most(b"[]") == 1
    assert json_values_at_most(b'{"a": [1, 2, {"b": 3}]}') == 5  # a, 1, 2, {...}, b
    assert json_values_at_most(b'"a,b,[c,{d"') == 5  # inside strings too: never fewer


def costly(prefix: bytes, *, size: int, values: int) -> bytes:
    """Small objects after `prefix`, closed, within `size` bytes and `values` values."""
    count = min((size - len(prefix) - 16) // len(SMALL_OBJECT), (values - 8) // 3)
    return prefix + SMALL_OBJECT * count + b'{"a":[0]}]]}'


def test_bodies_with_too_many_values_are_refused_before_parsing(world: World) -> None:
    # Bulk verify at its value limit: 1,000 codes that are lists of numbers, answered
    # `invalid` (a code that is not a URL is answered, not refused).
    body = json.dumps({"codes": [[0] * 15] * 999 + [[0] * 14]}).encode()
    assert json_values_at_most(body) == BULK_VALUES
    r = world.call("POST", "/v1/verify", content=body, headers=JSON)
    assert r.status_code == 200, r.text[:300]
    assert {x["verdict"] for x in r.json()["results"]} == {"invalid"}
    # One value more, far below the byte limit: refused, naming the limit.
    body = json.dumps({"codes": [[0] * 15] * 1000}).encode()
    r = world.call("POST", "/v1/verify", content=body, headers=JSON)
    assert_error(r, 413, "ContentTooLarge", f"limit of {BULK_VALUES} values")
    # Refused before it is parsed: a truncated body over the limit is a 413, not a 422.
    r = world.call("POST", "/v1/verify", content=body[:-2], headers=JSON)
    assert_error(r, 413, "ContentTooLarge", f"limit of {BULK_VALUES} values")
    # Every JSON route has a limit: 10,000 by default, 50,000 for sync's items.
    batch = world.new_batch()["id"]
    many = {"type": "stored", "event_time": "2026-11-21T08:00:00+08:00", "data": [0] * 10_000}
    for path, limit in (
        (f"/v1/batches/{batch}/events", 10_000),
        ("/v1/batches", 10_000),
        ("/v1/sync", SYNC_VALUES),
    ):
        body = costly(b'{"items":[[', size=1_000_000, values=limit + 100)
        with unchanged(world.engine):
            r = world.call("POST", path, world.coop, content=body, headers=JSON)
        assert_error(r, 413, "ContentTooLarge", f"limit of {limit} values")
    with unchanged(world.engine):
        r = world.call("POST", f"/v1/batches/{batch}/events", world.coop, json=many)
    assert_error(r, 413, "ContentTooLarge", "limit of 10000 values")


async def _longest_loop_stall(
    app: FastAPI, posts: list[tuple[str, bytes]]
) -> tuple[float, list[int]]:
    """Answers `posts` concurrently in-process while a ticker turns with the event loop;
    returns the most CPU time (all threads) the process spent between two turns, and
    the statuses. CPU time, not wall time: a loaded machine that deschedules the process
    adds nothing to it, while a parse holding the loop (or the GIL) adds all of its own."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.process_time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.process_time()
            stalls.append(now - last)
            last = now

    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://registry.test", timeout=120
        ) as client,
    ):
        # Warm up: the first requests build the app's routes and caches.
        for path in {path for path, _ in posts}:
            await client.post(path, content=b"{}", headers=JSON)
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        answers = await asyncio.gather(
            *(client.post(path, content=body, headers=JSON) for path, body in posts)
        )
        done.set()
        await tick
    return max(stalls), [r.status_code for r in answers]


def test_the_event_loop_stays_free_while_the_costliest_bodies_are_answered(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Issue 11 item 1: a body parsed on the event loop stalled every other request for
    its whole parse (seconds for a few MB of small objects; a worker thread does not help,
    the parser holds the GIL). Posted at once: the largest bodies of small objects each
    route's byte limit allows (refused from their value count) and the costliest each
    accepts (at the value limit: bulk verify answers, sync asks for the key)."""
    db = tmp_path / "registry.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    verify_max = costly(b'{"codes":[[', size=BULK_LIMIT, values=10**9)
    sync_max = costly(b'{"items":[[', size=SYNC_LIMIT, values=10**9)
    verify_costly = costly(b'{"codes":[[', size=BULK_LIMIT, values=BULK_VALUES)
    sync_costly = costly(b'{"items":[[', size=SYNC_LIMIT, values=SYNC_VALUES)
    posts = [
        ("/v1/verify", verify_max), ("/v1/sync", sync_max),
        ("/v1/verify", verify_costly), ("/v1/sync", sync_costly),
    ] * 2  # fmt: skip
    # The test process's own heap (pytest, every module) is not the server's: a full
    # collection of it would be a stall of the test's making.
    gc.collect()
    gc.freeze()
    try:
        stall, statuses = asyncio.run(_longest_loop_stall(create_app(engine), posts))
    finally:
        gc.unfreeze()
        engine.dispose()
    # Parsed on the loop, the 4 MiB body alone took over a second of CPU; now the longest
    # stretch without a turn of the loop is what the costliest accepted body costs.
    assert stall < 0.25, f"the event loop was held for {stall:.3f} s of CPU"
    assert statuses == [413, 413, 200, 401] * 2


def test_a_code_nested_255_deep_is_refused_not_a_500(client: TestClient) -> None:
    body = '{"codes": [' + nested(255) + "]}"
    r = client.post("/v1/verify", content=body, headers=JSON)
    assert_error(r, 413, "ContentTooLarge", "32 levels")
    # Just inside the limit, the code is answered and echoed as given.
    body = '{"codes": [' + nested(30) + "]}"
    r = client.post("/v1/verify", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert (result["verdict"], result["code"]) == ("invalid", nested(30))


def test_deep_json_is_refused_on_every_json_route(world: World) -> None:
    batch = world.new_batch()["id"]
    deep = {"a": json.loads(nested(40))}
    for path in ("/v1/batches", f"/v1/batches/{batch}/events", "/v1/sync", "/v1/orgs"):
        with unchanged(world.engine):
            r = world.call("POST", path, world.coop, json=deep)
        assert_error(r, 413, "ContentTooLarge", "32 levels")


def test_bodies_over_the_limit_are_refused_with_the_limit(world: World) -> None:
    big = {"brand": BRAND, "lot": "BIG-1", "product": "x" * 1_100_000}
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop, json=big)
    assert_error(r, 413, "ContentTooLarge", "limit of 1048576 bytes")
    # Bulk verify's limit follows from its 1,000 codes of a URL's length each.
    url = "https://example.org/01/06901234567892/10/L1/21/" + "1" * 1990
    r = world.call("POST", "/v1/verify", json={"codes": [url] * 1000})
    assert r.status_code == 200, r.text[:300]
    r = world.call("POST", "/v1/verify", json={"codes": [url] * 1100})
    assert_error(r, 413, "ContentTooLarge", f"limit of {BULK_LIMIT} bytes")
    # Without Content-Length (chunked), reading stops at the limit.

    def chunks() -> Iterator[bytes]:
        yield b'{"codes": ["'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"]}'

    r = world.call("POST", "/v1/verify", content=chunks(), headers=JSON)
    assert_error(r, 413, "ContentTooLarge", f"limit of {BULK_LIMIT} bytes")
    # Routes without a JSON body are bounded too.
    r = world.call("POST", f"/v1/orgs/{world.coop.id}/keys", world.admin, content=b"x" * 1_100_000)
    assert_error(r, 413, "ContentTooLarge", "1048576")


def test_json_routes_refuse_other_content_types_with_415(world: World) -> None:
    body = json.dumps({"brand": BRAND, "lot": "CT-1", "product": "p"}).encode()
    for headers in (
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        with unchanged(world.engine):
            r = world.call("POST", "/v1/batches", world.coop, content=body, headers=headers)
        assert_error(r, 415, "UnsupportedMediaType", "Content-Type: application/json")
    r = world.call(
        "POST", "/v1/batches", world.coop, content=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = world.call("POST", "/v1/verify", content=b'{"codes": []}')
    assert_error(r, 415, "UnsupportedMediaType", "no Content-Type")
    # No body and no type: the framework names the missing body.
    assert_error(world.call("POST", "/v1/batches", world.coop), 422, "ValidationError")


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def test_healthz_keeps_answering_while_large_bodies_are_refused(tmp_path: Path) -> None:
    with Server(database_url=fresh_database("sqlite", tmp_path)) as server:
        # A declared 24 MB body is refused from its headers, before a byte of it is read.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 24000000\r\n\r\n"
            )
            answer = _read_response(sock)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert f"limit of {BULK_LIMIT} bytes".encode() in answer
        # A chunked body is read only up to the limit; /healthz answers all the while.
        healthz = 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            piece = b"x" * 262_144
            for _ in range(9):  # 2.25 MB, past the limit
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                assert httpx2.get(f"{server.url}/healthz", timeout=30).status_code == 200
                healthz += 1
            answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert healthz == 9
        assert httpx2.get(f"{server.url}/healthz", timeout=30).json() == {"status": "ok"}
