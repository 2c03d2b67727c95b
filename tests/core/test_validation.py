"""Payload validation: 422 `{"error": "ValidationError", "detail": <naming the field>}`,
nothing stored; and garbage of any shape never makes the registry answer 500."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dbtools import assert_error, snapshot, unchanged
from tests.factories import BRAND, World, harvested, packed, shipped, stored

T = "2026-11-20T08:30:00+08:00"


def _with(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `event` with the dotted `path` set to `value` (None deletes it)."""
    out = copy.deepcopy(event)
    *parents, leaf = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    return out


H = harvested()
EVENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown type", {**H, "type": "teleported"}, "'type'"),
    ("missing type", _with(H, "type", None), "'type'"),
    ("time without offset", {**H, "event_time": "2026-11-20T08:30:00"}, "event_time"),
    ("time not a time", {**H, "event_time": "yesterday"}, "event_time"),
    ("time in year 1", {**H, "event_time": "0001-01-01T00:00:00+14:00"}, "event_time"),
    ("negative quantity", _with(H, "data.quantity", -5), "data.quantity"),
    ("zero quantity", _with(H, "data.quantity", 0), "data.quantity"),
    ("quantity as text", _with(H, "data.quantity", "lots"), "data.quantity"),
    ("unknown unit", _with(H, "data.unit", "jin"), "data.unit"),
    ("bad harvest date", _with(H, "data.harvest_date", "2026-02-30"), "data.harvest_date"),
    ("missing data field", _with(H, "data.harvest_date", None), "data.harvest_date"),
    ("unknown data field", _with(H, "data.colour", "orange"), "data.colour"),
    ("unknown top-level field", {**H, "colour": "orange"}, "colour"),
    ("unknown location field", _with(H, "location.altitude", 300), "location.altitude"),
    ("bad county code", _with(H, "location.county_code", "522600"), "location.county_code"),
    ("county code too short", _with(H, "location.county_code", "52263"), "location.county_code"),
    ("bad GLN", _with(H, "location.gln", "6901234567891"), "location.gln"),
    ("latitude out of range", _with(H, "location.lat", 91), "location.lat"),
    ("time past year 9999 in UTC", {**H, "event_time": "9999-12-31T23:00:00-14:00"}, "event_time"),
    ("time before 1900", {**H, "event_time": "1899-12-31T23:00:00+00:00"}, "event_time"),
    (
        "integer beyond exact JSON range",
        {
            "type": "input_applied",
            "event_time": T,
            "data": {
                "input_name": "x",
                "dose": 1,
                "dose_unit": "kg",
                "pre_harvest_interval_days": 2**53,
            },
        },
        "data.pre_harvest_interval_days",
    ),
    ("packed fractional units", _with(packed(), "data.units", 1.5), "data.units"),
    ("packed huge units", _with(packed(), "data.units", 2**60), "data.units"),
    ("shipped without receiver", _with(shipped("x"), "data.to_org_id", None), "to_org_id"),
    ("stored without data", _with(stored(), "data", None), "data"),
    (
        "inspection result not pass/fail",
        {
            "type": "inspected",
            "event_time": T,
            "data": {"method": "GB 2763", "analytes": ["x"], "result": "maybe"},
        },
        "data.result",
    ),
    (
        "inspection without analytes",
        {
            "type": "inspected",
            "event_time": T,
            "data": {"method": "GB 2763", "analytes": [], "result": "pass"},
        },
        "data.analytes",
    ),
    (
        "negative correction seq",
        {"type": "correction", "event_time": T, "data": {"seq": -1, "reason": "x"}},
        "data.seq",
    ),
]


def test_event_bodies_are_validated(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    failures = []
    for name, body, field in EVENT_CASES:
        before = snapshot(world.engine)
        r = world.append(batch, world.coop, body)
        got = r.json()
        if (
            r.status_code != 422
            or got.get("error") != "ValidationError"
            or field not in got.get("detail", "")
            or snapshot(world.engine) != before
        ):
            failures.append(f"{name}: {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures)


def test_idempotency_key_header_is_validated(world: World) -> None:
    batch = world.new_batch()["id"]
    with unchanged(world.engine):
        r = world.append(batch, world.coop, stored(), headers={"Idempotency-Key": "k" * 201})
    assert_error(r, 422, "ValidationError", "idempotency-key")


REQUEST_CASES: list[tuple[str, str, str, str, Any, str]] = [
    # (name, caller, method, path, body, field named in the detail)
    ("GTIN check digit", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "L1", "product": "p", "gtin": "06901234567893"}, "gtin"),
    ("GTIN length", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "L1", "product": "p", "gtin": "690123456789"}, "gtin"),
    ("lot outside GS1 set 82", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "批次1", "product": "p"}, "lot"),
    ("lot with a space", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "LOT 1", "product": "p"}, "lot"),
    ("lot over 20 characters", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "L" * 21, "product": "p"}, "lot"),
    ("batch without product", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "L1"}, "product"),
    ("batch unknown field", "coop", "POST", "/v1/batches",
     {"brand": BRAND, "lot": "L1", "product": "p", "colour": "x"}, "colour"),
    ("credit code check character", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "cooperative", "credit_code": "91350100M000100Y44"}, "credit_code"),
    ("credit code length", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "cooperative", "credit_code": "91350100M000100Y4"}, "credit_code"),
    ("credit code letter I", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "cooperative", "credit_code": "91350100I000100Y43"}, "credit_code"),
    ("org county code", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "cooperative", "county_code": "12345"}, "county_code"),
    ("org province code", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "cooperative", "county_code": "520000"}, "county_code"),
    ("org kind", "admin", "POST", "/v1/orgs", {"name": "x", "kind": "farmer"}, "kind"),
    ("org empty name", "admin", "POST", "/v1/orgs", {"name": " ", "kind": "handler"}, "name"),
    ("org unknown field", "admin", "POST", "/v1/orgs",
     {"name": "x", "kind": "handler", "api_key": "mine"}, "api_key"),
    ("brand slug", "owner", "POST", "/v1/brands",
     {"slug": "Bad Slug", "name": "x", "category": "c", "county_codes": ["522632"]}, "slug"),
    ("brand county codes empty", "owner", "POST", "/v1/brands",
     {"slug": "ok", "name": "x", "category": "c", "county_codes": []}, "county_codes"),
    ("brand county code", "owner", "POST", "/v1/brands",
     {"slug": "ok", "name": "x", "category": "c", "county_codes": ["5226"]}, "county_codes.0"),
    ("brand threshold too large", "owner", "POST", "/v1/brands",
     {"slug": "ok", "name": "x", "category": "c", "county_codes": ["522632"],
      "scan_alert_threshold": 2**40}, "scan_alert_threshold"),
    ("brand status", "owner", "PATCH", f"/v1/brands/{BRAND}", {"status": "closed"}, "status"),
    ("brand unknown field", "owner", "PATCH", f"/v1/brands/{BRAND}",
     {"county_codes": ["520102"]}, "county_codes"),
    ("license dates reversed", "owner", "POST", f"/v1/brands/{BRAND}/licenses",
     {"org_id": "x", "valid_from": "2026-12-31", "valid_to": "2026-01-01",
      "annual_quota_kg": 1}, "valid_to"),
    ("license zero quota", "owner", "POST", f"/v1/brands/{BRAND}/licenses",
     {"org_id": "x", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
      "annual_quota_kg": 0}, "annual_quota_kg"),
    ("license date", "owner", "POST", f"/v1/brands/{BRAND}/licenses",
     {"org_id": "x", "valid_from": "2026-13-01", "valid_to": "2026-12-31",
      "annual_quota_kg": 1}, "valid_from"),
    ("list limit", "coop", "GET", "/v1/batches?limit=0", None, "limit"),
    ("list huge limit", "coop", "GET", f"/v1/batches?limit={10**20}", None, "limit"),
    ("list long cursor", "coop", "GET", f"/v1/batches?cursor={'x' * 600}", None, "cursor"),
    ("sync empty", "coop", "POST", "/v1/sync", {"items": []}, "items"),
    # Only a malformed request is refused whole; a malformed item gets its own result.
    ("sync not a list", "coop", "POST", "/v1/sync", {"items": {"batch_id": "b"}}, "items"),
    ("sync over 1000 items", "coop", "POST", "/v1/sync",
     {"items": [{"batch_id": "b", "idempotency_key": "k", "event": {}}] * 1001}, "items"),
]  # fmt: skip


def test_request_bodies_are_validated(world: World) -> None:
    failures = []
    for name, caller, method, path, body, field in REQUEST_CASES:
        before = snapshot(world.engine)
        r = world.call(method, path, world.orgs[caller], json=body)
        got = r.json()
        if (
            r.status_code != 422
            or got.get("error") != "ValidationError"
            or field not in got.get("detail", "")
            or snapshot(world.engine) != before
        ):
            failures.append(f"{name}: {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures)


def test_valid_credit_code_is_accepted(world: World) -> None:
    body = {"name": "Fuzhou co-op", "kind": "cooperative", "credit_code": "91350100m000100y43"}
    r = world.call("POST", "/v1/orgs", world.admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["credit_code"] == "91350100M000100Y43"
    with unchanged(world.engine):
        r = world.call("POST", "/v1/orgs", world.admin, json={**body, "name": "again"})
    assert_error(r, 409, "Conflict", "91350100M000100Y43")


def test_nul_characters_never_reach_the_database_as_a_500(world: World) -> None:
    """PostgreSQL cannot store or compare text with NUL; that is the client's 422 (or a
    plain 404 on SQLite, which can), never a server error."""
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested())
    calls = [
        ("POST", "/v1/orgs", world.admin, {"name": "a\x00b", "kind": "handler"}, {}),
        ("GET", "/v1/batches/a%00b", world.coop, None, {}),
        ("GET", "/v1/brands/a%00b", None, None, {}),
        ("GET", "/v1/batches?brand=a%00b", world.coop, None, {}),
        ("POST", f"/v1/batches/{batch}/events", world.coop, shipped("a\x00"), {}),
        ("POST", f"/v1/batches/{batch}/events", world.coop, stored(), {"Idempotency-Key": "k\x00"}),
        (
            "POST",
            f"/v1/brands/{BRAND}/licenses",
            world.owner,
            {"org_id": "a\x00", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
             "annual_quota_kg": 1},
            {},
        ),
    ]  # fmt: skip
    for method, path, org, body, headers in calls:
        before = snapshot(world.engine)
        r = world.call(method, path, org, json=body, headers=headers)
        assert r.status_code < 500, (path, r.text)
        if r.status_code >= 400:
            assert snapshot(world.engine) == before
            assert r.json()["error"] in ("InvalidInput", "OrgNotFound", "BatchNotFound",
                                         "BrandNotFound", "ValidationError"), r.text  # fmt: skip
    # In an offline outbox the bad item is rejected on its own; the good one still lands.
    items = [
        {"batch_id": batch, "idempotency_key": "nul-1", "event": shipped("a\x00")},
        {"batch_id": batch, "idempotency_key": "nul-2", "event": stored()},
    ]
    r = world.call("POST", "/v1/sync", world.coop, json={"items": items})
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "rejected"
    assert first["status_code"] == 422
    assert second["status"] == "created"


# --- fuzzing --------------------------------------------------------------------------

# Values at the edges of what JSON, the hash, Python and the databases can hold.
EDGE_VALUES = st.sampled_from(
    [0, -1, 2**31, 2**53, 2**63, 10**20, -(10**20), 1e308, -0.0, 5e-324, "", " ", "\x00",
     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "x" * 600, [], {}, True]
)  # fmt: skip
JSON_VALUES = EDGE_VALUES | st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _leaf_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            paths += _leaf_paths(child, (*prefix, i))
    return paths


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """A valid body with one or two of its parts (rarely the whole) replaced by random JSON."""
    body = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 2))):
        paths = _leaf_paths(body)
        leaves = [p for p in paths if p and not isinstance(_get(body, p), dict | list)]
        path = draw(st.sampled_from(leaves or paths) if draw(st.integers(0, 9)) else st.just(()))
        value = draw(JSON_VALUES)
        if not path:
            return value
        node = body
        for key in path[:-1]:
            node = node[key]
        if isinstance(node, dict | list):
            node[path[-1]] = value
    return body


def _targets(world: World, batch: str) -> list[tuple[str, str, Any, Any]]:
    return [
        ("POST", f"/v1/batches/{batch}/events", world.coop, harvested(10)),
        ("POST", f"/v1/batches/{batch}/events", world.coop, packed(1, 1)),
        ("POST", f"/v1/batches/{batch}/events", world.coop, shipped(world.handler.id, 1)),
        ("POST", f"/v1/batches/{batch}/events", world.coop,
         {"type": "correction", "event_time": T,
          "data": {"seq": 1, "reason": "x", "corrected_data": harvested(9)["data"]}}),
        ("POST", f"/v1/batches/{batch}/events", world.coop,
         {"type": "input_applied", "event_time": T,
          "data": {"input_name": "compost", "dose": 2, "dose_unit": "t/ha",
                   "pre_harvest_interval_days": 60},
          "location": {"county_code": "522632", "lat": 26.0, "lon": 108.5,
                       "gln": "6901234567892"}}),
        ("POST", "/v1/sync", world.coop,
         {"items": [{"batch_id": batch, "idempotency_key": "fz", "event": stored()}]}),
        ("POST", "/v1/batches", world.coop,
         {"brand": BRAND, "lot": "FUZZ-1", "product": "p", "gtin": "06901234567892"}),
        ("POST", "/v1/orgs", world.admin,
         {"name": "n", "kind": "handler", "county_code": "522632",
          "credit_code": "91350100M000100Y43"}),
        ("POST", "/v1/brands", world.owner,
         {"slug": "fz", "name": "n", "category": "c", "county_codes": ["522632"],
          "scan_alert_threshold": 5}),
        ("PATCH", f"/v1/brands/{BRAND}", world.owner, {"scan_alert_threshold": 5}),
        ("POST", f"/v1/brands/{BRAND}/licenses", world.owner,
         {"org_id": world.coop2.id, "valid_from": "2040-01-01", "valid_to": "2040-12-31",
          "annual_quota_kg": 10}),
    ]  # fmt: skip


def test_garbage_bodies_never_cause_a_server_error(world: World) -> None:
    batch = world.new_batch()["id"]
    world.ok(batch, world.coop, harvested(1000))
    targets = _targets(world, batch)
    raw_bodies = [b"", b"{", b"[]", b"null", b"[1, 2]", b'"text"', b"1e999", b"{\"type\": NaN}",
                  b"\xff\xfe", json.dumps({"a": 10**400}).encode()]  # fmt: skip

    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        method, path, org, template = data.draw(st.sampled_from(targets))
        if data.draw(st.integers(0, 9)) == 0:
            content = data.draw(st.sampled_from(raw_bodies) | st.binary(max_size=40))
        else:
            content = json.dumps(data.draw(mutated(template))).encode()
        r = world.call(
            method, path, org, content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code < 500, r.text
        assert set(r.json()) == {"error", "detail"} or r.status_code < 300

    fuzz()
    r = world.call("GET", f"/v1/batches/{batch}/audit", world.regulator)
    assert r.json()["intact"] is True, r.json()


def test_garbage_in_paths_and_queries_never_causes_a_server_error(world: World) -> None:
    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(
        text=st.text(max_size=30),
        number=st.integers(min_value=-(2**70), max_value=2**70),
        template=st.sampled_from(
            [
                "/v1/batches/{t}",
                "/v1/batches/{t}/events",
                "/v1/batches/{t}/audit",
                "/v1/brands/{t}",
                "/v1/brands/{t}/licenses",
                "/v1/batches?brand={t}&limit={n}",
                "/v1/batches?cursor={t}",
                "/v1/batches/{t}/events?cursor={t}",
                "/v1/audit/alerts?cursor={t}&limit={n}",
            ]
        ),
    )
    def fuzz(text: str, number: int, template: str) -> None:
        path = template.format(t=quote(text, safe=""), n=number)
        r = world.call("GET", path, world.regulator)
        assert r.status_code < 500, (path, r.text)

    fuzz()


def test_framework_refusals_use_the_error_shape(world: World) -> None:
    batch = world.new_batch()["id"]
    cases = [
        ("GET", "/v1/no-such-route", None, 404, "NotFound"),
        ("DELETE", f"/v1/batches/{batch}", None, 405, "MethodNotAllowed"),
        ("POST", f"/v1/batches/{batch}/events", b"\x00" * 13, 400, "BadRequest"),
    ]
    for method, path, content, status, error in cases:
        with unchanged(world.engine):
            r = world.call(
                method, path, world.coop, content=content,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
        assert_error(r, status, error)
