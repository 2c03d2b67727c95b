"""Member sessions: the cookie's flags, CSRF on cookie-authenticated writes and on the
sign-in form, sign-out, the failed sign-in limit, and the create-user CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from registry.cli import app as cli_app
from registry.core.config import get_settings
from registry.core.db import get_engine, make_engine
from tests.console.helpers import PASSWORD, make_member, sign_in, signed_in_client, signin_token
from tests.dbtools import run_cli, unchanged
from tests.factories import World, stored


def test_session_cookie_is_httponly_and_samesite(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    r = sign_in(TestClient(world.client.app), "zhang")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/batches"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("registry_console="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= flags
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in flags


def test_session_cookie_is_secure_in_production(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    monkeypatch.setenv("REGISTRY_ENVIRONMENT", "production")
    monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", "a-production-passphrase-long-enough")
    monkeypatch.setenv("REGISTRY_PUBLIC_URL", "https://registry.example.cn")
    get_settings.cache_clear()
    try:
        # Secure cookies come back only over https.
        r = sign_in(TestClient(world.client.app, base_url="https://testserver"), "zhang")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("registry_console="))
    assert "secure" in cookie.lower()


def test_cookie_writes_need_the_csrf_header(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client, csrf = signed_in_client(world.client, "zhang")
    batch = world.new_batch()
    path = f"/v1/batches/{batch['id']}/events"
    assert client.get(path).status_code == 200  # reads need no token
    with unchanged(world.engine):
        for headers in ({}, {"X-CSRF-Token": "guessed"}, {"X-CSRF-Token": "é".encode()}):
            r = client.post(path, json=stored(), headers=headers)
            assert (r.status_code, r.json()["error"]) == (403, "CsrfRejected")
    r = client.post(path, json=stored(), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert r.json()["actor_org_id"] == world.coop.id
    # A bearer key still wins over the cookie, and needs no CSRF token.
    r = client.post(path, json=stored("shed 2"), headers=world.coop2.auth)
    assert (r.status_code, r.json()["error"]) == (403, "NotCustodian")


def test_console_forms_need_the_session_token(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client, csrf = signed_in_client(world.client, "zhang")
    batch = world.new_batch()
    form = {"data.place": "shed 1", "event_date": "2026-11-20", "event_clock": "08:00"}
    form["tz"] = "+08:00"
    path = f"/console/batches/{batch['id']}/record/stored"
    with unchanged(world.engine):
        r = client.post(path, data={**form, "csrf_token": "forged"})
        assert r.status_code == 403
        assert "页面已过期" in r.text  # a console page answers with a page
    r = client.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303


def test_sign_in_form_refuses_a_forged_post(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client = TestClient(world.client.app)
    r = client.post(
        "/console/signin",
        data={"csrf_token": "from-another-site", "username": "zhang", "password": PASSWORD},
    )
    assert r.status_code == 403
    assert "registry_console=" not in r.headers.get("set-cookie", "")


def test_sign_out_ends_the_session_on_the_server(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client, csrf = signed_in_client(world.client, "zhang")
    stolen = client.cookies.get("registry_console")
    r = client.post("/console/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    thief = TestClient(world.client.app)
    thief.cookies.set("registry_console", stolen or "")
    r = thief.get("/v1/orgs/me")
    assert (r.status_code, r.json()["error"]) == (401, "SessionExpired")
    assert (
        thief.get("/console/batches", follow_redirects=False)
        .headers["location"]
        .startswith("/console/signin?next=")
    )


def test_failed_sign_ins_are_limited(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client = TestClient(world.client.app)
    for _ in range(5):
        assert sign_in(client, "zhang", "wrong-password-1").status_code == 401
    blocked = sign_in(client, "ZHANG", PASSWORD)  # even the right password, for a while
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "分钟后再试" in blocked.text
    # Another username from the same address is still let through (per-address limit: 30).
    make_member(world.engine, world.coop.id, "li")
    assert sign_in(client, "li").status_code == 303


def test_unknown_and_wrong_answer_alike(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client = TestClient(world.client.app)
    unknown = sign_in(client, "nobody-here")
    wrong = sign_in(client, "zhang", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert signin_token(client)  # the form is shown again


def test_session_sees_exactly_what_the_key_sees(world: World) -> None:
    make_member(world.engine, world.coop2.id, "coop2-staff")
    client, _ = signed_in_client(world.client, "coop2-staff")
    batch = world.new_batch()
    for path in ("/v1/batches", f"/v1/batches/{batch['id']}", f"/v1/batches/{batch['id']}/events"):
        by_key = world.call("GET", path, world.coop2)
        by_cookie = client.get(path)
        assert (by_cookie.status_code, by_cookie.json()) == (by_key.status_code, by_key.json())


def test_create_user_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run_cli(url, "db", "upgrade").exit_code == 0
    org = json.loads(
        run_cli(
            url, "admin", "create-org", "--name", "Zhaibian", "--kind", "cooperative", "--json"
        ).output
    )
    made = run_cli(url, "admin", "create-user", "--org", org["id"], "--username", "Zhang", "--json")
    assert made.exit_code == 0, made.output
    user = json.loads(made.output)
    assert (user["username"], user["role"], user["org_id"]) == ("zhang", "member", org["id"])
    assert len(user["password"]) >= 16

    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        piped = CliRunner().invoke(
            cli_app,
            [
                "admin",
                "create-user",
                "--org",
                org["id"],
                "--username",
                "li",
                "--role",
                "admin",
                "--password-stdin",
                "--json",
            ],
            input=PASSWORD + "\n",
            env={"REGISTRY_DATABASE_URL": url},
        )
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.output)["password"] is None  # the given one is never printed
    assert PASSWORD not in piped.output

    for args, message in (
        (["--username", "zhang"], "taken"),
        (["--username", "x y"], "username"),
        (["--username", "wang", "--role", "boss"], "--role"),
    ):
        refused = run_cli(url, "admin", "create-user", "--org", org["id"], *args)
        assert refused.exit_code != 0, refused.output
        assert message in refused.output, refused.output
        assert "Traceback" not in refused.output

    engine = make_engine(url)
    try:
        from registry.main import create_app

        with TestClient(create_app(engine)) as client:
            assert sign_in(client, "zhang", user["password"]).status_code == 303
            assert sign_in(TestClient(client.app), "li").status_code == 303
    finally:
        engine.dispose()
