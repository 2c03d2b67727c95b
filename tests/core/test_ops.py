"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.core.config import get_settings
from registry.main import create_app


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes seen by get_settings(), undone after the test."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_healthz_and_readyz_answer_when_the_database_does(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok"}


def test_readyz_checks_redis_when_configured(
    engine: Engine, redis_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("REGISTRY_RECORD_SCANS", "false")
    settings_env.setenv("REGISTRY_REDIS_URL", redis_url)
    get_settings.cache_clear()
    app = create_app(engine)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["redis"] == "ok"
    settings_env.setenv("REGISTRY_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens
    get_settings.cache_clear()
    with TestClient(app) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"] == "ServiceUnavailable"
        assert "redis unreachable" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200
