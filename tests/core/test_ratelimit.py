"""Rate limits: per client address on public endpoints, per API key on writes, a platform's
key ten times higher, 429 with Retry-After in the error shape; counters shared through
Redis by two app instances, in process memory without Redis (and while Redis is down)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from fastapi.testclient import TestClient
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from sqlalchemy import Engine

from registry.core.bounds import BodyLimit
from registry.core.clients import resolve_client_address
from registry.core.config import Settings, get_settings, parse_networks
from registry.core.ratelimit import RateLimits, WireStorage
from registry.core.redis_wire import RedisWire
from registry.core.routes import RouteInfo
from registry.main import create_app
from tests.dbtools import assert_error
from tests.factories import BRAND, World, build_world
from tests.worker_process import settings_env

LOW = {"REGISTRY_RATE_LIMIT_PUBLIC": "5/minute", "REGISTRY_RATE_LIMIT_WRITES": "3/minute"}


@contextmanager
def app_with(engine: Engine, env: dict[str, str], **client: object) -> Iterator[TestClient]:
    with settings_env(env), TestClient(create_app(engine), **client) as test_client:  # type: ignore[arg-type]
        yield test_client


def assert_limited(r: object, limit: int, who: str) -> None:
    assert_error(r, 429, "TooManyRequests", f"at most {limit} ")  # type: ignore[arg-type]
    assert who in r.json()["detail"]  # type: ignore[attr-defined]
    assert 1 <= int(r.headers["Retry-After"]) <= 60  # type: ignore[attr-defined]


def test_defaults_are_levels_a_person_never_reaches() -> None:
    settings = Settings()
    assert settings.rate_limits is True
    assert (settings.rate_limit_public, settings.rate_limit_writes) == ("120/minute", "600/minute")
    assert settings.rate_limit_platform_factor == 10
    with pytest.raises(ValueError, match="rate_limit_public"):
        Settings(rate_limit_public="lots")


def test_public_requests_are_limited_per_address(engine: Engine) -> None:
    with app_with(engine, LOW) as client:
        for _ in range(5):
            assert client.get("/v1/brands").status_code == 200
        r = client.get("/v1/brands")
        assert_limited(r, 5, "this address")
        # Page loads of a label count against the same address limit.
        assert_limited(client.get("/01/06901234567892/10/L1/21/1"), 5, "this address")
        # An invented key buys nothing, and X-Forwarded-For is not believed by default.
        headers = {"Authorization": "Bearer ork_invented", "X-Forwarded-For": "203.0.113.9"}
        assert_limited(client.get("/v1/brands", headers=headers), 5, "this address")
        # Health checks and the API description are never limited.
        assert client.get("/healthz").status_code == 200
        assert client.get("/openapi.json").status_code == 200
    # Another address has its own count.
    with app_with(engine, LOW, client=("198.51.100.7", 4000)) as other:
        assert other.get("/v1/brands").status_code == 200


def test_a_platform_key_gets_ten_times_the_public_limit(client: TestClient, engine: Engine) -> None:
    world = build_world(client, engine)
    with app_with(engine, LOW) as limited:
        platform = {"Authorization": f"Bearer {world.platform.key}"}
        codes = {"codes": ["https://example.org/01/06901234567892/10/L1/21/1"]}
        answers = [limited.post("/v1/verify", json=codes, headers=platform) for _ in range(51)]
        assert [r.status_code for r in answers[:50]] == [200] * 50
        assert_limited(answers[50], 50, "this API key")
        # The platform's count is its key's, not the address's.
        assert limited.get("/v1/brands").status_code == 200


def test_writes_are_limited_per_key(client: TestClient, engine: Engine) -> None:
    world = build_world(client, engine)
    with app_with(engine, LOW) as limited:
        w = World(limited, engine, world.orgs)
        body = {"brand": BRAND, "lot": "RL-1", "product": "p"}
        assert w.call("POST", "/v1/batches", w.coop, json=body).status_code == 201
        for _ in range(2):  # refused writes count too
            assert w.call("POST", "/v1/batches", w.coop, json=body).status_code == 409
        assert_limited(w.call("POST", "/v1/batches", w.coop, json=body), 3, "this API key")
        # Another key writes on; reads with a valid key are not limited.
        other = {**body, "lot": "RL-2"}
        assert w.call("POST", "/v1/batches", w.coop2, json=other).status_code == 201
        for _ in range(8):
            assert w.call("GET", "/v1/batches", w.coop).status_code == 200


def test_two_app_instances_share_the_limit_through_redis(engine: Engine, redis_url: str) -> None:
    prefix = f"registry-rl-test-{uuid.uuid4().hex[:8]}"
    env = {**LOW, "REGISTRY_REDIS_URL": redis_url, "REGISTRY_RATE_LIMIT_PREFIX": prefix}
    env |= {"REGISTRY_RECORD_SCANS": "false"}
    try:
        with app_with(engine, env) as first, app_with(engine, env) as second:
            statuses = [
                (first if i % 2 else second).get("/v1/brands").status_code for i in range(5)
            ]
            assert statuses == [200] * 5
            assert_limited(first.get("/v1/brands"), 5, "this address")
            assert_limited(second.get("/v1/brands"), 5, "this address")
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}*"))
        assert keys, "the counters should have been kept in Redis"
        client.delete(*keys)
        client.close()


def test_the_wire_storage_counts_as_the_library_does_in_redis(redis_url: str) -> None:
    """The hit sent on our own connection (`WireStorage`) against the library's own Redis
    storage: the same hits get the same answers, and the library reads our counts (the
    same keys, the same script)."""
    item = parse("4/second")
    ours_prefix, theirs_prefix = (f"registry-rl-test-{uuid.uuid4().hex[:8]}" for _ in "ab")

    async def run() -> list[tuple[object, ...]]:
        wire, pool = RedisWire(redis_url), ConnectionPool.from_url(redis_url)
        ours = SlidingWindowCounterRateLimiter(
            WireStorage(
                "async+" + redis_url,
                wire=wire,
                implementation="redispy",
                key_prefix=ours_prefix,
                connection_pool=pool,
            )
        )
        theirs = SlidingWindowCounterRateLimiter(
            RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=theirs_prefix,
                connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
            )
        )
        seen = []
        try:
            for step in range(12):
                if step == 6:
                    await asyncio.sleep(1.1)  # the window moves on
                who = "a" if step % 3 else "b"
                # Each hit's answer, and the window as the library reads it afterwards.
                for limiter in (ours, theirs):
                    hit = await limiter.hit(item, "public", "address", who)
                    stats = await limiter.get_window_stats(item, "public", "address", who)
                    seen.append((limiter is ours, step, hit, stats.remaining))
        finally:
            wire.close()
            await pool.disconnect()
        return seen

    try:
        seen = asyncio.run(run())
        ours = [entry[1:] for entry in seen if entry[0]]
        assert ours == [entry[1:] for entry in seen if not entry[0]]
        assert {hit for _, hit, _ in ours} == {True, False}  # both answers were exercised
    finally:
        client = redis.Redis.from_url(redis_url)
        for prefix in (ours_prefix, theirs_prefix):
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
        client.close()


def test_redis_down_falls_back_to_counting_in_process() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0",
        rate_limit_public="2/minute",
        rate_limit_writes="2/minute",
    )
    limits = RateLimits(settings, key_kind=None)
    route = RouteInfo("/v1/brands", "public", False, False, BodyLimit(1024, 100))
    scope = {"type": "http", "headers": [], "client": ("192.0.2.1", 1)}

    async def three() -> list[bool]:
        return [await limits.check(scope, route) is None for _ in range(3)]

    assert asyncio.run(three()) == [True, True, False]


def test_client_address_believes_only_trusted_proxies(engine: Engine) -> None:
    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert resolve_client_address("192.0.2.1", ["203.0.113.9"], trusted) == "192.0.2.1"
    assert resolve_client_address("10.0.0.2", ["1.1.1.1, 203.0.113.9, 10.0.0.3"], trusted) == (
        "203.0.113.9"
    )
    assert resolve_client_address("10.0.0.2", [], trusted) == "10.0.0.2"
    assert resolve_client_address("10.0.0.2", ["x"], ()) == "10.0.0.2"
    # Behind a trusted proxy, two clients have two counts.
    env = {**LOW, "REGISTRY_TRUSTED_PROXIES": "10.0.0.0/8"}
    with app_with(engine, env, client=("10.0.0.5", 5000)) as proxied:
        for _ in range(5):
            r = proxied.get("/v1/brands", headers={"X-Forwarded-For": "203.0.113.1"})
            assert r.status_code == 200
        r = proxied.get("/v1/brands", headers={"X-Forwarded-For": "203.0.113.1"})
        assert r.status_code == 429
        r = proxied.get("/v1/brands", headers={"X-Forwarded-For": "203.0.113.2"})
        assert r.status_code == 200
    get_settings.cache_clear()
