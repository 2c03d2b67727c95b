"""The brand page's queries on both backends: licensed cooperatives and batches by season."""

from __future__ import annotations

from datetime import date

import pytest

from registry.brands.exceptions import BrandNotFound
from registry.core.db import unit_of_work
from registry.web.service import brand_overview
from tests.factories import BRAND, World, harvested


def test_cooperatives_and_seasons(world: World) -> None:
    today = date.today()
    # Two batches harvested in 2025, one in this year, one not yet harvested (counts in
    # the year it was registered, i.e. this year).
    for day in ("2025-11-20", "2025-12-01", f"{today.year}-01-10"):
        batch = world.new_batch()
        world.ok(batch["id"], world.coop, harvested(100, day=day))
    world.new_batch(world.coop2)
    r = world.call(
        "POST",
        f"/v1/brands/{BRAND}/licenses/"
        + world.call("GET", f"/v1/brands/{BRAND}/licenses", world.owner).json()[1]["id"]
        + "/revoke",
        world.owner,
    )
    assert r.status_code == 200, r.text

    with unit_of_work(world.engine) as session:
        overview = brand_overview(session, slug=BRAND, today=today)

    assert overview.brand.slug == BRAND
    assert overview.cooperatives == [("coop org", None)]  # coop2's license was revoked
    expected = {2025: 2, today.year: 2}
    assert overview.seasons == sorted(expected.items(), reverse=True)


def test_a_license_outside_its_dates_does_not_count(world: World) -> None:
    with unit_of_work(world.engine) as session:
        overview = brand_overview(session, slug=BRAND, today=date(2001, 1, 1))
    assert overview.cooperatives == []
    assert overview.seasons == []


def test_unknown_brand(world: World) -> None:
    with unit_of_work(world.engine) as session, pytest.raises(BrandNotFound):
        brand_overview(session, slug="no-such-brand", today=date.today())
