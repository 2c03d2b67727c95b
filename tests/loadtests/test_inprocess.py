"""`loadtests.inprocess`, the in-process cost of a scan and of the bare app: it measures
only genuine answers, and says so when a workdir's codes answer anything else. Its
figures are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from loadtests.seed import seed
from loadtests.server import fresh_database
from registry.core.db import make_engine
from registry.migrate import upgrade
from tests.conftest import unavailable
from tests.loadtests.test_smoke import SMOKE_PG_URL

REPO = Path(__file__).resolve().parents[2]


def _seeded(workdir: Path) -> Path:
    engine = make_engine(fresh_database("sqlite", workdir))
    upgrade(engine)
    data = seed(engine, codes=200, brands=1, cooperatives=1, batches_per_cooperative=2)
    engine.dispose()
    data.write(workdir / "data.json")
    return workdir / "data.json"


def _run(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtests.inprocess", "--workdir", str(workdir),
         "--requests", "50"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_it_measures_genuine_scans_and_the_bare_app(tmp_path: Path) -> None:
    _seeded(tmp_path)
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["bare", "scan (first)", "scan (reload)"]
    for line in lines:
        assert re.fullmatch(
            r"[\w ()]+: [0-9.]+ us of main-thread CPU per request, "
            r"[0-9.]+ us of the process's \(50\)",
            line,
        )


@pytest.mark.postgres
@pytest.mark.redis
def test_it_measures_scans_with_postgresql_and_redis(tmp_path: Path, redis_url: str) -> None:
    try:
        fresh_database("postgres", tmp_path, pg_url=SMOKE_PG_URL)  # reachable?
    except Exception as exc:  # any connection failure: skip or fail as configured
        unavailable("PostgreSQL", exc)
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.inprocess", "--workdir", str(tmp_path),
         "--requests", "150", "--app", "scan", "--backend", "postgres",
         "--pg-url", SMOKE_PG_URL, "--redis-url", redis_url],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^scan \(reload\): [0-9.]+ us of main-thread CPU per request, .* \(150\)$",
                     done.stdout, re.M), done.stdout  # fmt: skip
    assert (tmp_path / "data-postgres.json").exists()
    assert not (tmp_path / "data.json").exists()  # the SQLite workdir's file is left alone


def test_codes_that_are_not_genuine_fail_the_run(tmp_path: Path) -> None:
    data_path = _seeded(tmp_path)
    data = orjson.loads(data_path.read_bytes())
    data["genuine"] = data["forged"]
    data_path.write_bytes(orjson.dumps(data))
    done = _run(tmp_path)
    assert done.returncode != 0
    assert "unexpected answers" in done.stderr
    assert '"verdict":"invalid"' in done.stderr
