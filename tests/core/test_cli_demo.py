"""The `registry` command on a fresh SQLite file: demo (twice), db upgrade, admin, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry.core.db import make_engine
from registry.main import create_app
from tests.dbtools import run_cli

DEMO_ORGS = {"admin", "owner", "coop", "coop2", "handler", "regulator", "platform"}


def test_demo_seeds_once_then_reissues_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out = tmp_path / "demo-output"

    first = run_cli(url, "demo", "--no-serve", "--out", str(out))
    assert first.exit_code == 0, first.output
    assert "already seeded" not in first.output
    keys = json.loads((out / "api-keys.json").read_text())
    assert set(keys) >= DEMO_ORGS
    for entry in keys.values():
        assert entry["api_key"] in first.output  # the keys are printed, once

    second = run_cli(url, "demo", "--no-serve", "--out", str(out))
    assert second.exit_code == 0, second.output
    assert "already seeded: new keys issued" in second.output
    new_keys = json.loads((out / "api-keys.json").read_text())
    assert {k: v["org_id"] for k, v in new_keys.items()} == {
        k: v["org_id"] for k, v in keys.items()
    }
    assert not {v["api_key"] for v in new_keys.values()} & {v["api_key"] for v in keys.values()}

    audit = run_cli(url, "audit", "--all")
    assert audit.exit_code == 0, audit.output
    assert "0 broken chain(s)" in audit.output

    engine = make_engine(url)
    try:
        with TestClient(create_app(engine)) as client:
            for entry in (keys["coop"], new_keys["coop"]):  # old and new keys both work
                auth = {"Authorization": f"Bearer {entry['api_key']}"}
                me = client.get("/v1/orgs/me", headers=auth)
                assert me.status_code == 200
                assert me.json()["id"] == entry["org_id"]
            regulator = {"Authorization": f"Bearer {new_keys['regulator']['api_key']}"}
            batches = client.get("/v1/batches", headers=regulator).json()["items"]
            assert len(batches) == 3  # the second run seeded nothing new
            assert [b["slug"] for b in client.get("/v1/brands").json()] == [
                "rongjiang-navel-orange"
            ]
            for batch in batches:
                report = client.get(f"/v1/batches/{batch['id']}/audit", headers=regulator)
                assert report.json()["intact"] is True
                events = client.get(f"/v1/batches/{batch['id']}/events", headers=regulator)
                types = [e["type"] for e in events.json()["items"]]
                assert types[0] == "created"
                assert {"harvested", "packed", "shipped", "received"} <= set(types)
    finally:
        engine.dispose()


@pytest.fixture
def migrated(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = run_cli(url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return url


def test_admin_creates_orgs_and_keys(migrated: str) -> None:
    result = run_cli(
        migrated, "admin", "create-org", "--name", "Registry admin", "--kind", "admin", "--json"
    )
    assert result.exit_code == 0, result.output
    admin = json.loads(result.output)
    assert admin["kind"] == "admin"
    assert admin["api_key"].startswith("ork_")

    result = run_cli(migrated, "admin", "create-key", "--org", admin["id"], "--json")
    assert result.exit_code == 0, result.output
    second = json.loads(result.output)
    assert second["org_id"] == admin["id"]
    assert second["api_key"] != admin["api_key"]

    engine = make_engine(migrated)
    try:
        with TestClient(create_app(engine)) as client:
            for key in (admin["api_key"], second["api_key"]):
                r = client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {key}"})
                assert r.json()["id"] == admin["id"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "create-org", "--name", "X", "--kind", "cooperative", "--county-code", "522600"],
        ["admin", "create-org", "--name", "X", "--kind", "farmer"],
        ["admin", "create-org", "--name", "X", "--kind", "handler", "--credit-code", "123"],
        ["audit"],
        ["audit", "--all", "--batch", "some-id"],
    ],
    ids=["county-code", "kind", "credit-code", "audit-nothing", "audit-both"],
)
def test_cli_refuses_bad_arguments(migrated: str, args: list[str]) -> None:
    result = run_cli(migrated, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_audit_of_an_empty_registry_passes(migrated: str) -> None:
    result = run_cli(migrated, "audit", "--all")
    assert result.exit_code == 0, result.output
    assert "audited 0 events: 0 broken chain(s)" in result.output


def test_audit_of_an_unknown_batch_is_a_clear_error(migrated: str) -> None:
    result = run_cli(migrated, "audit", "--batch", "no-such-batch")
    assert result.exit_code == 2
    assert "no-such-batch" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
