"""Who may register a batch, where a harvest may come from, and how much per year.

DESIGN.md "Rules the registry enforces": a valid license (403), the production area
(422 naming the county), the annual quota (409 with the numbers).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.batches.service import harvested_kg_in_year
from registry.brands.service import get_brand
from registry.core.db import unit_of_work
from tests.dbtools import assert_error, filler_events, rows_read, unchanged
from tests.factories import BRAND, COUNTY, Org, World, build_world, harvested, packed

THIS_YEAR = date.today().year


def _batch_body(lot: str = "RULES-1") -> dict[str, Any]:
    return {"brand": BRAND, "lot": lot, "product": "navel orange"}


def _new_coop(world: World, name: str = "coop3") -> None:
    r = world.call("POST", "/v1/orgs", world.admin, json={"name": name, "kind": "cooperative"})
    assert r.status_code == 201, r.text
    world.orgs[name] = Org(r.json()["id"], "cooperative", r.json()["api_key"])


def _license(world: World, org_id: str, valid_from: str, valid_to: str, quota: float = 1e5) -> str:
    r = world.call(
        "POST",
        f"/v1/brands/{BRAND}/licenses",
        world.owner,
        json={
            "org_id": org_id,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "annual_quota_kg": quota,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# --- licenses -------------------------------------------------------------------------


def test_cooperative_without_license_cannot_create_batch(world: World) -> None:
    _new_coop(world)
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop3, json=_batch_body())
    assert_error(r, 403, "NoValidLicense", "no valid license", BRAND)


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [
        (f"{THIS_YEAR - 3}-01-01", f"{THIS_YEAR - 2}-12-31"),  # expired
        (f"{THIS_YEAR + 1}-01-01", f"{THIS_YEAR + 1}-12-31"),  # not yet valid
    ],
    ids=["expired", "not-yet-valid"],
)
def test_license_outside_its_validity_does_not_count(
    world: World, valid_from: str, valid_to: str
) -> None:
    _new_coop(world)
    _license(world, world.coop3.id, valid_from, valid_to)
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop3, json=_batch_body())
    assert_error(r, 403, "NoValidLicense")


def test_revoked_license_stops_new_batches_and_harvests(world: World) -> None:
    batch = world.new_batch()
    licenses = world.call("GET", f"/v1/brands/{BRAND}/licenses", world.coop).json()
    (mine,) = licenses
    r = world.call("POST", f"/v1/brands/{BRAND}/licenses/{mine['id']}/revoke", world.owner)
    assert r.status_code == 200
    assert r.json()["status"] == "revoked"
    assert r.json()["revoked_at"] is not None
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop, json=_batch_body("AFTER-REVOKE"))
        assert_error(r, 403, "NoValidLicense")
        # An existing batch cannot record new harvest either: the license is checked then too.
        assert_error(world.append(batch["id"], world.coop, harvested()), 403, "NoValidLicense")
    # Other cooperatives keep their licenses.
    world.new_batch(world.coop2)


def test_suspended_brand_refuses_batches_until_reactivated(world: World) -> None:
    existing = world.new_batch(lot="BEFORE")["id"]
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "suspended"})
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop, json=_batch_body())
        assert_error(r, 403, "NoValidLicense", "suspended")
        r = world.append(existing, world.coop, harvested())
        assert_error(r, 403, "NoValidLicense", "suspended")
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "active"})
    assert r.json()["status"] == "active"
    world.new_batch(lot="RULES-1")


def test_harvest_date_must_fall_inside_the_license(world: World) -> None:
    batch = world.new_batch()
    # The world's licenses run from January of last year to December of next year.
    early = f"{THIS_YEAR - 2}-11-20"
    with unchanged(world.engine):
        r = world.append(batch["id"], world.coop, harvested(day=early))
    # The cooperative holds a licence in force, but not for that quota year: 422.
    assert_error(r, 422, "HarvestOutsideLicence", early, str(THIS_YEAR - 2))


def test_batch_under_unknown_brand_or_repeated_lot(world: World) -> None:
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop, json={**_batch_body(), "brand": "nope"})
    assert_error(r, 404, "BrandNotFound", "nope")
    world.new_batch(lot="SAME-LOT")
    with unchanged(world.engine):
        r = world.call("POST", "/v1/batches", world.coop2, json=_batch_body("SAME-LOT"))
    assert_error(r, 409, "BatchExists", "SAME-LOT")


def test_created_event_chains_the_batch_attributes(world: World) -> None:
    batch = world.new_batch(lot="ATTRS-1", variety="Newhall")
    (created,) = world.call("GET", f"/v1/batches/{batch['id']}/events", world.coop).json()["items"]
    assert created["seq"] == 0
    assert created["type"] == "created"
    assert created["prev_hash"] == "0" * 64
    assert created["hash"] == batch["head"]["hash"]
    assert created["actor_org_id"] == world.coop.id
    assert created["data"] == {
        "brand": BRAND,
        "lot": "ATTRS-1",
        "product": "navel orange",
        "variety": "Newhall",
        "gtin": "06901234567892",
    }


# --- production area ------------------------------------------------------------------


def test_harvest_outside_production_area_names_the_county(world: World) -> None:
    batch = world.new_batch()
    with unchanged(world.engine):
        r = world.append(batch["id"], world.coop, harvested(county="520102"))
    assert_error(r, 422, "OutsideProductionArea", "520102", COUNTY)


def test_harvest_needs_a_county(world: World) -> None:
    batch = world.new_batch()
    event = harvested()
    del event["location"]
    with unchanged(world.engine):
        r = world.append(batch["id"], world.coop, event)
    assert_error(r, 422, "InvalidInput", "county_code")


def test_harvest_in_any_county_of_the_area(client: TestClient, engine: Engine) -> None:
    world = build_world(client, engine)
    r = world.call(
        "POST",
        "/v1/brands",
        world.owner2,
        json={
            "slug": "wuchang-rice",
            "name": "Wuchang Rice",
            "category": "rice",
            "county_codes": ["230184", "230183", "230184"],
        },
    )
    assert r.json()["county_codes"] == ["230183", "230184"]
    _license_for = {
        "org_id": world.coop.id,
        "valid_from": f"{THIS_YEAR}-01-01",
        "valid_to": f"{THIS_YEAR}-12-31",
        "annual_quota_kg": 1e6,
    }
    r = world.call("POST", "/v1/brands/wuchang-rice/licenses", world.owner2, json=_license_for)
    assert r.status_code == 201, r.text
    batch = world.new_batch(brand="wuchang-rice", gtin=None)
    day = date.today().isoformat()
    world.ok(batch["id"], world.coop, harvested(100, county="230183", day=day))
    world.ok(batch["id"], world.coop, harvested(100, county="230184", day=day))
    r = world.append(batch["id"], world.coop, harvested(100, county=COUNTY, day=day))
    assert_error(r, 422, "OutsideProductionArea", COUNTY, "wuchang-rice")


# --- annual quota ---------------------------------------------------------------------


@pytest.fixture
def quota_world(client: TestClient, engine: Engine) -> World:
    """The standard world, but each cooperative may harvest 10 t per year."""
    return build_world(client, engine, quota_kg=10_000)


def test_quota_counts_every_batch_of_the_cooperative(quota_world: World) -> None:
    w = quota_world
    a, b = w.new_batch()["id"], w.new_batch()["id"]
    w.ok(a, w.coop, harvested(6000))
    with unchanged(w.engine):
        r = w.append(b, w.coop, harvested(5000))
    assert_error(r, 409, "QuotaExceeded", "5000 kg", "11000 kg", "10000 kg", str(THIS_YEAR))
    with unchanged(w.engine):
        r = w.append(b, w.coop, _tonnes(4.5))
    assert_error(r, 409, "QuotaExceeded", "4500 kg", "10500 kg")
    # Exactly up to the quota is allowed.
    w.ok(b, w.coop, harvested(4000))
    assert_error(w.append(a, w.coop, harvested(1)), 409, "QuotaExceeded")
    # Another cooperative has its own quota; another year has a fresh one.
    w.ok(w.new_batch(w.coop2)["id"], w.coop2, harvested(10_000))
    w.ok(b, w.coop, harvested(10_000, day=f"{THIS_YEAR - 1}-11-20"))


def _tonnes(t: float) -> dict[str, Any]:
    event = harvested()
    event["data"].update(quantity=t, unit="t")
    return event


def test_corrections_reduce_the_quota_tally(quota_world: World) -> None:
    w = quota_world
    a, b = w.new_batch()["id"], w.new_batch()["id"]
    first = w.ok(a, w.coop, harvested(8000))
    assert_error(w.append(b, w.coop, harvested(4000)), 409, "QuotaExceeded", "12000 kg")
    corrected = harvested(3000)["data"]
    w.ok(a, w.coop, _correction(first["seq"], corrected))
    w.ok(b, w.coop, harvested(4000))  # 3000 + 4000
    second = w.ok(b, w.coop, harvested(3000))  # 10000
    assert_error(w.append(a, w.coop, harvested(1000)), 409, "QuotaExceeded")
    # A correction without corrected_data voids the event: its quantity no longer counts.
    w.ok(b, w.coop, _correction(second["seq"]))
    w.ok(a, w.coop, harvested(3000))


def test_correction_cannot_raise_a_harvest_over_the_quota(quota_world: World) -> None:
    w = quota_world
    a = w.new_batch()["id"]
    first = w.ok(a, w.coop, harvested(8000))
    with unchanged(w.engine):
        r = w.append(a, w.coop, _correction(first["seq"], harvested(12_000)["data"]))
    assert_error(r, 409, "QuotaExceeded", "12000 kg", "10000 kg")
    # Raising it within the quota is a normal correction.
    w.ok(a, w.coop, _correction(first["seq"], harvested(10_000)["data"]))


def test_packing_counts_against_the_corrected_harvest(quota_world: World) -> None:
    w = quota_world
    a = w.new_batch()["id"]
    first = w.ok(a, w.coop, harvested(5000))
    w.ok(a, w.coop, packed(1000, 5))
    # Cutting the harvest below what is already packed would break mass balance.
    with unchanged(w.engine):
        r = w.append(a, w.coop, _correction(first["seq"], harvested(4000)["data"]))
    assert_error(r, 409, "MassBalanceExceeded", "5000 kg", "4000 kg")


def _correction(seq: int, corrected_data: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"seq": seq, "reason": "scale was not tared"}
    if corrected_data is not None:
        data["corrected_data"] = corrected_data
    return {"type": "correction", "event_time": "2026-11-25T10:00:00+08:00", "data": data}


def test_the_quota_tally_reads_the_cooperatives_harvests_not_the_registrys(
    world: World,
) -> None:
    """On PostgreSQL, the tally behind every harvest's quota check (and the console's quota
    bar) fetches each of the cooperative's batches' harvests and corrections through the
    (type, batch_id) index. Written as `type = 'harvested' OR type = 'correction'`, it was
    planned as a walk of every harvest in the registry per batch of the cooperative (with
    statistics or without): 300,000 index entries and 20-38 ms per harvest at 2,400 batches.
    Rows and index entries read are counted in the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    own = [world.new_batch()["id"] for _ in range(3)]
    for batch_id in own:
        world.ok(batch_id, world.coop, harvested(100))
    other = world.new_batch(world.coop2)["id"]
    with world.engine.begin() as conn:
        # Harvests of another cooperative: only their number matters here.
        filler_events(
            conn,
            batch_id=other,
            org_id=world.coop2.id,
            type="harvested",
            data="""'{"quantity": 1, "unit": "kg", "harvest_date": "2026-11-20"}'""",
        )
    with unit_of_work(world.engine) as session:
        brand = get_brand(session, BRAND)
        before = rows_read(session, "events")
        total = harvested_kg_in_year(session, brand_id=brand.id, org_id=world.coop.id, year=2026)
        read = rows_read(session, "events") - before
    assert total == 300
    # Each harvest's index entry and row: two per batch.
    assert read <= 2 * len(own), read
