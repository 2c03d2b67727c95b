"""GET /v1/audit/trace against the scenario's answers worked out by hand."""

from __future__ import annotations

from typing import Any

from tests.audit.scenario import YEAR, Scenario
from tests.dbtools import assert_error
from tests.factories import GTIN


def _hop(body: dict[str, Any]) -> tuple[Any, ...]:
    return (
        body["from_org"]["id"],
        body["to_org"]["id"],
        body["shipped_kg"],
        body["shipped_at"],
        body["reference_doc"],
        body["received_kg"],
        [(r["kg"], r["at"]) for r in body["receipts"]],
    )


def test_trace_of_a_lot_back_forward_and_the_whole_path(scenario: Scenario) -> None:
    w = scenario.world
    r = w.call("GET", "/v1/audit/trace", w.regulator, params={"gtin": GTIN, "lot": scenario.lot_a1})
    assert r.status_code == 200, r.text
    (trace,) = r.json()["items"]
    assert (trace["batch_id"], trace["lot"], trace["brand"]) == (
        scenario.a1,
        scenario.lot_a1,
        "rongjiang-navel-orange",
    )
    # One step back: the producing cooperative's harvest.
    back = trace["one_step_back"]
    assert back["supplier"]["id"] == w.coop.id
    assert [(h["kg"], h["harvest_date"]) for h in back["harvests"]] == [(6000, f"{YEAR}-11-10")]
    # 600 boxes of 5 kg left the cooperative for the handler and all arrived.
    coop_to_handler = (
        w.coop.id,
        w.handler.id,
        3000,
        f"{YEAR}-11-14T08:00:00+08:00",
        "WB-001",
        3000,
        [(3000, f"{YEAR}-11-15T08:00:00+08:00")],
    )
    handler_to_handler2 = (
        w.handler.id,
        w.handler2.id,
        2000,
        f"{YEAR}-11-16T08:00:00+08:00",
        "WB-002",
        2000,
        [(2000, f"{YEAR}-11-17T08:00:00+08:00")],
    )
    assert [_hop(h) for h in trace["one_step_forward"]] == [coop_to_handler]
    assert [_hop(h) for h in trace["custody_path"]] == [coop_to_handler, handler_to_handler2]
    # 6000 harvested: 3000 stay with the coop; the handler keeps 1000 of its 3000;
    # handler2 sold 500 of its 2000.
    holders = {h["org"]["id"]: h["kg"] for h in trace["holders"]}
    assert holders == {w.coop.id: 3000, w.handler.id: 1000, w.handler2.id: 1500}
    assert trace["in_transit_kg"] == 0
    assert [(s["org"]["id"], s["kg"]) for s in trace["sold"]] == [(w.handler2.id, 500)]


def test_trace_shows_goods_in_transit_and_a_corrected_harvest(scenario: Scenario) -> None:
    w = scenario.world
    r = w.call("GET", "/v1/audit/trace", w.coop, params={"batch_id": scenario.a2})
    assert r.status_code == 200, r.text
    (trace,) = r.json()["items"]
    # The 10,000 kg harvest was corrected to 9,000 kg; the refused 6,000 kg left no trace.
    assert [h["kg"] for h in trace["one_step_back"]["harvests"]] == [9000]
    (hop,) = trace["custody_path"]
    assert (hop["to_org"]["id"], hop["shipped_kg"], hop["received_kg"]) == (w.handler.id, 1000, 0)
    assert trace["in_transit_kg"] == 1000
    assert {h["org"]["id"]: h["kg"] for h in trace["holders"]} == {w.coop.id: 8000}


def test_trace_needs_one_selection_and_a_known_lot(scenario: Scenario) -> None:
    w = scenario.world
    assert_error(w.call("GET", "/v1/audit/trace", w.regulator), 422, "InvalidAuditQuery")
    r = w.call(
        "GET",
        "/v1/audit/trace",
        w.regulator,
        params={"batch_id": scenario.a1, "gtin": GTIN, "lot": "X"},
    )
    assert_error(r, 422, "InvalidAuditQuery")
    r = w.call("GET", "/v1/audit/trace", w.regulator, params={"gtin": GTIN, "lot": "NOPE"})
    assert_error(r, 404, "LotNotFound", "NOPE")
    r = w.call("GET", "/v1/audit/trace", w.regulator, params={"batch_id": "nope"})
    assert_error(r, 404, "BatchNotFound")
