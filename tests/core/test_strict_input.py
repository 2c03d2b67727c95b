"""Input that used to be accepted but wrong: booleans and strings as numbers, non-ASCII
digits in codes, NUL characters in text. Every case gets the same 422 (or 401) on SQLite
and PostgreSQL, names the field, and changes nothing."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

from tests.dbtools import assert_error, snapshot, unchanged
from tests.factories import BRAND, World, harvested, packed, received, shipped, stored

T = "2026-11-20T08:30:00+08:00"
WIDE = "5２２６３２"  # 522632 with full-width digits


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return out


def _event_cases(world: World) -> list[tuple[dict[str, Any], str, Any]]:
    """(event, field, wrong value): every numeric field of every event type."""
    applied = {
        "type": "input_applied",
        "event_time": T,
        "data": {"input_name": "compost", "dose": 2, "dose_unit": "t/ha"},
    }
    cooled = {"type": "cooled", "event_time": T, "data": {"place": "shed"}}
    sold = {"type": "sold", "event_time": T, "data": {"channel": "shop", "quantity": 1}}
    correction = {"type": "correction", "event_time": T, "data": {"seq": 1, "reason": "x"}}
    numeric = [
        (harvested(), "data.quantity"),
        (applied, "data.dose"),
        (applied, "data.pre_harvest_interval_days"),
        (cooled, "data.temperature_c"),
        (packed(), "data.units"),
        (packed(), "data.unit_size"),
        (shipped(world.handler.id), "data.quantity"),
        (received(world.coop.id), "data.quantity"),
        (sold, "data.quantity"),
        (correction, "data.seq"),
        (stored(), "location.lat"),
        (stored(), "location.lon"),
    ]
    cases = [(event, field, value) for event, field in numeric for value in (True, "5")]
    return [
        *cases,
        (harvested(), "location.county_code", WIDE),
        (stored(), "data.place", "cold\x00store"),
        (stored(), "location.place", "a\x00"),
        (harvested(), "data.plot", "\x00"),
        (shipped(world.handler.id), "data.to_org_id", f"{world.handler.id}\x00"),
        (correction, "data.reason", "typo\x00"),
        (applied, "data.input_name", "urea\x00"),
    ]


def test_wrong_event_input_is_refused_alike_on_both_backends(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    failures = []
    cases = _event_cases(world)
    for event, field, value in cases:
        before = snapshot(world.engine)
        r = world.append(batch, world.coop, _set(event, field, value))
        body = r.json()
        if (
            r.status_code != 422
            or body.get("error") != "ValidationError"
            or field not in str(body.get("detail"))
        ):
            failures.append(f"{field}={value!r}: {r.status_code} {r.text[:200]}")
        elif snapshot(world.engine) != before:
            failures.append(f"{field}={value!r}: changed the database")
    assert not failures, "\n".join(failures)
    assert len(cases) == 31


def test_wrong_request_input_is_refused_alike_on_both_backends(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    world.ok(batch, world.coop, packed())
    brand = {"slug": "strict", "name": "n", "category": "c", "county_codes": ["522632"]}
    license_ = {"org_id": world.coop2.id, "valid_from": "2030-01-01", "valid_to": "2030-12-31",
                "annual_quota_kg": 10}  # fmt: skip
    org = {"name": "n", "kind": "handler"}
    cases = [
        ("coop", "POST", f"/v1/batches/{batch}/labels", {"count": True}, "count"),
        ("coop", "POST", f"/v1/batches/{batch}/labels", {"count": "1"}, "count"),
        ("coop", "POST", f"/v1/batches/{batch}/labels", {"count": 1.0}, "count"),
        ("owner", "POST", "/v1/brands", {**brand, "scan_alert_threshold": True},
         "scan_alert_threshold"),
        ("owner", "PATCH", f"/v1/brands/{BRAND}", {"scan_alert_threshold": True},
         "scan_alert_threshold"),
        ("owner", "POST", f"/v1/brands/{BRAND}/licenses", {**license_, "annual_quota_kg": True},
         "annual_quota_kg"),
        ("owner", "POST", f"/v1/brands/{BRAND}/licenses", {**license_, "annual_quota_kg": "9"},
         "annual_quota_kg"),
        ("owner", "POST", "/v1/brands", {**brand, "county_codes": [WIDE]}, "county_codes.0"),
        ("admin", "POST", "/v1/orgs", {**org, "county_code": WIDE}, "county_code"),
        ("admin", "POST", "/v1/orgs", {**org, "credit_code": "９1350100M000100Y43"},
         "credit_code"),
        ("coop", "POST", "/v1/batches", {"brand": BRAND, "lot": "L1", "product": "p",
                                         "gtin": "０6901234567892"}, "gtin"),
        ("admin", "POST", "/v1/orgs", {**org, "name": "a\x00b"}, "name"),
        ("owner", "POST", "/v1/brands", {**brand, "name": "a\x00"}, "name"),
        ("owner", "POST", "/v1/brands", {**brand, "category": "a\x00"}, "category"),
        ("owner", "PATCH", f"/v1/brands/{BRAND}", {"description": "a\x00"}, "description"),
        ("owner", "PATCH", f"/v1/brands/{BRAND}", {"standard": "a\x00"}, "standard"),
        ("owner", "POST", f"/v1/brands/{BRAND}/licenses", {**license_, "org_id": "a\x00"},
         "org_id"),
        ("coop", "POST", "/v1/batches", {"brand": BRAND, "lot": "L1", "product": "p\x00"},
         "product"),
        ("coop", "POST", "/v1/batches", {"brand": f"{BRAND}\x00", "lot": "L1", "product": "p"},
         "brand"),
        ("coop", "POST", "/v1/sync", {"items": [{"batch_id": "b\x00", "idempotency_key": "k",
                                                 "event": stored()}]}, "batch_id"),
    ]  # fmt: skip
    failures = []
    for caller, method, path, body, field in cases:
        before = snapshot(world.engine)
        r = world.call(method, path, world.orgs[caller], json=body)
        got = r.json()
        if path == "/v1/sync" and r.status_code == 200:  # a bad item is refused in its result
            (got,) = got["results"]
            r = SimpleNamespace(status_code=got["status_code"], text=str(got))  # type: ignore[assignment]
        if (
            r.status_code != 422
            or got.get("error") != "ValidationError"
            or field not in str(got.get("detail"))
        ):
            failures.append(f"{method} {path} {field}: {r.status_code} {r.text[:200]}")
        elif snapshot(world.engine) != before:
            failures.append(f"{method} {path} {field}: changed the database")
    assert not failures, "\n".join(failures)


def test_nul_in_urls_headers_and_keys_is_refused_alike(world: World) -> None:
    batch = world.new_batch()["id"]
    for path in (
        "/v1/batches/a%00b",
        "/v1/brands/a%00b",
        "/v1/batches?brand=a%00b",
        f"/v1/batches/{batch}/events?x=%00",
        "/01/06901234567892/10/L%001/21/1",
    ):
        with unchanged(world.engine):
            r = world.call("GET", path, world.coop)
        assert_error(r, 422, "InvalidInput", "NUL")
    with unchanged(world.engine):
        r = world.append(batch, world.coop, stored(), headers={"Idempotency-Key": "k\x00"})
    assert_error(r, 422, "ValidationError", "idempotency-key")
    with unchanged(world.engine):
        r = world.call("GET", "/v1/orgs/me", headers={"Authorization": "Bearer ork_a\x00b"})
    assert_error(r, 401, "Unauthorized", "invalid or revoked API key")
    # In an outbox, an item with NUL is refused on its own; the others still land.
    items = [
        {"batch_id": batch, "idempotency_key": "n1", "event": stored("a\x00")},
        {"batch_id": batch, "idempotency_key": "n2", "event": stored()},
    ]
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    first, second = r.json()["results"]
    assert (first["status"], first["status_code"], first["error"]) == (
        "rejected",
        422,
        "ValidationError",
    )
    assert "data.place" in first["detail"]
    assert second["status"] == "created"
