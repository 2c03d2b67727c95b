"""Builders for test data, through the real service layer and HTTP API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine

from registry.core.db import unit_of_work
from registry.orgs.models import OrgKind
from registry.orgs.service import create_org

COUNTY = "522632"
BRAND = "rongjiang-navel-orange"
GTIN = "06901234567892"
_lots = itertools.count(1)


@dataclass
class Org:
    id: str
    kind: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class World:
    client: TestClient
    engine: Engine
    orgs: dict[str, Org] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Org:
        try:
            return self.__dict__["orgs"][name]
        except KeyError:
            raise AttributeError(name) from None

    def call(self, method: str, path: str, org: Org | None = None, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if org is not None:
            headers.update(org.auth)
        return self.client.request(method, path, headers=headers, **kwargs)

    def new_batch(self, coop: Org | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "brand": BRAND,
            "lot": f"LOT-{next(_lots)}",
            "product": "navel orange",
            "gtin": GTIN,
            **fields,
        }
        r = self.call("POST", "/v1/batches", coop or self.coop, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def append(self, batch_id: str, org: Org, event: dict[str, Any], **kwargs: Any) -> Response:
        return self.call("POST", f"/v1/batches/{batch_id}/events", org, json=event, **kwargs)

    def ok(self, batch_id: str, org: Org, event: dict[str, Any]) -> dict[str, Any]:
        r = self.append(batch_id, org, event)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def events(self, batch_id: str, org: Org) -> list[dict[str, Any]]:
        """The whole chain as the API serves it, following `next_cursor` page by page."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            r = self.call("GET", f"/v1/batches/{batch_id}/events", org, params=params)
            assert r.status_code == 200, r.text
            found += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return found


def harvested(kg: float = 5000, *, county: str = COUNTY, day: str = "2026-11-20") -> dict[str, Any]:
    return {
        "type": "harvested",
        "event_time": f"{day}T08:30:00+08:00",
        "location": {"county_code": county, "place": "plot A-12"},
        "data": {"quantity": kg, "unit": "kg", "harvest_date": day, "plot": "A-12"},
    }


def packed(units: int = 1000, unit_size: float = 5) -> dict[str, Any]:
    return {
        "type": "packed",
        "event_time": "2026-11-21T09:00:00+08:00",
        "data": {"units": units, "unit_size": unit_size, "unit": "kg"},
    }


def shipped(to_org_id: str, quantity: float = 1000, unit: str = "box") -> dict[str, Any]:
    return {
        "type": "shipped",
        "event_time": "2026-11-22T07:00:00+08:00",
        "data": {"quantity": quantity, "unit": unit, "to_org_id": to_org_id},
    }


def received(from_org_id: str, quantity: float = 1000, unit: str = "box") -> dict[str, Any]:
    return {
        "type": "received",
        "event_time": "2026-11-22T18:00:00+08:00",
        "data": {"quantity": quantity, "unit": unit, "from_org_id": from_org_id},
    }


def stored(place: str = "cold store 3") -> dict[str, Any]:
    return {"type": "stored", "event_time": "2026-11-23T08:00:00+08:00", "data": {"place": place}}


def recalled() -> dict[str, Any]:
    return {
        "type": "recalled",
        "event_time": "2026-11-24T08:00:00+08:00",
        "data": {"reason": "pesticide residue above limit", "scope": "whole lot"},
    }


def build_world(client: TestClient, engine: Engine, *, quota_kg: float = 200_000) -> World:
    world = World(client, engine)
    with unit_of_work(engine, write=True) as session:
        org, key = create_org(session, name="Registry admin", kind=OrgKind.admin)
        world.orgs["admin"] = Org(org.id, "admin", key)
    for name, kind, county in [
        ("owner", "brand_owner", COUNTY),
        ("coop", "cooperative", COUNTY),
        ("coop2", "cooperative", COUNTY),
        ("handler", "handler", None),
        ("handler2", "handler", None),
        ("regulator", "regulator", None),
        ("platform", "platform", None),
        ("owner2", "brand_owner", "522601"),
    ]:
        body = {"name": f"{name} org", "kind": kind}
        if county:
            body["county_code"] = county
        r = world.call("POST", "/v1/orgs", world.admin, json=body)
        assert r.status_code == 201, r.text
        world.orgs[name] = Org(r.json()["id"], kind, r.json()["api_key"])
    r = world.call(
        "POST",
        "/v1/brands",
        world.owner,
        json={
            "slug": BRAND,
            "name": "Rongjiang Navel Orange",
            "name_local": "榕江脐橙",
            "category": "navel orange",
            "county_codes": [COUNTY],
        },
    )
    assert r.status_code == 201, r.text
    today = date.today()
    for coop in ("coop", "coop2"):
        r = world.call(
            "POST",
            f"/v1/brands/{BRAND}/licenses",
            world.owner,
            json={
                "org_id": world.orgs[coop].id,
                "valid_from": f"{today.year - 1}-01-01",
                "valid_to": f"{today.year + 1}-12-31",
                "annual_quota_kg": quota_kg,
            },
        )
        assert r.status_code == 201, r.text
    return world


def issue_labels(world: World, batch_id: str, count: int, coop: Org | None = None) -> Response:
    return world.call(
        "POST", f"/v1/batches/{batch_id}/labels", coop or world.coop, json={"count": count}
    )


def labeled_batch(
    world: World,
    *,
    units: int = 100,
    count: int = 20,
    coop: Org | None = None,
    ship: bool = True,
    **fields: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A harvested, packed batch with one label run; returns (batch, run) as the API gave them.

    With `ship` (the default) one box has left for the handler, as when labeled goods reach
    shops: scans of a batch that never shipped are a clone signal. The cooperative keeps the
    rest, so it can go on appending events."""
    coop = coop or world.coop
    batch = world.new_batch(coop, **fields)
    world.ok(batch["id"], coop, harvested())
    world.ok(batch["id"], coop, packed(units=units))
    r = issue_labels(world, batch["id"], count, coop)
    assert r.status_code == 201, r.text
    if ship:
        world.ok(batch["id"], coop, shipped(world.handler.id, quantity=1))
    return batch, dict(r.json())


def label_codes(world: World, run_id: str, org: Org | None = None, **params: Any) -> list[str]:
    """The label URLs of a run (first page of up to 10,000)."""
    params.setdefault("limit", 10_000)
    r = world.call("GET", f"/v1/labels/runs/{run_id}/codes", org or world.coop, params=params)
    assert r.status_code == 200, r.text
    return [code["url"] for code in r.json()["items"]]
