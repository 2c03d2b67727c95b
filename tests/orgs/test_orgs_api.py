"""Organizations and API keys over HTTP: keys shown once, stored only as hashes."""

from __future__ import annotations

import hashlib

from tests.dbtools import assert_error, snapshot, unchanged
from tests.factories import World


def test_created_org_gets_a_working_key_shown_once(world: World) -> None:
    body = {"name": "  Guiyang Cold Chain Co.  ", "kind": "handler", "county_code": "520102"}
    r = world.call("POST", "/v1/orgs", world.admin, json=body)
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["name"] == "Guiyang Cold Chain Co."
    assert (org["kind"], org["county_code"], org["credit_code"]) == ("handler", "520102", None)
    key = org.pop("api_key")
    assert key.startswith("ork_")
    me = world.client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.json() == org  # the same org, and the key is not shown again
    # Only a SHA-256 of the key is stored.
    dump = repr(snapshot(world.engine))
    assert key not in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump


def test_admin_issues_more_keys_and_old_ones_keep_working(world: World) -> None:
    r = world.call("POST", f"/v1/orgs/{world.coop.id}/keys", world.admin)
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["org_id"] == world.coop.id
    assert issued["api_key"] != world.coop.key
    for key in (world.coop.key, issued["api_key"]):
        me = world.client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {key}"})
        assert me.json()["id"] == world.coop.id
    with unchanged(world.engine):
        r = world.call("POST", "/v1/orgs/no-such-org/keys", world.admin)
    assert_error(r, 404, "OrgNotFound", "no-such-org")


def test_authorization_header_forms(world: World) -> None:
    def me(header: str) -> int:
        return world.client.get("/v1/orgs/me", headers={"Authorization": header}).status_code

    assert me(f"Bearer {world.coop.key}") == 200
    assert me(f"bearer {world.coop.key}") == 200
    assert me(f"Bearer   {world.coop.key}  ") == 200
    r = world.client.get("/v1/orgs/me", headers={"Authorization": f"Basic {world.coop.key}"})
    assert_error(r, 401, "Unauthorized", "Bearer")
    r = world.client.get("/v1/orgs/me", headers={"Authorization": "Bearer "})
    assert_error(r, 401, "Unauthorized")
    r = world.client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {world.coop.key}x"})
    assert_error(r, 401, "InvalidApiKey")
    assert r.headers["www-authenticate"] == "Bearer"
