"""A write route's key check is remembered for `api_key_cache_seconds`: a revoked key stops
writing within that bound (at once with 0), and reads check the key every time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from registry.core.config import get_settings
from tests.dbtools import assert_error
from tests.factories import World, stored


@pytest.fixture
def cache_seconds(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[float]:
    seconds: float = request.param
    monkeypatch.setenv("REGISTRY_API_KEY_CACHE_SECONDS", str(seconds))
    get_settings.cache_clear()
    yield seconds
    monkeypatch.delenv("REGISTRY_API_KEY_CACHE_SECONDS")
    get_settings.cache_clear()


def _revoke_keys(world: World, org_id: str) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE org_id = :org"),
            {"org": org_id},
        )


def _batch_then_revoke(world: World) -> dict[str, Any]:
    """A batch the coop has just written to (so its key was checked), then its keys revoked."""
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, stored())
    _revoke_keys(world, world.coop.id)
    return batch


@pytest.mark.parametrize("cache_seconds", [0.0], indirect=True)
def test_without_the_cache_a_revoked_key_stops_writing_at_once(
    world: World, cache_seconds: float
) -> None:
    batch = _batch_then_revoke(world)
    assert_error(world.append(batch["id"], world.coop, stored()), 401, "InvalidApiKey")


@pytest.mark.parametrize("cache_seconds", [2.0], indirect=True)
def test_a_revoked_key_stops_writing_within_the_cache_bound(
    world: World, cache_seconds: float
) -> None:
    batch = _batch_then_revoke(world)
    revoked_at = time.monotonic()
    # Reads are not cached: refused at once.
    r = world.call("GET", f"/v1/batches/{batch['id']}", world.coop)
    assert_error(r, 401, "InvalidApiKey")
    # Writes: the check made just before the revocation still counts, within the bound.
    r = world.append(batch["id"], world.coop, stored())
    assert r.status_code == 201 or time.monotonic() - revoked_at > cache_seconds, r.text
    time.sleep(cache_seconds + 0.05)
    assert_error(world.append(batch["id"], world.coop, stored()), 401, "InvalidApiKey")


@pytest.mark.parametrize("cache_seconds", [30.0], indirect=True)
def test_a_remembered_key_still_gets_its_kind_checked(world: World, cache_seconds: float) -> None:
    # A regulator's key, remembered after one write attempt, is still refused a coop write.
    r = world.call("POST", "/v1/batches", world.regulator, json={"brand": "x", "lot": "L"})
    assert_error(r, 403, "Forbidden")
    r = world.call("POST", "/v1/batches", world.regulator, json={"brand": "x", "lot": "L"})
    assert_error(r, 403, "Forbidden")
