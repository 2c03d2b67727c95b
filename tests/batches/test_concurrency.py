"""Concurrent writers against a real server: appends to one batch never fork or lose a
link, and concurrent harvests on two batches never slip past the annual quota."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.main import create_app
from tests.factories import BRAND, World, build_world, harvested, stored

WRITERS = 8
EVENTS_PER_WRITER = 10


@contextmanager
def serving(engine: Engine) -> Iterator[str]:
    """A uvicorn server for `create_app(engine)` on a free port, in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(engine), log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx2.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            assert thread.is_alive(), "the server thread died"
            time.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def _run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job in its own thread, released at the same moment; results in job order."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_appends_to_one_batch_keep_one_chain(world: World) -> None:
    batch = world.new_batch()["id"]
    with serving(world.engine) as base_url:

        def writer(n: int) -> list[tuple[int, dict[str, Any]]]:
            acks = []
            with httpx2.Client(base_url=base_url, headers=world.coop.auth, timeout=60) as http:
                for i in range(EVENTS_PER_WRITER):
                    r = http.post(f"/v1/batches/{batch}/events", json=stored(f"w{n}-e{i}"))
                    acks.append((r.status_code, r.json()))
            return acks

        answers = _run_together([lambda n=n: writer(n) for n in range(WRITERS)])

    acks = [body for per_writer in answers for status, body in per_writer if status == 201]
    failed = [(s, b) for per_writer in answers for s, b in per_writer if s != 201]
    assert not failed, failed[:3]
    total = WRITERS * EVENTS_PER_WRITER
    assert len(acks) == total

    events = world.call("GET", f"/v1/batches/{batch}/events", world.coop).json()["items"]
    assert [e["seq"] for e in events] == list(range(total + 1))
    for previous, event in itertools.pairwise(events):
        assert event["prev_hash"] == previous["hash"]
    stored_by_hash = {e["hash"]: e for e in events}
    for ack in acks:
        assert stored_by_hash[ack["hash"]] == ack
    places = sorted(e["data"]["place"] for e in events[1:])
    assert places == sorted(f"w{n}-e{i}" for n in range(WRITERS) for i in range(EVENTS_PER_WRITER))
    audit = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
    assert audit.pop("log")["leaf_index"] == events[-1]["leaf_index"]
    assert audit == {
        "batch_id": batch,
        "intact": True,
        "length": total + 1,
        "head_hash": events[-1]["hash"],
        "problems": [],
    }


@pytest.fixture
def quota_world(client: TestClient, engine: Engine) -> World:
    return build_world(client, engine, quota_kg=10_000)


def test_concurrent_harvests_never_exceed_the_quota(quota_world: World) -> None:
    w = quota_world
    batches = [w.new_batch()["id"], w.new_batch()["id"]]
    with serving(w.engine) as base_url:

        def harvest(n: int) -> tuple[int, dict[str, Any]]:
            with httpx2.Client(base_url=base_url, headers=w.coop.auth, timeout=60) as http:
                r = http.post(f"/v1/batches/{batches[n % 2]}/events", json=harvested(2000))
                return r.status_code, r.json()

        answers = _run_together([lambda n=n: harvest(n) for n in range(WRITERS)])

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 5 + [409] * 3, answers
    assert {body["error"] for status, body in answers if status == 409} == {"QuotaExceeded"}
    harvested_kg = 0.0
    for batch in batches:
        events = w.call("GET", f"/v1/batches/{batch}/events", w.coop).json()["items"]
        harvested_kg += sum(e["data"]["quantity"] for e in events if e["type"] == "harvested")
        assert w.call("GET", f"/v1/batches/{batch}/audit", w.coop).json()["intact"]
    assert harvested_kg == 10_000


DRIVER_WORDS = (
    "DETAIL",
    "duplicate key",
    "UNIQUE constraint",
    "psycopg",
    "sqlite3",
    "IntegrityError",
)


def test_a_lot_created_twice_at_once_is_refused_without_the_driver_s_words(world: World) -> None:
    """Issue 11 item 3: a conflict found by the database (two requests passed the lot check
    together) answered with PostgreSQL's own DETAIL text. One creation wins; every other
    gets a 409 in the error shape, in the registry's words."""
    body = {"brand": BRAND, "lot": "RACE-1", "product": "tea"}
    with serving(world.engine) as base_url:

        def create() -> tuple[int, dict[str, Any]]:
            with httpx2.Client(base_url=base_url, headers=world.coop.auth, timeout=60) as http:
                r = http.post("/v1/batches", json=body)
                return r.status_code, r.json()

        answers = _run_together([create] * WRITERS)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (WRITERS - 1), answers
    for status, answer in answers:
        if status == 409:
            assert set(answer) == {"error", "detail"}, answer
            assert not any(word in answer["detail"] for word in DRIVER_WORDS), answer
