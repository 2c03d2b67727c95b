"""Redis unreachable in the middle of a run, then back: the API and a real worker reach
Redis through a TCP proxy that the test stops (every connection cut, the port closed) and
starts again; the shared Redis keeps running. Every scan answered is counted, the sheet
job that was rendering finishes, a sheet asked for while Redis was away is sent once it
is back and finishes, and the API answers throughout."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text

from tests.factories import World, label_codes, labeled_batch, recalled
from tests.jobs.sheet_checks import labeled_run, read_sheet, wait_for_job
from tests.verify.helpers import path_of
from tests.worker_process import TaskMode, _redis_mode


class TcpProxy:
    """127.0.0.1:port -> target; `stop()` closes the port and cuts every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def proxied_redis(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TaskMode, TcpProxy]]:
    parts = urlsplit(redis_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    proxy.start()
    url = redis_url.replace(parts.netloc, f"127.0.0.1:{proxy.port}")
    try:
        for mode in _redis_mode(url, tmp_path_factory.mktemp("proxied")):
            yield mode, proxy
    finally:
        proxy.stop()


def _scanned(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT coalesce(sum(count), 0) FROM scan_counters")).scalar_one()
        )


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_redis_goes_away_mid_run_and_comes_back(
    proxied_redis: tuple[TaskMode, TcpProxy], world: World, engine: Engine
) -> None:
    mode, proxy = proxied_redis
    _, small = labeled_batch(world, units=10, count=4)
    urls = label_codes(world, small["run_id"])
    run = labeled_run(world, 1400)
    mode.start_worker(engine, beat=True)
    answered = 0

    def scan(n: int) -> None:
        nonlocal answered
        for i in range(n):
            r = world.client.get(path_of(urls[i % 4]), headers={"Accept": "application/json"})
            assert r.status_code == 200, r.text
            assert r.json()["verdict"] in ("genuine", "suspicious")
            answered += 1

    scan(40)
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": "a4-4x10"}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 120
    while world.call("GET", f"/v1/jobs/{job_id}", world.coop).json()["progress"]["done"] == 0:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)

    proxy.stop()  # Redis unreachable: scans, the running job, the cache's invalidations
    scan(60)
    assert world.call("GET", "/healthz").status_code == 200
    assert world.call("GET", f"/v1/jobs/{job_id}", world.coop).status_code == 200
    time.sleep(3)
    proxy.start()
    scan(40)

    job = wait_for_job(world, job_id, world.coop, until=("succeeded", "failed"), timeout=240)
    assert job["state"] == "succeeded", job
    sheet = read_sheet(world.call("GET", job["result_url"], world.coop).content)
    assert sorted(sheet.urls) == sorted(label_codes(world, run["run_id"]))

    recorder = world.client.app.state.scan_recorder  # type: ignore[attr-defined]
    recorder.stop()  # what is still in process goes to Redis (or the database)
    assert recorder.dropped == 0
    assert recorder.diverted > 0  # the API did meet the outage: those went to its buffer
    deadline = time.monotonic() + 60
    while _scanned(engine) < answered:  # the worker drains the stream
        assert time.monotonic() < deadline, (_scanned(engine), answered)
        time.sleep(0.2)
    assert _scanned(engine) == answered == 140  # every answered scan counted once


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_sheet_asked_for_while_redis_is_away_is_sent_when_it_is_back(
    proxied_redis: tuple[TaskMode, TcpProxy], world: World, engine: Engine
) -> None:
    """Issue 11: the job was marked failed ("could not be queued"). Now it stays queued
    and the beat's resend sweep, at its default interval (10 s), sends it."""
    mode, proxy = proxied_redis
    run = labeled_run(world, 200)
    mode.start_worker(engine, beat=True)
    proxy.stop()
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": "a4-4x10"}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    time.sleep(3)
    job = world.call("GET", f"/v1/jobs/{job_id}", world.coop).json()
    assert (job["state"], job["error"]) == ("queued", None)
    away = time.monotonic()
    proxy.start()
    job = wait_for_job(world, job_id, world.coop, until=("succeeded", "failed"), timeout=180)
    sys.stdout.write(  # the figure; shown with `pytest -s`
        f"\nsheet job sent and finished {time.monotonic() - away:.1f} s after Redis came back\n"
    )
    assert job["state"] == "succeeded", job
    sheet = read_sheet(world.call("GET", job["result_url"], world.coop).content)
    assert sorted(sheet.urls) == sorted(label_codes(world, run["run_id"]))
    with engine.connect() as conn:
        unsent = conn.execute(text("SELECT count(*) FROM jobs WHERE unsent_since IS NOT NULL"))
        assert unsent.scalar_one() == 0


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_recall_made_while_redis_is_away_is_answered_once_it_is_back(
    proxied_redis: tuple[TaskMode, TcpProxy], world: World
) -> None:
    """The verification cache's change signal for the recall could not be published: the
    lot cached before the outage must not be answered from that cache once Redis is back."""
    _, proxy = proxied_redis
    batch, run = labeled_batch(world, units=10, count=4)
    url = label_codes(world, run["run_id"])[0]

    def verdict() -> str:
        r = world.client.get(path_of(url), headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        return str(r.json()["verdict"])

    assert verdict() == "genuine"  # and cached, under the lot's change token
    proxy.stop()
    world.ok(batch["id"], world.owner, recalled())
    assert verdict() == "recalled"  # Redis away: answered from the database
    proxy.start()
    assert [verdict() for _ in range(3)] == ["recalled"] * 3
