"""A rich scenario for the regulator tools, built through the HTTP API: two brands, three
cooperatives, a two-hop handler chain, a correction, a recall, a refused quota breach and
every event type. The right answers are worked out by hand in the tests that use it.

Brand A (rongjiang-navel-orange, quota 20,000 kg a year for coop and coop2):
  A1 (coop): input_applied; harvested 6,000 kg; inspected pass (certificate CERT-1);
     cooled; packed 1,000 x 5 kg; labeled 100; stored; shipped 600 box (3,000 kg) to
     handler (WB-001); handler received 600 box; handler shipped 400 box (2,000 kg) to
     handler2 (WB-002); handler2 received 400 box; handler2 sold 100 box (500 kg).
  A2 (coop): harvested 10,000 kg; correction -> 9,000 kg; a further 6,000 kg harvest is
     refused (9,000 + 6,000 + 6,000 > 20,000); packed 400 x 10 kg; shipped 100 unit
     (1,000 kg) to handler, still in transit.
  A3 (coop2): harvested 2,000 kg; inspected fail; recalled by the brand owner.
Brand B (wuchang-rice, owner2, quota 50,000 kg for coop3):
  B1 (coop3): harvested 30,000 kg; packed 3,000 x 10 kg; shipped 3,000 bag to handler;
     handler received 3,000 bag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import BRAND, COUNTY, GTIN, Org, World, build_world

YEAR = date.today().year - 1  # inside the factory's licences, always in the past
BRAND_B = "wuchang-rice"
COUNTY_B = "230184"
GTIN_B = "06901234567885"


def at(day: str, clock: str = "08:00:00") -> str:
    return f"{YEAR}-{day}T{clock}+08:00"


def ev(type_: str, day: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "event_time": at(day), "data": data, **extra}


def harvest(kg: float, day: str, county: str = COUNTY) -> dict[str, Any]:
    return ev(
        "harvested",
        day,
        {"quantity": kg, "unit": "kg", "harvest_date": f"{YEAR}-{day}", "plot": "P-1"},
        location={"county_code": county, "place": "plot P-1"},
    )


@dataclass
class Scenario:
    world: World
    a1: str
    a2: str
    a3: str
    b1: str
    lot_a1: str
    run_a1: str
    refused_harvest: Any  # the refused quota breach's response

    @property
    def engine(self) -> Engine:
        return self.world.engine


def build_scenario(client: TestClient, engine: Engine) -> Scenario:
    w = build_world(client, engine, quota_kg=20_000)
    r = w.call(
        "POST", "/v1/orgs", w.admin, json={"name": "五常稻花香合作社", "kind": "cooperative"}
    )
    assert r.status_code == 201, r.text
    w.orgs["coop3"] = Org(r.json()["id"], "cooperative", r.json()["api_key"])
    r = w.call(
        "POST",
        "/v1/brands",
        w.owner2,
        json={
            "slug": BRAND_B,
            "name": "Wuchang Rice",
            "name_local": "五常大米",
            "category": "rice",
            "county_codes": [COUNTY_B],
        },
    )
    assert r.status_code == 201, r.text
    r = w.call(
        "POST",
        f"/v1/brands/{BRAND_B}/licenses",
        w.owner2,
        json={
            "org_id": w.coop3.id,
            "valid_from": f"{YEAR}-01-01",
            "valid_to": f"{YEAR + 1}-12-31",
            "annual_quota_kg": 50_000,
        },
    )
    assert r.status_code == 201, r.text

    lot_a1 = f"A1-{YEAR}"
    a1 = w.new_batch(lot=lot_a1, variety="Newhall")["id"]
    w.ok(
        a1,
        w.coop,
        ev("input_applied", "09-01", {"input_name": "urea", "dose": 20, "dose_unit": "kg/mu"}),
    )
    w.ok(a1, w.coop, harvest(6000, "11-10"))
    w.ok(
        a1,
        w.coop,
        ev(
            "inspected",
            "11-11",
            {
                "method": "GB 2763",
                "analytes": ["chlorpyrifos"],
                "result": "pass",
                "lab": "Qiandongnan lab",
                "certificate_ref": "CERT-1",
            },
        ),
    )
    w.ok(a1, w.coop, ev("cooled", "11-11", {"place": "pre-cooling room", "temperature_c": 5}))
    w.ok(a1, w.coop, ev("packed", "11-12", {"units": 1000, "unit_size": 5, "unit": "kg"}))
    r = w.call("POST", f"/v1/batches/{a1}/labels", w.coop, json={"count": 100})
    assert r.status_code == 201, r.text
    run_a1 = r.json()["run_id"]
    w.ok(a1, w.coop, ev("stored", "11-13", {"place": "cold store 3"}))
    w.ok(
        a1,
        w.coop,
        ev(
            "shipped",
            "11-14",
            {"quantity": 600, "unit": "box", "to_org_id": w.handler.id, "reference_doc": "WB-001"},
        ),
    )
    w.ok(
        a1,
        w.handler,
        ev(
            "received",
            "11-15",
            {"quantity": 600, "unit": "box", "from_org_id": w.coop.id, "reference_doc": "WB-001"},
        ),
    )
    w.ok(
        a1,
        w.handler,
        ev(
            "shipped",
            "11-16",
            {"quantity": 400, "unit": "box", "to_org_id": w.handler2.id, "reference_doc": "WB-002"},
        ),
    )
    w.ok(
        a1,
        w.handler2,
        ev("received", "11-17", {"quantity": 400, "unit": "box", "from_org_id": w.handler.id}),
    )
    w.ok(
        a1,
        w.handler2,
        ev("sold", "11-18", {"channel": "supermarket", "quantity": 100, "unit": "box"}),
    )

    a2 = w.new_batch(lot=f"A2-{YEAR}")["id"]
    first = w.ok(a2, w.coop, harvest(10_000, "11-12"))
    corrected = harvest(9000, "11-12")["data"]
    w.ok(
        a2,
        w.coop,
        ev(
            "correction",
            "11-13",
            {"seq": first["seq"], "reason": "scale not tared", "corrected_data": corrected},
        ),
    )
    refused = w.append(a2, w.coop, harvest(6000, "11-13"))
    w.ok(a2, w.coop, ev("packed", "11-14", {"units": 400, "unit_size": 10, "unit": "kg"}))
    w.ok(
        a2,
        w.coop,
        ev("shipped", "11-15", {"quantity": 100, "unit": "unit", "to_org_id": w.handler.id}),
    )

    a3 = w.new_batch(w.coop2, lot=f"A3-{YEAR}")["id"]
    w.ok(a3, w.coop2, harvest(2000, "10-01"))
    w.ok(
        a3,
        w.coop2,
        ev(
            "inspected",
            "10-02",
            {"method": "GB 2763", "analytes": ["imidacloprid"], "result": "fail"},
        ),
    )
    w.ok(
        a3,
        w.owner,
        ev("recalled", "10-03", {"reason": "residue above limit", "scope": "whole lot"}),
    )

    b1 = w.new_batch(w.coop3, brand=BRAND_B, lot=f"B1-{YEAR}", product="rice", gtin=GTIN_B)["id"]
    w.ok(b1, w.coop3, harvest(30_000, "10-05", county=COUNTY_B))
    w.ok(b1, w.coop3, ev("packed", "10-06", {"units": 3000, "unit_size": 10, "unit": "kg"}))
    w.ok(
        b1,
        w.coop3,
        ev("shipped", "10-07", {"quantity": 3000, "unit": "bag", "to_org_id": w.handler.id}),
    )
    w.ok(
        b1,
        w.handler,
        ev("received", "10-08", {"quantity": 3000, "unit": "bag", "from_org_id": w.coop3.id}),
    )
    return Scenario(w, a1, a2, a3, b1, lot_a1, run_a1, refused)


__all__ = ["BRAND", "GTIN", "Scenario", "build_scenario"]
