"""`registry sync` against a real uvicorn server that is SIGKILLed and restarted several
times during the upload: every event lands exactly once, every chain stays intact, the
client's record equals what the server stored, and a second run sends nothing.

REGISTRY_TEST_SYNC_EVENTS sets the outbox size (default 2,000 to keep CI affordable;
the issue's figure is 10,000).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from sqlalchemy import Engine, text

from registry.batches.cli_sync import read_record
from registry.core.lanes import SERVING_LOOP
from tests.dbtools import database_url
from tests.factories import World, stored

ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("REGISTRY_TEST_SYNC_EVENTS", "2000"))
BATCHES = 8
KILLS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KillableServer:
    """`uvicorn registry.main:app_factory` on a fixed port, started again after each kill."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.env = {
            **clean,
            "PYTHONPATH": str(ROOT),
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "registry.main:app_factory", "--factory",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log",
             "--loop", SERVING_LOOP],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            assert self.process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


@contextmanager
def killing(server: KillableServer, engine: Engine, at: list[int]) -> Iterator[None]:
    """Kill the server (then start it again) each time the events table reaches a count
    in `at`, while the block runs."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for threshold in at:
                while _count(engine) < threshold:
                    if done.wait(0.02):
                        return
                server.kill()
                time.sleep(0.5)  # the client meets a closed port, then backs off
                server.start()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=120)
    assert not errors, errors


def _client(
    tmp: Path, outbox: Path, server: KillableServer, key: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", "sync", str(outbox), "--url", server.base_url,
         "--key", key, "--chunk-size", "100"],
        cwd=tmp,
        env={**clean, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )  # fmt: skip


def test_upload_survives_server_kills_and_never_sends_twice(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    batches = [world.new_batch()["id"] for _ in range(BATCHES)]
    outbox = tmp_path / "outbox.jsonl"
    lines = [
        {"batch_id": batches[i % BATCHES], "idempotency_key": f"ev-{i}", "event": stored(f"p{i}")}
        for i in range(EVENTS)
    ]
    outbox.write_text("".join(json.dumps(x) + "\n" for x in lines))
    base = _count(engine)
    server = KillableServer(database_url(engine), tmp_path)
    server.start()
    try:
        at = [base + EVENTS * (k + 1) // (KILLS + 1) for k in range(KILLS)]
        started = time.monotonic()
        with killing(server, engine, at):
            first = _client(tmp_path, outbox, server, world.coop.key)
        sys.stdout.write(  # the figures; shown with `pytest -s`
            f"\n{engine.dialect.name}: {EVENTS} events, {server.kills} kills, "
            f"{time.monotonic() - started:.0f} s: {first.stdout.strip().splitlines()[-1]}\n"
        )
        assert server.kills == KILLS
        assert first.returncode == 0, first.stderr + first.stdout
        summary = first.stdout.strip().splitlines()[-1]
        assert summary.startswith(f"sent {EVENTS}: "), summary
        assert ", 0 refused;" in summary
        assert " 0 retries" not in summary  # it had to wait for the server each time

        again = _client(tmp_path, outbox, server, world.coop.key)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == (
            f"sent 0: 0 created, 0 duplicate, 0 refused; {EVENTS} already recorded; 0 retries"
        )
    finally:
        server.stop()
    assert _count(engine) == base + EVENTS  # nothing twice, nothing lost

    record = read_record(tmp_path / "outbox.jsonl.accepted.jsonl")
    assert set(record) == {x["idempotency_key"] for x in lines}
    stored_events: dict[str, tuple[str, int, str]] = {}
    for batch in batches:
        events = world.events(batch, world.coop)
        assert [e["seq"] for e in events] == list(range(len(events)))
        audit = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()
        assert audit["intact"] is True
        assert audit["length"] == EVENTS // BATCHES + 1
        for e in events[1:]:
            stored_events[f"ev-{e['data']['place'][1:]}"] = (batch, e["seq"], e["hash"])
    assert len(stored_events) == EVENTS
    # The client's record is the server's truth: same batch, seq and hash for every key.
    assert {k: (r["batch_id"], r["seq"], r["hash"]) for k, r in record.items()} == stored_events
    assert {r["status"] for r in record.values()} <= {"created", "duplicate"}
