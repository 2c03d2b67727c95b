"""`registry keys …` and `registry verify-code …` against a test database (both backends)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine
from typer.testing import CliRunner

from registry.cli import app as cli_app
from registry.core.config import get_settings
from registry.core.db import get_engine
from registry.main import create_app
from tests.dbtools import database_url, run_cli
from tests.factories import World, label_codes, labeled_batch, recalled
from tests.verify.helpers import flip_signature_bit, with_key_id


def keys_json(url: str, *args: str) -> list[dict[str, str]]:
    result = run_cli(url, "keys", *args, "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_keys_create_rotate_revoke_list(engine: Engine) -> None:
    url = database_url(engine)
    (first,) = keys_json(url, "create")
    assert first["status"] == "active"
    again = run_cli(url, "keys", "create")
    assert again.exit_code == 1
    assert f"key {first['key_id']} is already active" in again.stderr
    assert "Traceback" not in again.output
    (second,) = keys_json(url, "rotate")
    (revoked,) = keys_json(url, "revoke", first["key_id"])
    assert revoked["status"] == "revoked"
    listed = {k["key_id"]: k["status"] for k in keys_json(url, "list")}
    assert listed == {first["key_id"]: "revoked", second["key_id"]: "active"}
    plain = run_cli(url, "keys", "list")
    assert plain.exit_code == 0
    assert f"{second['key_id']}  active" in plain.stdout
    missing = run_cli(url, "keys", "revoke", "zzzz")
    assert missing.exit_code == 1
    assert "no label signing key has id 'zzzz'" in missing.stderr


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRY_ENVIRONMENT", "production")
    monkeypatch.delenv("REGISTRY_KEY_PASSPHRASE", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.mark.usefixtures("production_env")
@pytest.mark.parametrize("command", [["keys", "create"], ["keys", "rotate"], ["keys", "list"]])
def test_production_refuses_the_development_passphrase(tmp_path: Path, command: list[str]) -> None:
    env = {"REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.db'}"}
    result = CliRunner().invoke(cli_app, command, env=env)
    assert result.exit_code == 2
    assert "REGISTRY_KEY_PASSPHRASE must be set in production" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "never-created.db").exists()


def write_jwks(world: World, path: Path) -> Path:
    path.write_text(world.client.get("/.well-known/registry-keys.json").text)
    return path


def test_verify_code_offline_checks_signature_and_key_status_only(
    world: World, tmp_path: Path
) -> None:
    batch, run = labeled_batch(world, units=10, count=2)
    good, _ = label_codes(world, run["run_id"])
    world.ok(batch["id"], world.owner, recalled())  # offline cannot know about the recall
    jwks = write_jwks(world, tmp_path / "keys.json")
    url = database_url(world.engine)

    result = run_cli(url, "verify-code", good, "--offline", "--keys", str(jwks))
    assert result.exit_code == 0, result.output
    assert f"signature: valid (key {run['key_id']}, active)" in result.stdout
    assert "offline check: signature and key status only" in result.stdout

    tampered = run_cli(
        url, "verify-code", flip_signature_bit(good), "--offline", "--keys", str(jwks)
    )
    assert tampered.exit_code == 1
    assert "signature: invalid (bad_signature)" in tampered.stdout

    unknown = run_cli(
        url, "verify-code", with_key_id(good, b"\x00\x00"), "--offline", "--keys", str(jwks)
    )
    assert unknown.exit_code == 1
    assert "unknown_key" in unknown.stdout

    assert run_cli(url, "keys", "revoke", run["key_id"]).exit_code == 0
    revoked_jwks = write_jwks(world, tmp_path / "keys-now.json")
    revoked = run_cli(url, "verify-code", good, "--offline", "--keys", str(revoked_jwks))
    assert revoked.exit_code == 1
    assert "revoked_key" in revoked.stdout

    as_json = run_cli(url, "verify-code", good, "--offline", "--keys", str(jwks), "--json")
    assert json.loads(as_json.stdout) == {
        "signature": "valid",
        "key_id": run["key_id"],
        "key_status": "active",
    }
    (tmp_path / "broken.json").write_text('{"keys": [{"kty": "RSA"}]}')
    broken = run_cli(url, "verify-code", good, "--offline", "--keys", str(tmp_path / "broken.json"))
    assert broken.exit_code == 1
    assert "cannot use" in broken.stdout
    assert run_cli(url, "verify-code", good, "--offline").exit_code == 2


def test_verify_code_online_gives_the_full_verdict(world: World) -> None:
    batch, run = labeled_batch(world, units=10, count=2)
    good, other = label_codes(world, run["run_id"])
    url = database_url(world.engine)
    result = run_cli(url, "verify-code", good)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("verdict: genuine")
    assert "producer: coop org" in result.stdout

    bad = run_cli(url, "verify-code", flip_signature_bit(other))
    assert bad.exit_code == 1
    assert "verdict: invalid" in bad.stdout
    assert "bad_signature" in bad.stdout

    world.ok(batch["id"], world.owner, recalled())
    gone = run_cli(url, "verify-code", good, "--json")
    assert gone.exit_code == 1
    assert json.loads(gone.stdout)["verdict"] == "recalled"
    garbage = run_cli(url, "verify-code", "not a label")
    assert garbage.exit_code == 1
    assert "malformed_code" in garbage.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_verify_code_remote_asks_a_running_registry(world: World) -> None:
    _, run = labeled_batch(world, units=10, count=1)
    (good,) = label_codes(world, run["run_id"])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(world.engine), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        base = f"http://127.0.0.1:{port}"
        result = run_cli("sqlite:///unused.db", "verify-code", good, "--remote", base)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("verdict: genuine")
        bad = run_cli(
            "sqlite:///unused.db", "verify-code", flip_signature_bit(good), "--remote", base
        )
        assert bad.exit_code == 1
        assert "bad_signature" in bad.stdout
    finally:
        server.should_exit = True
        thread.join(20)
    down = run_cli("sqlite:///unused.db", "verify-code", good, "--remote", base)
    assert down.exit_code == 1
    assert "could not ask" in down.stdout
