"""A cooperative holds at most one active license per brand and day."""

from __future__ import annotations

from datetime import date

from tests.factories import BRAND, World


def test_overlapping_license_is_refused_until_the_old_one_is_revoked(world: World) -> None:
    body = {
        "org_id": world.coop.id,
        "valid_from": f"{date.today().year}-06-01",
        "valid_to": f"{date.today().year + 3}-12-31",
        "annual_quota_kg": 10,
    }
    r = world.call("POST", f"/v1/brands/{BRAND}/licenses", world.owner, json=body)
    assert r.status_code == 409
    assert r.json()["error"] == "Conflict"
    licenses = world.call("GET", f"/v1/brands/{BRAND}/licenses", world.owner).json()
    mine = [lic for lic in licenses if lic["org_id"] == world.coop.id]
    assert len(mine) == 1
    revoke = f"/v1/brands/{BRAND}/licenses/{mine[0]['id']}/revoke"
    assert world.call("POST", revoke, world.owner).status_code == 200
    r = world.call("POST", f"/v1/brands/{BRAND}/licenses", world.owner, json=body)
    assert r.status_code == 201, r.text
