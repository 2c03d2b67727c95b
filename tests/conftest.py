"""Test fixtures: every database test runs on SQLite and, when reachable, PostgreSQL.

`REGISTRY_TEST_REQUIRE_SERVICES=1` (set by CI) turns an unreachable PostgreSQL or Redis
into a failure instead of a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests publish log checkpoints explicitly, never on a background thread.
os.environ.setdefault("REGISTRY_PUBLISH_CHECKPOINTS", "false")

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from registry.core.db import make_engine
from registry.main import create_app
from registry.migrate import upgrade
from registry.models import metadata
from tests.factories import World, build_world

POSTGRES_URL = os.environ.get(
    "REGISTRY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("REGISTRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("REGISTRY_TEST_REQUIRE_SERVICES") == "1"
ASSETS = Path(__file__).parent / "assets"

# scripts/mutation sets this so each property test draws the same examples in every run: a
# mutant's verdict then depends on the mutant, not on the draw.
if os.environ.get("REGISTRY_HYPOTHESIS_DERANDOMIZE") == "1":
    from hypothesis import settings

    settings.register_profile("mutation", derandomize=True, database=None)
    settings.load_profile("mutation")


def asset(name: str) -> Path:
    """A checked-in known-good file under tests/assets/."""
    return ASSETS / name


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} unreachable: {exc}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (REGISTRY_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (db 15): skipped when unreachable, or failed as configured."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # any connection failure: skip or fail as configured
        unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # any connection failure: skip or fail as configured
        engine.dispose()
        unavailable("PostgreSQL", exc)
    upgrade(engine)
    yield engine
    engine.dispose()


def reset_postgres(engine: Engine) -> None:
    """Empty every table; replica mode silences the append-only triggers for test cleanup."""
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        db = tmp_path / "registry.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        sqlite = make_engine(f"sqlite:///{db}")
        yield sqlite
        sqlite.dispose()
    else:
        pg: Engine = request.getfixturevalue("postgres_engine")
        reset_postgres(pg)
        yield pg


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, engine: Engine) -> World:
    """A brand owner, its brand, two licensed cooperatives, a handler, a regulator,
    a platform and an admin, each with an API key."""
    return build_world(client, engine)
