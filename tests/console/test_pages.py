"""The console's pages without a browser: each one renders in zh and en, stays under
100 KB with its script, and names no other site."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from registry.console.models import MemberRole
from tests.console.helpers import make_member, sign_in, signed_in_client
from tests.factories import World, harvested

MAX_PAGE_BYTES = 100 * 1024
_EXTERNAL = re.compile(r"""(?:src|href|action)=["']?(?:https?:)?//""", re.IGNORECASE)


def test_every_page_is_small_local_and_translated(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client, _ = signed_in_client(world.client, "zhang")
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    script = client.get("/console/static/console.js")
    worker = client.get("/console/sw.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert worker.headers["content-type"].startswith("text/javascript")
    pages = [
        "/console/batches",
        "/console/batches/new",
        f"/console/batches/{batch}",
        f"/console/batches/{batch}/labels",
        "/console/outbox",
        "/console/offline",
        *(f"/console/batches/{batch}/record/{t}" for t in ("harvested", "inspected", "shipped")),
    ]
    for lang, marker in (("zh", 'lang="zh-CN"'), ("en", 'lang="en"')):
        for path in pages:
            r = client.get(f"{path}?lang={lang}")
            assert r.status_code == 200, (path, r.text[:200])
            assert marker in r.text
            assert len(r.content) + len(script.content) < MAX_PAGE_BYTES, path
            assert not _EXTERNAL.search(r.text), path
            policy = dict(
                part.strip().split(" ", 1)
                for part in r.headers["content-security-policy"].split(";")
            )
            assert policy["script-src"] == "'self'"  # no inline script, no eval


def test_a_page_without_a_session_leads_to_sign_in(world: World) -> None:
    r = world.client.get("/console/batches/new", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/signin?next=%2Fconsole%2Fbatches%2Fnew"
    home = world.client.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/signin"


def test_a_form_refusal_comes_back_on_the_form_in_chinese(world: World) -> None:
    make_member(world.engine, world.coop.id, "zhang")
    client, csrf = signed_in_client(world.client, "zhang")
    batch = world.new_batch()["id"]
    form = {
        "csrf_token": csrf,
        "idempotency_key": "form-1",
        "data.quantity": "250000",
        "data.unit": "kg",
        "data.harvest_date": "2026-11-20",
        "location.county_code": "522632",
        "event_date": "2026-11-20",
        "event_clock": "08:30",
        "tz": "+08:00",
    }
    r = client.post(f"/console/batches/{batch}/record/harvested", data=form)
    assert r.status_code == 409
    assert "超过配额 200000 公斤" in r.text
    assert 'value="250000"' in r.text  # what the member typed is kept for the fix
    form["data.quantity"] = "5000"
    form["idempotency_key"] = "form-2"
    for _ in range(2):  # a double tap lands once
        r = client.post(
            f"/console/batches/{batch}/record/harvested", data=form, follow_redirects=False
        )
        assert r.status_code == 303
    events = world.events(batch, world.coop)
    assert [e["type"] for e in events] == ["created", "harvested"]
    wrong = client.post(
        f"/console/batches/{batch}/record/harvested",
        content=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert wrong.status_code == 415


def test_an_admin_member_manages_members_from_the_console(world: World) -> None:
    make_member(world.engine, world.coop.id, "boss", MemberRole.admin)
    make_member(world.engine, world.coop.id, "picker")
    admin, csrf = signed_in_client(world.client, "boss")
    r = admin.post(
        "/console/members",
        data={"csrf_token": csrf, "username": "13900001111", "display_name": "王五"},
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', r.text)
    assert password, r.text[:500]
    newcomer = TestClient(world.client.app)
    assert sign_in(newcomer, "13900001111", password.group(1)).status_code == 303
    taken = admin.post("/console/members", data={"csrf_token": csrf, "username": "picker"})
    assert taken.status_code == 409
    assert "这个用户名已被使用" in taken.text

    picker, _ = signed_in_client(world.client, "picker")
    refused = picker.get("/console/members")
    assert refused.status_code == 403
    assert "没有权限" in refused.text
    assert "/console/members" not in picker.get("/console/batches").text  # no tab for them

    listed = world.call("GET", f"/v1/orgs/{world.coop.id}/members", world.coop).json()
    target = next(m["id"] for m in listed if m["username"] == "13900001111")
    r = admin.post(
        f"/console/members/{target}/disable", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert newcomer.get("/v1/orgs/me").status_code == 401
