"""GET /v1/audit/mass-balance: the scenario's numbers worked out by hand, and the places
that do not reconcile when data reached a chain without passing the rules."""

from __future__ import annotations

import csv
import io
from typing import Any

from registry.batches.models import Batch
from registry.batches.service import _write
from registry.core.db import unit_of_work
from registry.orgs.models import Organization
from tests.audit.scenario import YEAR, Scenario
from tests.dbtools import assert_error
from tests.factories import BRAND

TOTAL_FIELDS = (
    "harvested_kg",
    "packed_units",
    "packed_kg",
    "labels_issued",
    "shipped_kg",
    "received_kg",
    "sold_kg",
)


def _report(s: Scenario, org: Any, **params: Any) -> dict[str, Any]:
    r = s.world.call(
        "GET", "/v1/audit/mass-balance", org, params={"brand": BRAND, "year": YEAR, **params}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _totals(body: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(body[k] for k in TOTAL_FIELDS)


def test_brand_mass_balance_by_hand(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    report = _report(s, w.regulator)
    assert (report["brand"], report["year"], report["reconciles"]) == (BRAND, YEAR, True)
    assert report["discrepancies"] == []
    coops = {c["org"]["id"]: c for c in report["cooperatives"]}
    assert set(coops) == {w.coop.id, w.coop2.id}  # brand B's coop3 is another brand's
    coop = coops[w.coop.id]
    # A1 6,000 + A2 9,000 (corrected from 10,000; the 6,000 kg breach was refused)
    assert (coop["quota_kg"], coop["quota_used_kg"]) == (20_000, 15_000)
    # packed 1,000 + 400 units = 5,000 + 4,000 kg; shipped 3,000 + 2,000 (A1's two hops)
    # + 1,000 (A2); received 3,000 + 2,000; sold 500.
    assert _totals(coop["totals"]) == (15_000, 1400, 9000, 100, 6000, 5000, 500)
    batches = {b["batch_id"]: b for b in coop["batches"]}
    a1, a2 = batches[s.a1], batches[s.a2]
    assert _totals(a1) == (6000, 1000, 5000, 100, 5000, 5000, 500)
    assert (a1["in_transit_kg"], a1["recalled"]) == (0, False)
    assert a1["held_kg"] == {w.coop.id: 3000, w.handler.id: 1000, w.handler2.id: 1500}
    assert _totals(a2) == (9000, 400, 4000, 0, 1000, 0, 0)
    assert a2["in_transit_kg"] == 1000
    coop2 = coops[w.coop2.id]
    assert (coop2["quota_kg"], coop2["quota_used_kg"]) == (20_000, 2000)
    (a3,) = coop2["batches"]
    assert (a3["batch_id"], a3["harvested_kg"], a3["recalled"]) == (s.a3, 2000, True)


def test_other_years_and_the_csv_form(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    assert _report(s, w.regulator, year=YEAR - 1)["cooperatives"] == []
    r = w.call(
        "GET",
        "/v1/audit/mass-balance",
        w.owner,
        params={"brand": BRAND, "year": YEAR, "format": "csv"},
    )
    assert r.status_code == 200, r.text
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    by_batch = {row["Batch ID"]: row for row in rows if row["Row"] == "batch"}
    assert by_batch[s.a1]["Labels issued"] == "100"
    assert by_batch[s.a2]["In transit kg"] == "1000"
    coop_rows = {row["Cooperative ID"]: row for row in rows if row["Row"] == "cooperative"}
    assert (coop_rows[w.coop.id]["Quota kg"], coop_rows[w.coop.id]["Quota used kg"]) == (
        "20000",
        "15000",
    )


def _force(s: Scenario, batch_id: str, org_id: str, type_: str, data: dict[str, Any]) -> int:
    """Append an event below the rules (as data from before a rule existed would be)."""
    with unit_of_work(s.engine, write=True) as session:
        batch = session.get(Batch, batch_id)
        actor = session.get(Organization, org_id)
        assert batch is not None
        assert actor is not None
        event = _write(
            session,
            batch,
            type=type_,
            data=data,
            location={"county_code": "522632"} if type_ == "harvested" else None,
            event_time=batch.updated_at,
            actor=actor,
        )
        return event.seq


def test_every_place_that_does_not_reconcile(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    labels = _force(
        s,
        s.a2,
        w.coop.id,
        "labeled",
        {
            "run_id": "x",
            "first_serial": "00000001",
            "last_serial": "00000500",
            "count": 500,
            "key_id": "abcd",
        },
    )
    stray = _force(
        s,
        s.a2,
        w.handler2.id,
        "received",
        {"quantity": 50, "unit": "unit", "from_org_id": w.handler.id},
    )
    extra = _force(
        s,
        s.a2,
        w.coop.id,
        "harvested",
        {"quantity": 6000, "unit": "kg", "harvest_date": f"{YEAR}-11-20"},
    )
    over = _force(s, s.a2, w.coop.id, "packed", {"units": 2000, "unit_size": 10, "unit": "kg"})
    report = _report(s, w.regulator)
    assert report["reconciles"] is False
    found = {(d["kind"], tuple(e["seq"] for e in d["events"])): d for d in report["discrepancies"]}
    # 400 units packed, 500 labels asked for.
    d = found[("labels_beyond_packed", (labels,))]
    assert d["numbers"] == {"labels": 500, "packed_units": 400, "labels_already_issued": 0}
    # handler2 receives 50 units (500 kg) the handler never shipped to it.
    d = found[("received_without_shipment", (stray,))]
    assert d["numbers"] == {"kg": 500, "in_transit_kg": 0}
    # 20,000 kg packing against 15,000 harvested (9,000 + 6,000), 4,000 already packed.
    d = found[("packed_beyond_harvested", (over,))]
    assert d["numbers"] == {"packing_kg": 20_000, "harvested_kg": 15_000, "already_packed_kg": 4000}
    # 6,000 + 9,000 + 6,000 = 21,000 kg against a 20,000 kg quota, with every harvest.
    (quota,) = [d for d in report["discrepancies"] if d["kind"] == "quota_exceeded"]
    assert quota["numbers"] == {"harvested_kg": 21_000, "quota_kg": 20_000}
    assert {(e["batch_id"], e["seq"]) for e in quota["events"]} == {
        (s.a1, 2),
        (s.a2, 1),
        (s.a2, extra),
    }
    assert len(report["discrepancies"]) == 4


def test_mass_balance_refusals(scenario: Scenario) -> None:
    w = scenario.world
    r = w.call("GET", "/v1/audit/mass-balance", w.owner2, params={"brand": BRAND, "year": YEAR})
    assert_error(r, 403, "Forbidden", BRAND)
    r = w.call("GET", "/v1/audit/mass-balance", w.regulator, params={"brand": "nope", "year": 1})
    assert_error(r, 422, "ValidationError")
    r = w.call("GET", "/v1/audit/mass-balance", w.regulator, params={"brand": "nope", "year": YEAR})
    assert_error(r, 404, "BrandNotFound")
