"""No borrowing of next year's quota: events dated beyond the clock-drift tolerance are
refused, and a harvest's quota year is its harvest_date's, covered by a licence.

DESIGN.md "Rules the registry enforces": `event_time` no more than a few minutes (a
setting) in the future; a harvest's quota year is its `harvest_date`'s year and must be
covered by the licence (422).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.core.config import get_settings
from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND, COUNTY, Org, World, build_world, harvested, stored

THIS_YEAR = date.today().year
BEIJING = timezone(timedelta(hours=8))


def _at(moment: datetime, event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "event_time": moment.isoformat()}


def _harvest(kg: float, day: date, moment: datetime) -> dict[str, Any]:
    return {
        "type": "harvested",
        "event_time": moment.isoformat(),
        "location": {"county_code": COUNTY, "place": "plot A-12"},
        "data": {"quantity": kg, "unit": "kg", "harvest_date": day.isoformat()},
    }


@pytest.fixture
def tolerance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tolerance set to 60 s for the test (the default is 300 s)."""
    monkeypatch.setenv("REGISTRY_FUTURE_TOLERANCE_SECONDS", "60")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("REGISTRY_FUTURE_TOLERANCE_SECONDS")
    get_settings.cache_clear()


def test_event_time_beyond_the_tolerance_is_refused(world: World, tolerance: None) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    now = datetime.now(UTC)
    with unchanged(world.engine):
        r = world.append(batch, world.coop, _at(now + timedelta(minutes=5), stored()))
        assert_error(r, 422, "FutureEvent", "event_time", "60 s")
        r = world.append(batch, world.coop, _at(now + timedelta(days=60), stored()))
        assert_error(r, 422, "FutureEvent", "event_time")
    # A phone a few seconds ahead is accepted, in whatever offset it writes.
    world.ok(batch, world.coop, _at((now + timedelta(seconds=20)).astimezone(BEIJING), stored()))


def test_next_years_quota_cannot_be_borrowed(client: TestClient, engine: Engine) -> None:
    """The issue's case: this year's quota used up, a 15,000 kg harvest dated two months
    ahead is refused, whether event_time or only harvest_date lies ahead."""
    world = build_world(client, engine, quota_kg=10_000)
    batch = world.new_batch()["id"]
    now = datetime.now(BEIJING)
    today = now.date()
    world.ok(batch, world.coop, _harvest(10_000, today, now))
    ahead = today + timedelta(days=61)
    with unchanged(world.engine):
        r = world.append(batch, world.coop, _harvest(15_000, ahead, now + timedelta(days=61)))
        assert_error(r, 422, "FutureEvent")
        r = world.append(batch, world.coop, _harvest(15_000, ahead, now))
        assert_error(r, 422, "FutureEvent", f"harvest_date {ahead}")
        # Tomorrow (in the event's own offset) is the future too, once its midnight is more
        # than the tolerance away: so not the day after a moment minutes before midnight.
        tomorrow = (now + timedelta(hours=1)).date() + timedelta(days=1)
        r = world.append(batch, world.coop, _harvest(1, tomorrow, now))
        assert_error(r, 422, "FutureEvent", "harvest_date")
    # The quota of the current year still holds.
    assert_error(world.append(batch, world.coop, _harvest(1, today, now)), 409, "QuotaExceeded")


def test_a_correction_cannot_move_a_harvest_into_the_future(world: World) -> None:
    batch = world.new_batch()["id"]
    first = world.ok(batch, world.coop, harvested(1000))
    ahead = (date.today() + timedelta(days=30)).isoformat()
    corrected = {"quantity": 1000, "unit": "kg", "harvest_date": ahead}
    body = {
        "type": "correction",
        "event_time": datetime.now(UTC).isoformat(),
        "data": {"seq": first["seq"], "reason": "wrong date", "corrected_data": corrected},
    }
    with unchanged(world.engine):
        assert_error(world.append(batch, world.coop, body), 422, "FutureEvent", ahead)


def test_offline_sync_refuses_future_items_one_by_one(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    future = _at(datetime.now(UTC) + timedelta(days=1), stored())
    r = world.call(
        "POST",
        "/v1/sync",
        world.coop,
        json={
            "items": [
                {"batch_id": batch, "idempotency_key": "f-1", "event": future},
                {"batch_id": batch, "idempotency_key": "f-2", "event": stored()},
            ]
        },
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert (first["status"], first["status_code"], first["error"]) == (
        "rejected",
        422,
        "FutureEvent",
    )
    assert second["status"] == "created"


def test_quota_year_is_the_harvest_dates_and_must_be_licensed(world: World) -> None:
    """A licence for this year only: last year's harvest date is refused (no quota year
    covered), this year's counts against this year's quota."""
    r = world.call("POST", "/v1/orgs", world.admin, json={"name": "c3", "kind": "cooperative"})
    world.orgs["coop3"] = Org(r.json()["id"], "cooperative", r.json()["api_key"])
    r = world.call(
        "POST",
        f"/v1/brands/{BRAND}/licenses",
        world.owner,
        json={
            "org_id": world.coop3.id,
            "valid_from": f"{THIS_YEAR}-01-01",
            "valid_to": f"{THIS_YEAR}-12-31",
            "annual_quota_kg": 500,
        },
    )
    assert r.status_code == 201, r.text
    batch = world.new_batch(world.coop3)["id"]
    now = datetime.now(BEIJING)
    last_year = date(THIS_YEAR - 1, 12, 31)
    with unchanged(world.engine):
        r = world.append(batch, world.coop3, _harvest(100, last_year, now))
    assert_error(r, 422, "HarvestOutsideLicence", str(last_year), str(THIS_YEAR - 1))
    world.ok(batch, world.coop3, _harvest(500, date(THIS_YEAR, 1, 1), now))
    r = world.append(batch, world.coop3, _harvest(1, date.today(), now))
    assert_error(r, 409, "QuotaExceeded", str(THIS_YEAR), "500 kg")
