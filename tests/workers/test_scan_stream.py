"""Consumer scans through Redis: the API appends to a stream, a real worker (its beat
drains every 0.2 s) writes them to the database; counts are exact."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine, text

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.core.time import utcnow
from registry.scans.ingest import ingest_scans
from registry.scans.records import ScanRecord
from registry.scans.stream import GROUP, drain_scan_stream, encode, ensure_group
from tests.factories import GTIN, World, label_codes, labeled_batch
from tests.verify.helpers import path_of
from tests.worker_process import TaskMode


def counters(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT serial, count FROM scan_counters"))
        return {str(row[0]): int(row[1]) for row in rows}


def scan_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM scans")).scalar_one())


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_scans_reach_the_database_through_the_stream_exactly_once(
    redis_mode: TaskMode, world: World, engine: Engine
) -> None:
    _, run = labeled_batch(world, units=10, count=3)
    urls = label_codes(world, run["run_id"])
    redis_mode.start_worker(engine, beat=True)
    plan = [urls[0]] * 60 + [urls[1]] * 25 + [urls[2]] * 15
    for url in plan:
        r = world.client.get(path_of(url), headers={"Accept": "application/json"})
        assert r.status_code == 200
        assert r.json()["verdict"] in ("genuine", "suspicious")
    recorder = world.client.app.state.scan_recorder  # type: ignore[attr-defined]
    # Delivered, not merely taken from the buffer: a batch leaves the buffer before its
    # pipeline to Redis returns, so an empty buffer alone raced the `streamed` count.
    wait_for(lambda: recorder.streamed + recorder.fallback.recorded == 100)
    assert recorder.streamed == 100
    assert recorder.fallback.written == 0  # nothing took the in-process path

    expected = {"00000001": 60, "00000002": 25, "00000003": 15}
    wait_for(lambda: counters(engine) == expected)
    assert scan_rows(engine) == 100
    client = redis_mode.redis_client()
    stream = redis_mode.env["REGISTRY_SCAN_STREAM"]
    wait_for(lambda: client.xlen(stream) == 0)  # acknowledged and deleted
    assert client.xpending(stream, GROUP)["pending"] == 0
    client.close()

    metrics = world.client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "scans_recorded_total 100\n" in metrics.text
    assert "scans_streamed_total 100\n" in metrics.text
    assert "scans_dropped_total 0\n" in metrics.text


@pytest.mark.usefixtures("redis_mode")
def test_entries_of_a_dead_consumer_are_claimed_and_never_counted_twice(engine: Engine) -> None:
    settings = get_settings()
    assert settings.redis_url is not None
    client = redis.Redis.from_url(settings.redis_url)
    stream = settings.scan_stream
    ensure_group(client, stream)
    now = utcnow()
    scans = [ScanRecord(GTIN, "LOT-1", f"{n:08d}", now) for n in (1, 1, 2)]
    for scan in scans:
        client.xadd(stream, encode(scan))  # type: ignore[arg-type]
    # A consumer reads the entries and dies before acknowledging them.
    client.xreadgroup(GROUP, "dead-consumer", {stream: ">"}, count=10)
    assert drain_scan_stream(engine, client, stream=stream, batch_size=2) == 0
    claimed = drain_scan_stream(engine, client, stream=stream, batch_size=2, claim_idle_ms=0)
    assert claimed == 3
    assert client.xlen(stream) == 0
    client.close()
    assert counters(engine) == {"00000001": 2, "00000002": 1}

    # Entries delivered again after a crash between the commit and XACK are skipped.
    ids = ["1-0", "1-1", "1-2"]
    with unit_of_work(engine, write=True) as session:
        assert ingest_scans(session, scans, stream_ids=ids).written == 3
    with unit_of_work(engine, write=True) as session:
        repeat = ingest_scans(session, scans, stream_ids=ids)
    assert (repeat.written, repeat.duplicates) == (0, 3)
    assert counters(engine) == {"00000001": 4, "00000002": 2}
    assert scan_rows(engine) == 6
