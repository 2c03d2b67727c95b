"""`registry serve` for a new operator: each mistake is a few lines on stderr that say what
to do, a non-zero exit, and no web server started (the real CLI in a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import make_url, text

from registry.core.db import make_engine
from registry.migrate import upgrade
from registry.preflight import head_revision
from tests.conftest import POSTGRES_URL, unavailable

ROOT = Path(__file__).resolve().parents[2]
EMPTY_PG_URL = os.environ.get(
    "REGISTRY_TEST_EMPTY_PG_URL",
    make_url(POSTGRES_URL)
    .set(database=f"{make_url(POSTGRES_URL).database}_empty")
    .render_as_string(hide_password=False),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m registry.cli ARGS` in `tmp_path` with only the given REGISTRY_* set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, nothing on stdout (no server banner), one `error:` line per expected text."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert len(lines) == len(expected), lines
    for line, words in zip(lines, expected, strict=True):
        assert line.startswith("error: "), line
        assert words in line, (words, line)
    assert "Traceback" not in result.stderr


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    url = make_url(EMPTY_PG_URL)
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    except Exception as exc:  # any connection failure: skip or fail as configured
        admin.dispose()
        unavailable("PostgreSQL", exc)
    yield EMPTY_PG_URL
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


UPGRADE = "run `registry db upgrade`"


def test_no_database_file(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    result = registry(tmp_path, "serve", REGISTRY_DATABASE_URL=f"sqlite:///{db}")
    refused(result, f"there is no database at SQLite file {db}", UPGRADE)
    assert not db.exists()


def test_empty_databases(tmp_path: Path, empty_pg_url: str) -> None:
    db = tmp_path / "empty.db"
    make_engine(f"sqlite:///{db}").dispose()
    with make_engine(f"sqlite:///{db}").connect() as conn:  # a file with no tables
        conn.execute(text("SELECT 1"))
    for url in (f"sqlite:///{db}", empty_pg_url):
        result = registry(tmp_path, "serve", REGISTRY_DATABASE_URL=url)
        refused(result, "has no registry schema yet", UPGRADE)


def test_a_schema_behind_this_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine, "0002")
    engine.dispose()
    result = registry(tmp_path, "serve", REGISTRY_DATABASE_URL=f"sqlite:///{db}")
    refused(result, f"is at revision 0002; this registry needs {head_revision()}", UPGRADE)


def test_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/registry"
    for command in (["serve"], ["db", "upgrade"]):
        result = registry(tmp_path, *command, REGISTRY_DATABASE_URL=url)
        refused(
            result,
            "cannot connect to the database (PostgreSQL 127.0.0.1:",
            "check REGISTRY_DATABASE_URL",
        )


def test_postgres_urls_without_the_driver(tmp_path: Path) -> None:
    for scheme, command in (("postgres", ["serve"]), ("postgresql", ["db", "upgrade"])):
        url = f"{scheme}://postgres@127.0.0.1:5432/registry"
        result = registry(tmp_path, *command, REGISTRY_DATABASE_URL=url)
        refused(
            result,
            f"starts with {scheme}://, which the registry cannot use: write postgresql+psycopg://",
        )


PRODUCTION_CASES = [
    ({}, ["REGISTRY_KEY_PASSPHRASE must be set in production"]),
    (
        {"REGISTRY_KEY_PASSPHRASE": "short-secret", "REGISTRY_PUBLIC_URL": "http://x.cn"},
        [
            "REGISTRY_KEY_PASSPHRASE is too short for production: use at least 16",
            "REGISTRY_PUBLIC_URL must be an https:// URL in production",
        ],
    ),
]


@pytest.mark.parametrize(("env", "expected"), PRODUCTION_CASES)
def test_production_settings(tmp_path: Path, env: dict[str, str], expected: list[str]) -> None:
    db = tmp_path / "never.db"
    settings = {
        "REGISTRY_ENVIRONMENT": "production",
        "REGISTRY_PUBLIC_URL": "https://registry.example.cn",
        "REGISTRY_DATABASE_URL": f"sqlite:///{db}",
        **env,
    }
    refused(registry(tmp_path, "serve", **settings), *expected)
    assert not db.exists()


def test_a_ready_database_serves(tmp_path: Path) -> None:
    """The checks pass a correct set-up: production settings and an upgraded database."""
    db = tmp_path / "registry.db"
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{db}",
        "REGISTRY_ENVIRONMENT": "production",
        "REGISTRY_KEY_PASSPHRASE": "a long enough passphrase",
        "REGISTRY_PUBLIC_URL": "https://registry.example.cn",
    }
    assert registry(tmp_path, "db", "upgrade", **env).returncode == 0
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx2.TransportError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert r.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
