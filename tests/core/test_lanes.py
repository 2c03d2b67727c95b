"""Writes run on the write loop's thread, everything else on the main loop; reads beyond
`REGISTRY_CONCURRENT_READS` wait their turn and are all answered (registry/core/lanes.py)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends
from fastapi.testclient import TestClient

from registry.core.auth import WriteCaller, Writer
from registry.main import create_app
from registry.orgs.models import OrgKind
from tests.factories import World
from tests.worker_process import settings_env


def test_writes_run_on_the_write_loop_and_reads_take_turns(world: World) -> None:
    seen: dict[str, str] = {}
    running = most = 0

    async def write(caller: Annotated[WriteCaller, Depends(Writer(OrgKind.cooperative))]) -> None:
        seen["write"] = threading.current_thread().name

    async def read() -> None:
        nonlocal running, most
        seen["read"] = threading.current_thread().name
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)  # holds its turn while it waits
        running -= 1

    with settings_env({"REGISTRY_CONCURRENT_READS": "2"}):
        app = create_app(world.engine)
        # Added before the first request, when the guard reads the routes.
        app.post("/v1/test-lane/write")(write)
        app.get("/v1/test-lane/read")(read)
        with TestClient(app) as client:
            r = client.post("/v1/test-lane/write", headers=world.coop.auth)
            assert r.status_code == 200, r.text
            refused = client.post("/v1/test-lane/write", headers=world.orgs["handler"].auth)
            assert refused.status_code == 403  # checked on the write loop, in the error shape
            assert refused.json()["error"] == "Forbidden"
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(lambda _: client.get("/v1/test-lane/read").status_code, range(8))
                )
    assert statuses == [200] * 8
    assert seen["write"] == "write-lane"
    assert seen["read"] != "write-lane"
    assert most == 2  # eight reads at once, two at a time


def test_write_routes_reuse_their_worker_threads(world: World) -> None:
    """A sync write route runs in a worker thread of the write loop's pool, which outlives
    the request (a thread started per request cost most writes a thread start)."""
    threads: list[threading.Thread] = []

    def write(caller: Annotated[WriteCaller, Depends(Writer(OrgKind.cooperative))]) -> None:
        threads.append(threading.current_thread())  # held: no two threads share an entry

    app = create_app(world.engine)
    app.post("/v1/test-lane/sync-write")(write)
    with TestClient(app) as client:
        for _ in range(5):
            r = client.post("/v1/test-lane/sync-write", headers=world.coop.auth)
            assert r.status_code == 200, r.text
    assert len(threads) == 5
    assert len(set(threads)) == 1  # one after the other: one thread
