"""compose.yaml (untested with a container engine here) parses, starts every part the
operations guide names, and sets only settings the registry has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from registry.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_starts_postgres_redis_api_workers_and_one_beat() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "beat"} <= set(services)
    commands = {name: services[name]["command"] for name in ("migrate", "api", "worker", "beat")}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["api"][0] == "serve"
    assert "--workers" in commands["api"]
    assert commands["worker"][0] == "worker"
    assert commands["beat"][0] == "beat"
    assert "deploy" not in services["beat"], "exactly one beat"
    for name in ("api", "worker", "beat"):
        needs = services[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}
        assert "jobs:/var/lib/registry-jobs" in services[name]["volumes"]  # shared job files
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_compose_sets_only_real_settings() -> None:
    services = _compose()["services"]
    env = services["api"]["environment"]
    assert env["REGISTRY_ENVIRONMENT"] == "production"
    for name in env:
        assert name.startswith("REGISTRY_")
        assert name.removeprefix("REGISTRY_").lower() in Settings.model_fields, name
    # The secrets come from the operator, never a default in the file.
    assert re.fullmatch(r"\$\{REGISTRY_KEY_PASSPHRASE:\?.+\}", env["REGISTRY_KEY_PASSPHRASE"])
    assert env["REGISTRY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["REGISTRY_REDIS_URL"].startswith("redis://redis:")


def test_the_operations_guide_covers_its_topics() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    for topic in (
        "## Backups and restore",
        "### What a restore does to the transparency log",
        "## Label key rotation and revocation drills",
        "## Upgrades with migrations",
        "untested here",
    ):
        assert topic in guide, topic
