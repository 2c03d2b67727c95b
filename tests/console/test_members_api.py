"""Who may create, list and disable an organization's member logins, and end their
sessions: every kind of organization's key, the org's admin and plain members signed in
by cookie, another org's admin member, a dead cookie, no key and a bad key."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from registry.console.models import MemberRole
from tests.console.helpers import PASSWORD, make_member, sign_in, signed_in_client
from tests.dbtools import snapshot
from tests.factories import World

_names = itertools.count(1)


@dataclass(frozen=True)
class Caller:
    client: TestClient
    headers: dict[str, str]


def _callers(world: World) -> dict[str, Caller]:
    callers = {
        kind: Caller(world.client, world.orgs[kind].auth)
        for kind in ("admin", "owner", "coop", "coop2", "handler", "platform", "regulator")
    }
    callers["no_key"] = Caller(world.client, {})
    callers["bad_key"] = Caller(world.client, {"Authorization": "Bearer ork_not-issued"})
    for name, org, role in (
        ("coop_admin", world.coop.id, MemberRole.admin),
        ("coop_member", world.coop.id, MemberRole.member),
        ("coop2_admin", world.coop2.id, MemberRole.admin),
    ):
        make_member(world.engine, org, name.replace("_", "-"), role)
        client, csrf = signed_in_client(world.client, name.replace("_", "-"))
        callers[name] = Caller(client, {"X-CSRF-Token": csrf})
    # A session that was signed out: its cookie names nothing any more.
    make_member(world.engine, world.coop.id, "signed-out", MemberRole.admin)
    client, csrf = signed_in_client(world.client, "signed-out")
    client.post("/console/signout", data={"csrf_token": csrf}, follow_redirects=False)
    client.cookies.set("registry_console", "a-token-that-was-revoked")
    callers["dead_cookie"] = Caller(client, {"X-CSRF-Token": csrf})
    return callers


MANAGERS = ("admin", "coop", "coop_admin")
REFUSED = dict.fromkeys(
    ("owner", "coop2", "handler", "platform", "regulator", "coop_member", "coop2_admin"),
    (403, "NotMemberAdmin"),
)
UNAUTHENTICATED = {
    "no_key": (401, "Unauthorized"),
    "bad_key": (401, "InvalidApiKey"),
    "dead_cookie": (401, "SessionExpired"),
}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: Callable[[World, str], str]
    ok: int
    writes: bool
    body: Callable[[], dict[str, Any]] | None = None


def _target(world: World) -> str:
    return make_member(world.engine, world.coop.id, f"target-{next(_names)}").id


ROUTES = [
    Route(
        "create",
        "POST",
        lambda w, m: f"/v1/orgs/{w.coop.id}/members",
        201,
        True,
        lambda: {"username": f"new-{next(_names)}", "display_name": "张三"},
    ),
    Route("list", "GET", lambda w, m: f"/v1/orgs/{w.coop.id}/members", 200, False),
    Route("disable", "POST", lambda w, m: f"/v1/orgs/{w.coop.id}/members/{m}/disable", 200, True),
    Route(
        "revoke",
        "POST",
        lambda w, m: f"/v1/orgs/{w.coop.id}/members/{m}/sessions/revoke",
        200,
        False,  # the target has no session to end
    ),
]


def test_member_routes_authorization(world: World) -> None:
    """One world for the four routes: the callers' sessions are the slow part to build."""
    callers = _callers(world)
    mismatches = []
    for route, (name, caller) in itertools.product(ROUTES, callers.items()):
        target = _target(world)
        expected: tuple[int, str | None] = (
            (route.ok, None) if name in MANAGERS else {**REFUSED, **UNAUTHENTICATED}[name]
        )
        before = snapshot(world.engine)
        kwargs: dict[str, Any] = {"headers": caller.headers}
        if route.body is not None:
            kwargs["json"] = route.body()
        r = caller.client.request(route.method, route.path(world, target), **kwargs)
        changed = snapshot(world.engine) != before
        error = r.json().get("error") if r.status_code >= 400 else None
        writes = route.writes and name in MANAGERS
        if (r.status_code, error, changed) != (*expected, writes):
            mismatches.append(
                f"{route.name} {name}: expected {expected} writes={writes}, got {r.text[:200]}"
            )
    assert not mismatches, "\n".join(mismatches)


def test_created_member_signs_in_with_the_password_shown_once(world: World) -> None:
    r = world.call(
        "POST", f"/v1/orgs/{world.coop.id}/members", world.coop, json={"username": "Li-Si"}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["username"] == "li-si"
    assert created["role"] == "member"
    assert len(created["password"]) >= 16
    listed = world.call("GET", f"/v1/orgs/{world.coop.id}/members", world.coop).json()
    assert all("password" not in m and "password_hash" not in m for m in listed)
    client = TestClient(world.client.app)
    assert sign_in(client, "li-si", created["password"]).status_code == 303
    assert client.get("/v1/orgs/me").json()["id"] == world.coop.id


def test_a_chosen_password_is_not_echoed_and_must_be_long_enough(world: World) -> None:
    path = f"/v1/orgs/{world.coop.id}/members"
    r = world.call("POST", path, world.coop, json={"username": "wang", "password": PASSWORD})
    assert r.status_code == 201
    assert r.json()["password"] is None
    short = world.call("POST", path, world.coop, json={"username": "zhao", "password": "short"})
    assert short.status_code == 422
    taken = world.call("POST", path, world.coop2.auth and world.admin, json={"username": "WANG"})
    assert (taken.status_code, taken.json()["error"]) == (409, "UsernameTaken")
    bad = world.call("POST", path, world.coop, json={"username": "a b"})
    assert bad.status_code == 422
    assert set(bad.json()) == {"error", "detail"}


def test_disabling_a_member_ends_their_sessions_at_once(world: World) -> None:
    member = make_member(world.engine, world.coop.id, "13800138000")
    client, _ = signed_in_client(world.client, "13800138000")
    assert client.get("/v1/batches").status_code == 200
    r = world.call("POST", f"/v1/orgs/{world.coop.id}/members/{member.id}/disable", world.coop)
    assert r.status_code == 200
    assert r.json()["disabled_at"]
    gone = client.get("/v1/batches")
    assert (gone.status_code, gone.json()["error"]) == (401, "SessionExpired")
    assert sign_in(TestClient(world.client.app), "13800138000").status_code == 401


def test_revoking_sessions_signs_a_member_out_everywhere(world: World) -> None:
    member = make_member(world.engine, world.coop.id, "lost-phone")
    phone, _ = signed_in_client(world.client, "lost-phone")
    laptop, _ = signed_in_client(world.client, "lost-phone")
    path = f"/v1/orgs/{world.coop.id}/members/{member.id}/sessions/revoke"
    assert world.call("POST", path, world.coop).json()["revoked"] == 2
    assert phone.get("/v1/orgs/me").status_code == 401
    assert laptop.get("/console/batches", follow_redirects=False).status_code == 303
    again, _ = signed_in_client(world.client, "lost-phone")
    assert again.get("/v1/orgs/me").status_code == 200
