"""The system under test: a fresh database, and uvicorn serving the app with N workers,
with the CPU time its processes use (parent and workers, from psutil)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psutil
from sqlalchemy import make_url, text

from registry.core.db import make_engine
from registry.core.lanes import SERVING_LOOP

# Benchmarks drive one client address and a few API keys far past a person's rate, so the
# rate limits are raised through their settings (not switched off: the limiter's cost stays
# in every figure). A benchmark's own `extra_env` may set other levels.
BENCH_RATE_LIMITS = {
    "REGISTRY_RATE_LIMIT_PUBLIC": "100000000/minute",
    "REGISTRY_RATE_LIMIT_WRITES": "100000000/minute",
}

PG_URL = os.environ.get(
    "REGISTRY_LOAD_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/registry_load"
)


def fresh_database(backend: str, workdir: Path, *, pg_url: str = PG_URL) -> str:
    """An empty database: a new SQLite file under `workdir`, or PostgreSQL database
    `pg_url` dropped and created again (through the server's `postgres` database)."""
    if backend == "sqlite":
        db = workdir / "load.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{db.resolve()}"
    url = make_url(pg_url)
    name = url.database
    if not name or name in ("test", "registry_bench", "postgres"):
        raise SystemExit(f"refusing to recreate database {name!r}; name a load-test database")
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url


def drop_database(pg_url: str = PG_URL) -> None:
    url = make_url(pg_url)
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`uvicorn registry.main:app_factory --factory --workers N --loop SERVING_LOOP` on 127.0.0.1,
    as `registry serve` runs it, with the rate limits raised to BENCH_RATE_LIMITS (printed
    at start)."""

    def __init__(
        self,
        *,
        database_url: str,
        workers: int = 1,
        redis_url: str | None = None,
        port: int | None = None,
        log: Path | None = None,
        extra_env: dict[str, str] | None = None,
        app: str = "registry.main:app_factory",
        access_log: bool = False,
    ) -> None:
        # `app`: the registry (a factory), or `loadtests.bare:app`, the framework's ceiling
        # served by the very same command. `access_log`: as `registry serve` runs by default
        # (INFO, a line per request, into `log`); else warnings only.
        self.app = app
        self.access_log = access_log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_LOG_LEVEL": "INFO" if access_log else "WARNING",
            **BENCH_RATE_LIMITS,
            **(extra_env or {}),
        }
        env.pop("REGISTRY_REDIS_URL", None)
        if redis_url:
            env["REGISTRY_REDIS_URL"] = redis_url
        self._env = env
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable, "-m", "uvicorn", self.app,
            *(["--factory"] if self.app.endswith("_factory") else []),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            *(["--log-level", "info"] if self.access_log else
              ["--log-level", "warning", "--no-access-log"]),
            "--no-proxy-headers",
            "--loop", SERVING_LOOP,
        ]  # fmt: skip
        raised = ", ".join(f"{k}={self._env[k]}" for k in BENCH_RATE_LIMITS)
        print(f"server: rate limits raised for the benchmark ({raised})", flush=True)
        out = open(self._log, "ab") if self._log else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(command, env=self._env, stdout=out, stderr=out)
        if out is not subprocess.DEVNULL:
            out.close()  # the server has its own descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"server exited with {self._proc.returncode}; see {self._log}")
            try:
                ready = httpx2.get(f"{self.url}/readyz", timeout=2).status_code == 200
                # With several workers, wait until each has started.
                if ready and len(self.processes()) >= (
                    1 if self.workers == 1 else self.workers + 1
                ):
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /readyz within {timeout:.0f} s")

    def processes(self) -> list[psutil.Process]:
        """uvicorn's process and, with several workers, the worker processes."""
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes."""
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
