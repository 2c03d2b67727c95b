"""Bounded request bodies: size (413 naming the limit), JSON depth (413, never a 500 in
the echo of the input), JSON content type (415 naming the header), for every route,
before anything is parsed; and a real server keeps answering /healthz meanwhile."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx2
from fastapi.testclient import TestClient

from loadtests.server import Server, fresh_database
from registry.core.bounds import json_depth_exceeds
from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND, World

BULK_LIMIT = 1000 * (2048 + 8) + 1024
JSON = {"Content-Type": "application/json"}


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
