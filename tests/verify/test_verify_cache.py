"""The verification cache (registry/verify/cache.py): two app instances with their own
caches share one database (and one Redis, when configured); a recall, a key revocation, a
brand suspension, a license revocation and an appended event made through one of them, or
through the service layer as the CLI does, show on the very next request of the other.
Hot codes are answered without a database round trip, and answer what the database path
(the same cache with nothing reused) answers. With Redis, device counts are shared too: two
scans in a row through two apps are judged in order."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.core.time import utcnow
from registry.labels.service import revoke_key
from registry.main import create_app
from registry.scans.counter import MemoryDeviceCounter
from registry.verify.cache import VerifyCache
from registry.verify.service import Verifier
from tests.conftest import REDIS_URL, unavailable
from tests.dbtools import recorded_statements
from tests.factories import BRAND, World, label_codes, labeled_batch, recalled, stored
from tests.verify.helpers import path_of, reason_codes


@pytest.fixture(params=["redis", "in-process"])
def change_board(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Changes travel through the test Redis (db 15), or only inside this process."""
    monkeypatch.delenv("REGISTRY_REDIS_URL", raising=False)
    if request.param == "redis":
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            unavailable("Redis", exc)
        monkeypatch.setenv("REGISTRY_REDIS_URL", REDIS_URL)
        prefix = f"registry-test-devices-{uuid.uuid4().hex[:10]}:"
        monkeypatch.setenv("REGISTRY_DEVICE_KEY_PREFIX", prefix)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


@pytest.fixture
def other_app(change_board: str, engine: Engine) -> Iterator[TestClient]:
    """A second app instance on the same database: another process, as far as caches go."""
    with TestClient(create_app(engine)) as client:
        yield client


def scan(client: TestClient, url: str, *, device: int = 1) -> dict[str, Any]:
    client.cookies.clear()
    headers = {"Accept": "application/json", "Cookie": f"rg_device={device:032x}"}
    r = client.get(path_of(url), headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def both(world: World, other: TestClient, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return scan(world.client, url), scan(other, url)


def test_a_change_is_seen_by_every_app_on_its_next_request(
    change_board: str, world: World, other_app: TestClient
) -> None:
    gone, gone_run = labeled_batch(world, units=10, count=10)
    kept, kept_run = labeled_batch(world, units=10, count=10)
    gone_url = label_codes(world, gone_run["run_id"])[0]
    kept_url = label_codes(world, kept_run["run_id"])[0]
    for url in (gone_url, kept_url):
        assert [r["verdict"] for r in both(world, other_app, url)] == ["genuine", "genuine"]

    # Warm: the other app answers a hot code without touching the database.
    with recorded_statements(world.engine) as statements:
        assert scan(other_app, kept_url)["verdict"] == "genuine"
    # (the scan recorders' background writes may land meanwhile; they read nothing)
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == []

    # An appended event: the timeline grows everywhere.
    world.ok(kept["id"], world.coop, stored("cold store 9"))
    for result in both(world, other_app, kept_url):
        assert max(result["timeline"], key=lambda e: e["seq"])["data"] == {"place": "cold store 9"}
        assert result["chain"]["length"] == kept_run_length(world, kept["id"])

    # A recall by the brand owner.
    world.ok(gone["id"], world.owner, recalled())
    for result in both(world, other_app, gone_url):
        assert result["verdict"] == "recalled"
        assert reason_codes(result) == ["batch_recalled"]
    assert scan(other_app, kept_url)["verdict"] == "genuine"  # the other lot is untouched

    # A brand suspension, then its end.
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    for result in both(world, other_app, kept_url):
        assert result["verdict"] == "suspicious"
        assert reason_codes(result) == ["brand_suspended"]
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "active"})
    assert r.status_code == 200, r.text
    assert [r["verdict"] for r in both(world, other_app, kept_url)] == ["genuine", "genuine"]

    # The producer's license revoked.
    licenses = world.call("GET", f"/v1/brands/{BRAND}/licenses", world.owner).json()
    license_id = next(lic["id"] for lic in licenses if lic["org_id"] == world.coop.id)
    r = world.call("POST", f"/v1/brands/{BRAND}/licenses/{license_id}/revoke", world.owner)
    assert r.status_code == 200, r.text
    for result in both(world, other_app, kept_url):
        assert result["verdict"] == "suspicious"
        assert reason_codes(result) == ["license_revoked"]

    # The label key revoked outside both apps, as `registry keys revoke` does.
    with unit_of_work(world.engine, write=True) as session:
        revoke_key(session, key_id=kept_run["key_id"])
    for url in (kept_url, gone_url):
        for result in both(world, other_app, url):
            assert result["verdict"] == "invalid"
            assert reason_codes(result) == ["revoked_key"]


def kept_run_length(world: World, batch_id: str) -> int:
    r = world.call("GET", f"/v1/batches/{batch_id}/audit", world.coop)
    assert r.status_code == 200, r.text
    return int(r.json()["length"])


def test_cached_answers_are_the_database_paths_answers(world: World) -> None:
    _, run = labeled_batch(world, units=20, count=10)
    gone, gone_run = labeled_batch(world, units=20, count=10)
    world.ok(gone["id"], world.owner, recalled())
    good = label_codes(world, run["run_id"])
    forged = good[1].replace(good[1][-6:], "AAAAAA")
    unissued = good[2].replace("/21/00000003", "/21/00000099")
    urls = [good[0], label_codes(world, gone_run["run_id"])[0], forged, unissued, "/01/123/x"]
    settings = get_settings()
    uncached = Verifier.from_settings(
        settings,
        cache=VerifyCache.from_settings(
            world.engine, settings.model_copy(update={"verify_cache_ttl": 0})
        ),
        counter=MemoryDeviceCounter(),
        recorder=None,
    )
    for url in urls:
        scan(world.client, url)  # warm the cache
        cached = scan(world.client, url)
        with recorded_statements(world.engine) as statements:
            expected = orjson.loads(uncached.check(path_of(url), now=utcnow()))
        if "/01/123/" not in url:
            assert statements, "TTL 0 reuses nothing"
        for answer in (cached, expected):
            answer.pop("checked_at")
            answer.pop("scans")
        assert cached == expected, url


def test_device_counts_are_shared_by_every_app_on_its_next_request(
    change_board: str, world: World, other_app: TestClient
) -> None:
    if change_board != "redis":
        pytest.skip("without Redis, device counts are per process by design")
    _, run = labeled_batch(world, units=10, count=10)
    url = label_codes(world, run["run_id"])[0]
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"scan_alert_threshold": 1})
    assert r.status_code == 200, r.text
    first = scan(world.client, url, device=1)
    second = scan(other_app, url, device=2)  # another process, the very next request
    assert (first["verdict"], first["scans"]["count"]) == ("genuine", 1)
    assert (second["verdict"], second["scans"]["count"]) == ("suspicious", 2)
    assert scan(world.client, url, device=3)["verdict"] == "suspicious"
    assert scan(other_app, url, device=1)["scans"]["first_by_you"] is True


def test_lots_due_within_half_a_ttl_are_reloaded_together(world: World) -> None:
    """A refresh reloads every held lot that expires within half a TTL in one load (one
    query of batches for all of them), so lots first loaded one by one come to expire, and
    reload, together: one load per TTL instead of one per lot."""
    first, _ = labeled_batch(world, units=20, count=5)
    second, _ = labeled_batch(world, units=20, count=5)
    third, _ = labeled_batch(world, units=20, count=5)
    cache = VerifyCache.from_settings(world.engine, get_settings())
    today = utcnow().date()
    lots = [(b["gtin"], b["lot"]) for b in (first, second, third)]
    for lot in lots:
        cache.load([lot], today)  # one by one, as scans of each lot first miss
    entries = cache._lots
    now = time.monotonic()
    ttl = get_settings().verify_cache_ttl
    entries[(lots[0], today)].expires = now - 1  # expired
    entries[(lots[1], today)].expires = now + ttl / 4  # due soon
    entries[(lots[2], today)].expires = now + ttl  # not due
    with recorded_statements(world.engine) as statements:
        assert cache.current(lots[:1], today) is not None  # served while it reloads
        cache._refresher.submit(lambda: None).result()  # the reload has finished
    batch_queries = [s for s in statements if "FROM batches JOIN organizations" in s]
    assert len(batch_queries) == 1
    assert entries[(lots[0], today)].expires == entries[(lots[1], today)].expires > now
    assert entries[(lots[2], today)].expires == now + ttl
