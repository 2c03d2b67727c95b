"""GET /v1/audit/export and `registry export`: EPCIS 2.0 documents validated with
jsonschema against GS1's schema, the FSMA 204 CSV checked column by column."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from registry.audit import fsma
from registry.core.config import get_settings
from tests.audit.scenario import BRAND_B, YEAR, Scenario
from tests.conftest import asset
from tests.dbtools import assert_error, database_url, run_cli, unchanged
from tests.factories import BRAND, GTIN

BASE = "http://127.0.0.1:8000"  # the test settings' public URL


@pytest.fixture(scope="module")
def epcis_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(asset("epcis2-json-schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_the_schema_check_can_fail(epcis_validator: jsonschema.Draft7Validator) -> None:
    """The validator accepts GS1's own example and refuses a broken copy of it (and checks
    formats: a relative URI as an EPC is refused)."""
    example = json.loads(asset("epcis2-example-objectevent.jsonld").read_text(encoding="utf-8"))
    epcis_validator.validate(example)
    broken = json.loads(json.dumps(example))
    del broken["epcisBody"]["eventList"][0]["eventTimeZoneOffset"]
    assert not epcis_validator.is_valid(broken)
    relative = json.loads(json.dumps(example))
    relative["epcisBody"]["eventList"][0]["epcList"] = ["not a uri"]
    assert not epcis_validator.is_valid(relative)


def _export(s: Scenario, org: Any, **params: Any) -> Any:
    r = s.world.call("GET", "/v1/audit/export", org, params=params)
    assert r.status_code == 200, r.text
    return r


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["epcisBody"]["eventList"])


def _by(events: list[dict[str, Any]], batch: str, seq: int) -> list[dict[str, Any]]:
    return [e for e in events if e["reg:batch"] == batch and e["reg:seq"] == seq]


def test_epcis_export_of_a_brand(
    scenario: Scenario, epcis_validator: jsonschema.Draft7Validator
) -> None:
    s, w = scenario, scenario.world
    r = _export(s, w.regulator, brand=BRAND, format="epcis")
    assert r.headers["content-type"].startswith("application/ld+json")
    assert r.headers["x-event-count"] == "22"
    doc = r.json()
    epcis_validator.validate(doc)
    events = _events(doc)
    # 13 events of A1, 5 of A2 (the correction becomes two EPCIS events), 4 of A3.
    assert len(events) == 23
    assert {e["reg:brand"] for e in events} == {BRAND}
    cls = f"{BASE}/01/{GTIN}/10/{s.lot_a1}"
    bulk = f"{BASE}/v1/batches/{s.a1}"
    # Every event carries its chain hash, equal to the chain the API serves.
    chain = w.call("GET", f"/v1/batches/{s.a1}/events", w.regulator).json()
    chain = chain["items"]
    for stored in chain:
        (mapped,) = _by(events, s.a1, stored["seq"])
        assert (mapped["reg:chainHash"], mapped["reg:prevHash"]) == (
            stored["hash"],
            stored["prev_hash"],
        )
        assert mapped["eventID"] == f"{BASE}/v1/batches/{s.a1}/events/{stored['seq']}"
        assert mapped["reg:data"] == stored["data"]
    (created,) = _by(events, s.a1, 0)
    assert (created["type"], created["action"], created["bizStep"]) == (
        "ObjectEvent",
        "ADD",
        "commissioning",
    )
    (applied,) = _by(events, s.a1, 1)
    assert applied["bizStep"] == f"{BASE}/ns/epcis/input_applying"
    (harvest,) = _by(events, s.a1, 2)
    assert (harvest["action"], harvest["bizStep"]) == ("ADD", "commissioning")
    assert harvest["eventTime"] == f"{YEAR}-11-10T08:00:00+08:00"
    assert harvest["eventTimeZoneOffset"] == "+08:00"
    assert harvest["quantityList"] == [{"epcClass": bulk, "quantity": 6000, "uom": "KGM"}]
    assert harvest["ilmd"]["reg:harvestDate"] == f"{YEAR}-11-10"
    assert harvest["readPoint"] == {"id": f"{BASE}/ns/epcis/county/522632"}
    (inspected,) = _by(events, s.a1, 3)
    assert (inspected["bizStep"], inspected["disposition"]) == ("inspecting", "conformant")
    assert inspected["certificationInfo"] == f"{BASE}/ns/epcis/certificate/CERT-1"
    (cooled,) = _by(events, s.a1, 4)
    assert cooled["bizStep"] == f"{BASE}/ns/epcis/cooling"
    (packed,) = _by(events, s.a1, 5)
    assert packed["type"] == "TransformationEvent"
    assert packed["bizStep"] == "packing"
    assert packed["inputQuantityList"] == [{"epcClass": bulk, "quantity": 5000, "uom": "KGM"}]
    assert packed["outputQuantityList"] == [{"epcClass": cls, "quantity": 1000, "uom": "H87"}]
    (labeled,) = _by(events, s.a1, 6)
    assert len(labeled["epcList"]) == 100
    assert labeled["epcList"][0] == f"{cls}/21/00000001"
    (shipped,) = _by(events, s.a1, 8)
    assert (shipped["bizStep"], shipped["disposition"]) == ("shipping", "in_transit")
    assert shipped["quantityList"] == [{"epcClass": cls, "quantity": 600, "uom": "BX"}]
    assert shipped["sourceList"] == [
        {"type": "owning_party", "source": f"{BASE}/v1/orgs/{w.coop.id}"}
    ]
    assert shipped["destinationList"] == [
        {"type": "owning_party", "destination": f"{BASE}/v1/orgs/{w.handler.id}"}
    ]
    (received,) = _by(events, s.a1, 9)
    assert (received["bizStep"], received["disposition"]) == ("receiving", "in_progress")
    assert received["sourceList"][0]["source"] == f"{BASE}/v1/orgs/{w.coop.id}"
    (sold,) = _by(events, s.a1, 12)
    assert (sold["bizStep"], sold["disposition"]) == ("retail_selling", "retail_sold")
    (recalled,) = _by(events, s.a3, 3)
    assert recalled["disposition"] == "recalled"
    (failed,) = _by(events, s.a3, 2)
    assert failed["disposition"] == "non_conformant"
    # The correction (A2 seq 2) declares seq 1 erroneous and carries the corrective event.
    declared, corrective = _by(events, s.a2, 1)[1], _by(events, s.a2, 2)[0]
    assert declared["errorDeclaration"]["reason"] == "incorrect_data"
    assert declared["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert declared["quantityList"][0]["quantity"] == 10_000
    assert corrective["quantityList"][0]["quantity"] == 9000
    assert corrective["reg:corrects"] == declared["eventID"]


def test_epcis_export_of_one_lot_and_dates(
    scenario: Scenario, epcis_validator: jsonschema.Draft7Validator
) -> None:
    s, w = scenario, scenario.world
    doc = _export(s, w.coop, gtin=GTIN, lot=s.lot_a1, format="epcis").json()
    epcis_validator.validate(doc)
    assert {e["reg:batch"] for e in _events(doc)} == {s.a1}
    # Days are UTC and both ends are included: 08:00 +08:00 is 00:00 UTC the same day.
    doc = _export(
        s,
        w.regulator,
        brand=BRAND,
        format="epcis",
        **{"from": f"{YEAR}-11-14", "to": f"{YEAR}-11-15"},
    ).json()
    epcis_validator.validate(doc)
    assert sorted((e["reg:batch"] == s.a1, e["reg:eventType"]) for e in _events(doc)) == [
        (False, "packed"),
        (False, "shipped"),
        (True, "received"),
        (True, "shipped"),
    ]


def _csv_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    assert content.startswith("\ufeff".encode())
    text = content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    return header, list(csv.DictReader(io.StringIO(text)))


def test_csv_export_has_the_kdes_of_each_tracking_event(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    r = _export(s, w.regulator, brand=BRAND, format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    header, rows = _csv_rows(r.content)
    assert header == list(fsma.HEADER)
    assert len(rows) == 22
    a1 = {int(row["Seq"]): row for row in rows if row["Batch ID"] == s.a1}
    tlc = f"(01){GTIN}(10){s.lot_a1}"
    harvest = a1[2]
    assert (harvest["Critical Tracking Event"], harvest["Traceability Lot Code"]) == (
        "Harvesting",
        tlc,
    )
    assert (harvest["Quantity"], harvest["Unit of Measure"]) == ("6000", "kg")
    assert (harvest["Event Date"], harvest["Event Time"], harvest["Time Zone Offset"]) == (
        f"{YEAR}-11-10",
        "08:00:00",
        "+08:00",
    )
    assert harvest["Harvest Date"] == f"{YEAR}-11-10"
    assert harvest["Location Description"] == "coop org (522632); plot P-1; 522632"
    assert harvest["Product Description"] == "navel orange (Newhall), Rongjiang Navel Orange"
    assert a1[4]["Critical Tracking Event"] == "Cooling"
    packing = a1[5]
    assert (
        packing["Critical Tracking Event"],
        packing["Quantity"],
        packing["Unit of Measure"],
    ) == (
        "Initial Packing",
        "1000",
        "units of 5 kg",
    )
    shipping = a1[8]
    assert shipping["Critical Tracking Event"] == "Shipping"
    assert (shipping["Ship From Location"], shipping["Ship To Location"]) == (
        "coop org (522632)",
        "handler org",
    )
    assert (shipping["Reference Document Type"], shipping["Reference Document Number"]) == (
        "Shipping document",
        "WB-001",
    )
    assert shipping["Traceability Lot Code Source"] == "coop org (522632)"
    receiving = a1[11]
    assert (
        receiving["Critical Tracking Event"],
        receiving["Ship From Location"],
        receiving["Ship To Location"],
    ) == (
        "Receiving",
        "handler org",
        "handler2 org",
    )
    # Events that are no CTE are rows too, with their type.
    assert (a1[3]["Critical Tracking Event"], a1[3]["Registry Event Type"]) == ("", "inspected")
    assert (a1[3]["Reference Document Type"], a1[3]["Reference Document Number"]) == (
        "Certificate",
        "CERT-1",
    )
    chain = w.call("GET", f"/v1/batches/{s.a1}/events", w.regulator).json()
    chain = chain["items"]
    assert [a1[e["seq"]]["Chain Hash"] for e in chain] == [e["hash"] for e in chain]


def test_csv_keeps_chinese_text(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    _, rows = _csv_rows(_export(s, w.owner2, brand=BRAND_B, format="csv").content)
    assert {row["Traceability Lot Code Source"] for row in rows} == {"五常稻花香合作社"}
    assert len(rows) == 5


def test_export_is_limited_to_what_the_caller_may_see(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    seen = {
        name: {
            row["Batch ID"]
            for row in _csv_rows(_export(s, w.orgs[name], brand=BRAND, format="csv").content)[1]
        }
        for name in ("admin", "owner", "coop", "coop2", "handler", "handler2")
    }
    assert seen["admin"] == seen["owner"] == {s.a1, s.a2, s.a3}
    assert seen["coop"] == {s.a1, s.a2}
    assert seen["coop2"] == {s.a3}
    assert seen["handler"] == {s.a1, s.a2}  # received A1, was shipped A2
    assert seen["handler2"] == {s.a1}
    with unchanged(w.engine):
        assert_error(
            w.call("GET", "/v1/audit/export", w.owner2, params={"brand": BRAND}), 403, "Forbidden"
        )
        assert_error(
            w.call("GET", "/v1/audit/export", w.coop2, params={"batch_id": s.a1}), 403, "Forbidden"
        )
        assert_error(w.call("GET", "/v1/audit/export", w.regulator), 422, "InvalidAuditQuery")
        r = w.call(
            "GET",
            "/v1/audit/export",
            w.regulator,
            params={"brand": BRAND, "from": "2026-02-01", "to": "2026-01-01"},
        )
        assert_error(r, 422, "InvalidAuditQuery", "after")
        r = w.call("GET", "/v1/audit/export", w.regulator, params={"brand": BRAND, "format": "xml"})
        assert_error(r, 422, "ValidationError")


def test_cli_export_writes_what_the_api_answers(scenario: Scenario, tmp_path: Path) -> None:
    s, w = scenario, scenario.world
    out = tmp_path / "brand.csv"
    result = run_cli(
        database_url(w.engine), "export", "--brand", BRAND, "--format", "csv", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "exported 22 events" in result.output
    api = _csv_rows(_export(s, w.regulator, brand=BRAND, format="csv").content)
    assert _csv_rows(out.read_bytes()) == api
    bad = run_cli(database_url(w.engine), "export", "--brand", "nope", "--format", "csv")
    assert bad.exit_code == 1
    assert "error: brand" in bad.output
    assert "Traceback" not in bad.output


@pytest.fixture
def small_inline_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRY_AUDIT_EXPORT_INLINE_MAX", "10")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("REGISTRY_AUDIT_EXPORT_INLINE_MAX")
    get_settings.cache_clear()


def test_large_export_becomes_a_job(
    scenario: Scenario,
    small_inline_limit: None,
    epcis_validator: jsonschema.Draft7Validator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s, w = scenario, scenario.world
    monkeypatch.setenv("REGISTRY_JOB_OUTPUT_DIR", str(tmp_path))
    get_settings.cache_clear()
    small = _export(s, w.regulator, batch_id=s.a3, format="csv")  # 4 events: inline
    assert small.status_code == 200
    r = w.call("GET", "/v1/audit/export", w.regulator, params={"brand": BRAND, "format": "epcis"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["progress"]["total"]) == ("audit_export", 22)
    for _ in range(200):
        job = w.call("GET", f"/v1/jobs/{job['job_id']}", w.regulator).json()
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert job["state"] == "succeeded", job
    assert_error(w.call("GET", f"/v1/jobs/{job['job_id']}", w.owner), 404, "JobNotFound")
    result = w.call("GET", job["result_url"], w.regulator)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/ld+json")
    doc = result.json()
    epcis_validator.validate(doc)
    assert len(_events(doc)) == 23
