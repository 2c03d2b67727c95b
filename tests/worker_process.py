"""Real Celery workers for tests: each a `celery worker` subprocess on the test Redis, with
its own queue and scan stream names, pointed at the test's database.

`task_mode` runs a test twice: with tasks in-process (eager, no Redis) and with Redis and
a worker subprocess started by `worker`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from registry.core.config import get_settings
from tests.dbtools import database_url

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0


@contextmanager
def settings_env(values: dict[str, str]) -> Iterator[None]:
    """REGISTRY_* variables set for the block, the cached settings rebuilt both ways."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@dataclass
class TaskMode:
    name: str  # "eager" or "redis"
    env: dict[str, str]
    tmp: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def redis(self) -> bool:
        return self.name == "redis"

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["REGISTRY_REDIS_URL"])

    def start_worker(self, engine: Engine, *, beat: bool = False) -> subprocess.Popen[bytes]:
        """A `celery worker` subprocess (solo pool), returned once it is ready."""
        n = len(self.workers)
        log = self.tmp / f"worker-{n}.log"
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            "--logfile",
            str(log),
        ]
        if beat:
            args += ["--beat", "--schedule", str(self.tmp / f"beat-{n}")]
        env = {**os.environ, **self.env, "REGISTRY_DATABASE_URL": database_url(engine)}
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as a whole
        )
        self.workers.append(process)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if log.exists() and " ready." in log.read_text(errors="replace"):
                return process
            if process.poll() is not None:
                break
            time.sleep(0.1)
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        raise AssertionError(f"celery worker did not start:\n{text[-3000:]}")

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.workers:
            self.kill(process, signal.SIGTERM)


@pytest.fixture(params=["eager", "redis"])
def task_mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskMode]:
    """Settings for in-process tasks or for Redis (unique queue and stream per test).
    Request it before `world` or `client`, so the app is built with these settings."""
    if request.param == "redis":
        yield from _redis_mode(request.getfixturevalue("redis_url"), tmp_path)
        return
    env = {
        "REGISTRY_JOB_OUTPUT_DIR": str(tmp_path / "jobs"),
        "REGISTRY_RATE_LIMIT_PUBLIC": "1000000/minute",
    }
    mode = TaskMode("eager", env, tmp_path)
    with settings_env(mode.env):
        yield mode


@pytest.fixture
def worker(task_mode: TaskMode, engine: Engine) -> subprocess.Popen[bytes] | None:
    """A worker subprocess in Redis mode (none in eager mode: tasks run in the app)."""
    return task_mode.start_worker(engine) if task_mode.redis else None


@pytest.fixture
def eager_mode(tmp_path: Path) -> Iterator[TaskMode]:
    """In-process tasks only (for rules that do not depend on where a task runs)."""
    env = {
        "REGISTRY_JOB_OUTPUT_DIR": str(tmp_path / "jobs"),
        "REGISTRY_RATE_LIMIT_PUBLIC": "1000000/minute",
    }
    mode = TaskMode("eager", env, tmp_path)
    with settings_env(mode.env):
        yield mode


@pytest.fixture
def redis_mode(redis_url: str, tmp_path: Path) -> Iterator[TaskMode]:
    """Redis mode only (for tests that need the stream or a worker to kill)."""
    yield from _redis_mode(redis_url, tmp_path)


def _redis_mode(redis_url: str, tmp_path: Path) -> Iterator[TaskMode]:
    tag = uuid.uuid4().hex[:10]
    env = {
        "REGISTRY_JOB_OUTPUT_DIR": str(tmp_path / "jobs"),
        "REGISTRY_REDIS_URL": redis_url,
        "REGISTRY_TASK_QUEUE": f"registry-test-{tag}",
        "REGISTRY_SCAN_STREAM": f"registry-test-scans-{tag}",
        "REGISTRY_DEVICE_KEY_PREFIX": f"registry-test-devices-{tag}:",
        # A killed worker's task is redelivered after 3 s instead of an hour.
        "REGISTRY_TASK_VISIBILITY_TIMEOUT": "3",
        "REGISTRY_SCAN_DRAIN_INTERVAL": "0.2",
        # These tests scan one code hundreds of times from one address on purpose.
        "REGISTRY_RATE_LIMIT_PUBLIC": "1000000/minute",
    }
    mode = TaskMode("redis", env, tmp_path)
    with settings_env(env):
        try:
            yield mode
        finally:
            mode.stop_all()
            client = mode.redis_client()
            client.delete(env["REGISTRY_TASK_QUEUE"], env["REGISTRY_SCAN_STREAM"])
            for key in client.scan_iter(match=env["REGISTRY_DEVICE_KEY_PREFIX"] + "*"):
                client.delete(key)
            client.close()
