"""Redis unreachable (REGISTRY_REDIS_URL at a closed port; the shared Redis keeps running):
every verification is still answered, scans fall back to the in-process buffer and reach
the database, and a sheet request answers 202 with its job queued, marked to be sent when
Redis is back (tests/workers/test_redis_comes_and_goes.py sends it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.factories import World, label_codes, labeled_batch
from tests.verify.helpers import path_of
from tests.worker_process import settings_env

REQUESTS = 300


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_down(tmp_path: Path) -> Iterator[None]:
    env = {
        "REGISTRY_REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "REGISTRY_JOB_OUTPUT_DIR": str(tmp_path / "jobs"),
        # One client scans hundreds of times: above the per-address limit a person never
        # reaches (the limiter itself is tested in tests/core/test_ratelimit.py).
        "REGISTRY_RATE_LIMIT_PUBLIC": "1000000/minute",
    }
    with settings_env(env):
        yield


@pytest.mark.usefixtures("redis_down")
def test_verification_answers_and_records_while_redis_is_down(world: World, engine: Engine) -> None:
    _, run = labeled_batch(world, units=10, count=4)
    urls = label_codes(world, run["run_id"])

    def scan(i: int) -> int:
        r = world.client.get(path_of(urls[i % 4]), headers={"Accept": "application/json"})
        assert r.json()["verdict"] in ("genuine", "suspicious")
        return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(scan, range(REQUESTS)))
    assert statuses == [200] * REQUESTS

    recorder = world.client.app.state.scan_recorder  # type: ignore[attr-defined]
    recorder.stop()  # push what is left: to Redis if it could, else the buffer, then flush
    assert recorder.streamed == 0
    assert recorder.diverted == REQUESTS
    assert recorder.dropped == 0
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT sum(count) FROM scan_counters")).scalar_one()
    assert stored == REQUESTS
    metrics = world.client.get("/metrics").text
    assert f"scans_recorded_total {REQUESTS}\n" in metrics
    assert f"scans_diverted_total {REQUESTS}\n" in metrics
    assert "scans_dropped_total 0\n" in metrics
    assert "scan_stream_up 0\n" in metrics


@pytest.mark.usefixtures("redis_down")
def test_a_sheet_that_cannot_be_sent_stays_queued(world: World, engine: Engine) -> None:
    _, run = labeled_batch(world, units=10, count=4)
    r = world.call("POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    job = world.call("GET", f"/v1/jobs/{job_id}", world.coop).json()
    assert (job["state"], job["error"]) == ("queued", None)
    with engine.connect() as conn:
        unsent = conn.execute(
            text("SELECT unsent_since FROM jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()
    assert unsent is not None  # the resend sweep's to send
