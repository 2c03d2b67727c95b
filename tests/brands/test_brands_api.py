"""Brands and licenses over HTTP: public reads, owner-only changes, license lifecycle."""

from __future__ import annotations

from typing import Any

from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND, World


def _license_body(org_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "org_id": org_id,
        # after the factory's licenses, which cover last year to next year
        "valid_from": "2040-01-01",
        "valid_to": "2040-12-31",
        "annual_quota_kg": 5000,
        **overrides,
    }


def test_brands_are_public(world: World) -> None:
    listed = world.client.get("/v1/brands")
    assert listed.status_code == 200
    (brand,) = listed.json()
    assert brand["slug"] == BRAND
    assert brand["name_local"] == "榕江脐橙"
    assert brand["status"] == "active"
    assert brand["owner_org_id"] == world.owner.id
    one = world.client.get(f"/v1/brands/{BRAND}")
    assert one.json() == brand
    assert_error(world.client.get("/v1/brands/no-such-brand"), 404, "BrandNotFound")


def test_slug_is_unique(world: World) -> None:
    body = {"slug": BRAND, "name": "Copy", "category": "orange", "county_codes": ["522632"]}
    with unchanged(world.engine):
        r = world.call("POST", "/v1/brands", world.owner2, json=body)
    assert_error(r, 409, "BrandExists", BRAND)


def test_owner_updates_only_what_it_sends(world: World) -> None:
    r = world.call(
        "PATCH",
        f"/v1/brands/{BRAND}",
        world.owner,
        json={"standard": "DB52/T 1590", "scan_alert_threshold": 20},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["standard"], r.json()["scan_alert_threshold"]) == ("DB52/T 1590", 20)
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"description": "Thin skin."})
    brand = r.json()
    assert (brand["description"], brand["standard"], brand["status"]) == (
        "Thin skin.",
        "DB52/T 1590",
        "active",
    )
    with unchanged(world.engine):
        r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": None})
    assert_error(r, 422, "InvalidInput", "status")
    with unchanged(world.engine):
        r = world.call("PATCH", "/v1/brands/no-such-brand", world.owner, json={})
    assert_error(r, 404, "BrandNotFound")


def test_licenses_are_for_known_cooperatives(world: World) -> None:
    path = f"/v1/brands/{BRAND}/licenses"
    with unchanged(world.engine):
        r = world.call("POST", path, world.owner, json=_license_body(world.handler.id))
    assert_error(r, 422, "InvalidInput", "cooperatives", "handler")
    with unchanged(world.engine):
        r = world.call("POST", path, world.owner, json=_license_body("no-such-org"))
    assert_error(r, 404, "OrgNotFound")
    with unchanged(world.engine):
        r = world.call(
            "POST", "/v1/brands/no-such-brand/licenses", world.owner, json=_license_body("x")
        )
    assert_error(r, 404, "BrandNotFound")
    r = world.call("POST", path, world.owner, json=_license_body(world.coop2.id))
    assert r.status_code == 201, r.text
    lic = r.json()
    assert (lic["status"], lic["annual_quota_kg"], lic["revoked_at"]) == ("active", 5000, None)
    assert (lic["valid_from"], lic["valid_to"]) == ("2040-01-01", "2040-12-31")


def test_who_sees_which_licenses(world: World) -> None:
    path = f"/v1/brands/{BRAND}/licenses"

    def holders(org: Any) -> list[str]:
        r = world.call("GET", path, org)
        assert r.status_code == 200, r.text
        return sorted(x["org_id"] for x in r.json())

    both = sorted([world.coop.id, world.coop2.id])
    assert holders(world.owner) == both
    assert holders(world.regulator) == both
    assert holders(world.admin) == both
    assert holders(world.coop) == [world.coop.id]
    assert holders(world.coop2) == [world.coop2.id]
    assert_error(world.call("GET", path, world.owner2), 403, "Forbidden")


def test_revoking_a_license(world: World) -> None:
    (mine,) = world.call("GET", f"/v1/brands/{BRAND}/licenses", world.coop).json()
    revoke = f"/v1/brands/{BRAND}/licenses/{mine['id']}/revoke"
    first = world.call("POST", revoke, world.owner)
    assert first.status_code == 200
    assert first.json()["status"] == "revoked"
    with unchanged(world.engine):
        again = world.call("POST", revoke, world.owner)
    assert again.json() == first.json()  # revoking twice changes nothing
    with unchanged(world.engine):
        r = world.call("POST", f"/v1/brands/{BRAND}/licenses/no-such/revoke", world.owner)
    assert_error(r, 404, "LicenseNotFound")
    # A license is only reachable through its own brand.
    world.call(
        "POST",
        "/v1/brands",
        world.owner2,
        json={"slug": "other", "name": "Other", "category": "rice", "county_codes": ["522601"]},
    )
    with unchanged(world.engine):
        r = world.call("POST", f"/v1/brands/other/licenses/{mine['id']}/revoke", world.owner2)
    assert_error(r, 404, "LicenseNotFound")
