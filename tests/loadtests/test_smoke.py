"""The load-test suite in smoke mode: seeding through the service layer, a real uvicorn
process, real Locust for a few seconds with every kind of user; any failed request (an
HTTP error or a wrong verdict) fails the run. Wall-clock figures are never asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import orjson
import pytest

from loadtests.seed import seed
from loadtests.server import Server, fresh_database
from registry.core.db import make_engine
from registry.migrate import upgrade
from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
# Not the suite's `test` database, nor the benchmark's `registry_load`.
SMOKE_PG_URL = os.environ.get(
    "REGISTRY_TEST_LOAD_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/registry_load_smoke"
)
ENDPOINTS = (
    "GET /01/…/21/… genuine",
    "GET /01/…/21/… forged",
    "GET /01/…/21/… recalled",
    "POST /v1/verify",
    "POST /v1/batches/{id}/events stored",
)


def _requests_per_endpoint(report: str) -> dict[str, int]:
    """Endpoint -> request count, from the report's phase table."""
    counts = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 6 and cells[4] in ENDPOINTS:
            counts[cells[4]] = int(cells[5].replace(",", ""))
    return counts


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_smoke_run_answers_every_user_without_failure(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        try:
            fresh_database("postgres", tmp_path, pg_url=SMOKE_PG_URL)
        except Exception as exc:  # any connection failure: skip or fail as configured
            unavailable("PostgreSQL", exc)
    report = tmp_path / "report.md"
    done = subprocess.run(
        [
            sys.executable, "-m", "loadtests.run", "--smoke", "--backend", backend,
            "--pg-url", SMOKE_PG_URL, "--workdir", str(tmp_path), "--out", str(report),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    counts = _requests_per_endpoint(report.read_text())
    assert set(counts) == set(ENDPOINTS), counts
    assert all(n > 0 for n in counts.values()), counts


def test_a_wrong_verdict_fails_the_run(tmp_path: Path) -> None:
    """Genuine codes filed as forged: consumers expect `invalid`, get `genuine`, and Locust
    exits non-zero naming the verdict."""
    url = fresh_database("sqlite", tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    data = seed(engine, codes=200, brands=1, cooperatives=1, batches_per_cooperative=2)
    engine.dispose()
    data.forged = data.genuine[:50]
    data_path = tmp_path / "data.json"
    data.write(data_path)
    env = {
        **os.environ,
        "REGISTRY_LOAD_DATA": str(data_path),
        "REGISTRY_LOAD_FORGED_SHARE": "0.5",
        "REGISTRY_LOAD_USERS": "consumer",
    }
    with Server(database_url=url) as server:
        done = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py",
                "--host", server.url, "--headless", "-u", "2", "-r", "2", "-t", "3s",
                "--only-summary", "--exit-code-on-error", "1",
            ],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "forged code" in done.stderr
    assert "answered 'genuine'" in done.stderr
    assert orjson.loads(data_path.read_bytes())["forged"] == data.genuine[:50]


@pytest.mark.parametrize("access_log", [True, False])
def test_the_access_log_is_on_only_when_asked_for(access_log: bool, tmp_path: Path) -> None:
    """`loadtests.run --access-log` serves both apps as `registry serve` does by default."""
    log = tmp_path / "server.log"
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    app = "loadtests.bare:app"
    with Server(database_url=url, app=app, log=log, access_log=access_log) as server:
        assert httpx2.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert ('"GET /healthz HTTP/1.1" 200' in log.read_text()) is access_log
