"""Who may call what: every route of orgs, brands and batches against every kind of caller.

Each row is one endpoint; each cell is the status and error class a caller gets. A refused
call (and any call that is not meant to write) must leave the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from fastapi.routing import APIRoute

from registry.audit.router import router as audit_router
from registry.batches.router import router as batches_router
from registry.brands.router import router as brands_router
from registry.orgs.router import router as orgs_router
from tests.dbtools import snapshot
from tests.factories import BRAND, World, harvested, stored

KINDS = ("admin", "owner", "coop", "handler", "platform", "regulator", "owner2")
CALLERS = (*KINDS, "no_key", "bad_key")


@dataclass(frozen=True)
class Outcome:
    status: int
    error: str | None = None
    writes: bool = False


OK = Outcome(200)
CREATED = Outcome(201, writes=True)
UPDATED = Outcome(200, writes=True)
FORBIDDEN = Outcome(403, "Forbidden")
NOT_CUSTODIAN = Outcome(403, "NotCustodian")
NOT_OWNER = Outcome(403, "NotBrandOwner")
NO_KEY = Outcome(401, "Unauthorized")
BAD_KEY = Outcome(401, "InvalidApiKey")


@dataclass
class Ctx:
    world: World
    batch_id: str
    license_id: str


Body = Callable[[Ctx, str], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    cells: dict[str, Outcome]
    body: Body | None = None
    check: Callable[[Ctx, str, Any], None] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def cells(default: Outcome, *, public: bool = False, **per_caller: Outcome) -> dict[str, Outcome]:
    table = dict.fromkeys(KINDS, default)
    table.update(per_caller)
    # Public routes ignore the Authorization header entirely.
    table["no_key"] = OK if public else NO_KEY
    table["bad_key"] = OK if public else BAD_KEY
    return table


def _sync_body(ctx: Ctx, caller: str) -> dict[str, Any]:
    return {
        "items": [
            {"batch_id": ctx.batch_id, "idempotency_key": f"sync-{caller}", "event": stored()}
        ]
    }


def _sync_check(ctx: Ctx, caller: str, body: Any) -> None:
    (item,) = body["results"]
    if caller == "coop":
        assert (item["status"], item["status_code"]) == ("created", 201)
    else:
        assert (item["status"], item["status_code"], item["error"]) == (
            "rejected",
            403,
            "NotCustodian",
        )


READERS = {"admin": OK, "owner": OK, "coop": OK, "regulator": OK}
# Audit answers are read-only; a handler sees the brand-wide ones limited to its batches.
AUDITORS = {**READERS, "handler": OK}
YEAR = date.today().year

ENDPOINTS = [
    Endpoint("GET", "/v1/orgs/me", cells(OK)),
    Endpoint(
        "POST",
        "/v1/orgs",
        cells(FORBIDDEN, admin=CREATED),
        body=lambda ctx, caller: {"name": f"made by {caller}", "kind": "handler"},
    ),
    Endpoint("POST", "/v1/orgs/{coop}/keys", cells(FORBIDDEN, admin=CREATED)),
    Endpoint("GET", "/v1/brands", cells(OK, public=True)),
    Endpoint(
        "POST",
        "/v1/brands",
        cells(FORBIDDEN, owner=CREATED, owner2=CREATED),
        body=lambda ctx, caller: {
            "slug": f"brand-by-{caller.replace('_', '-')}",
            "name": "Another brand",
            "category": "rice",
            "county_codes": ["230184"],
        },
    ),
    Endpoint("GET", "/v1/brands/{brand}", cells(OK, public=True)),
    Endpoint(
        "PATCH",
        "/v1/brands/{brand}",
        cells(FORBIDDEN, owner=UPDATED, owner2=NOT_OWNER),
        body=lambda ctx, caller: {"description": f"edited by {caller}"},
    ),
    Endpoint(
        "POST",
        "/v1/brands/{brand}/licenses",
        cells(FORBIDDEN, owner=CREATED, owner2=NOT_OWNER),
        body=lambda ctx, caller: {
            "org_id": ctx.world.coop2.id,
            "valid_from": "2040-01-01",  # after the factory's licenses (no overlap)
            "valid_to": "2040-12-31",
            "annual_quota_kg": 1000,
        },
    ),
    Endpoint("GET", "/v1/brands/{brand}/licenses", cells(FORBIDDEN, **READERS)),
    Endpoint(
        "POST",
        "/v1/brands/{brand}/licenses/{license}/revoke",
        cells(FORBIDDEN, owner=UPDATED, owner2=NOT_OWNER),
    ),
    Endpoint(
        "POST",
        "/v1/batches",
        cells(FORBIDDEN, coop=CREATED),
        body=lambda ctx, caller: {
            "brand": BRAND,
            "lot": f"AUTHZ-{caller}",
            "product": "navel orange",
        },
    ),
    Endpoint("GET", "/v1/batches", cells(OK, platform=FORBIDDEN)),
    Endpoint("GET", "/v1/batches/{batch}", cells(FORBIDDEN, **READERS)),
    Endpoint(
        "POST",
        "/v1/batches/{batch}/events",
        cells(NOT_CUSTODIAN, admin=FORBIDDEN, platform=FORBIDDEN, coop=CREATED),
        body=lambda ctx, caller: stored(f"store of {caller}"),
    ),
    Endpoint("GET", "/v1/batches/{batch}/events", cells(FORBIDDEN, **READERS)),
    Endpoint("GET", "/v1/batches/{batch}/audit", cells(FORBIDDEN, **READERS)),
    Endpoint(
        "POST",
        "/v1/sync",
        cells(OK, admin=FORBIDDEN, platform=FORBIDDEN, coop=UPDATED),
        body=_sync_body,
        check=_sync_check,
    ),
    Endpoint("GET", f"/v1/audit/export?brand={BRAND}", cells(FORBIDDEN, **AUDITORS)),
    Endpoint("GET", "/v1/audit/trace?batch_id={batch}", cells(FORBIDDEN, **READERS)),
    Endpoint(
        "GET", f"/v1/audit/mass-balance?brand={BRAND}&year={YEAR}", cells(FORBIDDEN, **AUDITORS)
    ),
    # Another brand's owner sees an empty list (its own brands' alerts only).
    Endpoint("GET", "/v1/audit/alerts", cells(FORBIDDEN, **AUDITORS, owner2=OK)),
]


def test_matrix_covers_every_route() -> None:
    """A new route in orgs/brands/batches must get a row here."""
    routes = {
        f"{method} {route.path}"
        for router in (orgs_router, brands_router, batches_router, audit_router)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    covered = {
        f"{e.method} "
        + e.path.split("?")[0]
        .replace("{coop}", "{org_id}")
        .replace("{brand}", "{slug}")
        .replace("{license}", "{license_id}")
        .replace("{batch}", "{batch_id}")
        for e in ENDPOINTS
    }
    assert routes == covered


def _caller_headers(world: World, caller: str) -> dict[str, str]:
    if caller == "no_key":
        return {}
    if caller == "bad_key":
        return {"Authorization": "Bearer ork_not-a-key-the-registry-ever-issued"}
    return world.orgs[caller].auth


def matrix_context(world: World) -> Ctx:
    """A batch with a harvest and a second licence: what every endpoint of the matrix names."""
    batch_id = world.new_batch()["id"]
    world.ok(batch_id, world.coop, harvested())
    r = world.call(
        "POST",
        f"/v1/brands/{BRAND}/licenses",
        world.owner,
        json={
            "org_id": world.coop2.id,
            "valid_from": "2041-01-01",
            "valid_to": "2041-06-30",
            "annual_quota_kg": 500,
        },
    )
    ctx = Ctx(world, batch_id, r.json()["id"])
    return ctx


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_authorization_matrix(world: World, endpoint: Endpoint) -> None:
    ctx = matrix_context(world)
    batch_id = ctx.batch_id
    path = endpoint.path.format(
        coop=world.coop.id, brand=BRAND, license=ctx.license_id, batch=batch_id
    )
    mismatches = []
    for caller in CALLERS:
        expected = endpoint.cells[caller]
        before = snapshot(world.engine)
        kwargs: dict[str, Any] = {}
        if endpoint.body is not None:
            kwargs["json"] = endpoint.body(ctx, caller)
        r = world.client.request(
            endpoint.method, path, headers=_caller_headers(world, caller), **kwargs
        )
        body = r.json()
        got_error = body.get("error") if isinstance(body, dict) else None
        changed = snapshot(world.engine) != before
        got = (r.status_code, got_error if r.status_code >= 400 else None, changed)
        if got != (expected.status, expected.error, expected.writes):
            mismatches.append(f"{caller}: expected {expected}, got {got}: {r.text[:200]}")
            continue
        if r.status_code == 401:
            assert r.headers["www-authenticate"] == "Bearer"
            assert set(body) == {"error", "detail"}
        if endpoint.check is not None and r.status_code < 300:
            endpoint.check(ctx, caller, body)
    assert not mismatches, "\n".join(mismatches)
