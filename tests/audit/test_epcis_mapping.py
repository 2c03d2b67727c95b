"""The EPCIS 2.0 mapping alone (registry/audit/epcis.py): stored events in, EPCIS events out,
no database. Each event type is checked field by field against DESIGN.md's event table,
and a whole document built from the mapping passes GS1's JSON schema."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jsonschema
import orjson
import pytest

from registry.audit import epcis
from registry.audit.records import ExportEvent, serial_uri
from tests.audit.stored import export_event

BASE = "https://r.example"
VOCAB = f"{BASE}/ns/epcis/"
AT = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
RECORDED = datetime(2026, 11, 10, 0, 5, 1, 250000, tzinfo=UTC)
CLS = f"{BASE}/01/06901234567892/10/RJ%2F1"
BULK = f"{BASE}/v1/batches/b1"
COOP = f"{BASE}/v1/orgs/coop"


def event(type_: str, data: dict[str, Any], **more: Any) -> ExportEvent:
    return export_event(
        type_, data, **{"seq": 3, "event_time": AT, "recorded_at": RECORDED, "lot": "RJ/1", **more}
    )


def mapped(e: ExportEvent) -> dict[str, Any]:
    (out,) = epcis.map_event(BASE, e, corrected=lambda seq: None)
    return out


def frame(e: ExportEvent) -> dict[str, Any]:
    """The fields every mapped event carries, whatever its type."""
    return {
        "eventID": f"{BASE}/v1/batches/b1/events/{e.seq}",
        "eventTime": "2026-11-10T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "recordTime": "2026-11-10T00:05:01.250000Z",
        "bizLocation": {"id": COOP},
        "reg:brand": "rj",
        "reg:batch": "b1",
        "reg:seq": e.seq,
        "reg:eventType": e.type,
        "reg:actor": COOP,
        "reg:chainHash": e.hash,
        "reg:prevHash": e.prev_hash,
        "reg:data": e.data,
    }


def test_created_commissions_the_lot() -> None:
    e = event("created", {"brand": "rj", "lot": "RJ/1", "product": "orange"})
    assert mapped(e) == {
        "type": "ObjectEvent",
        "action": "ADD",
        "quantityList": [{"epcClass": CLS}],
        "bizStep": "commissioning",
        "disposition": "active",
        **frame(e),
    }


def test_a_batch_without_gtin_is_named_by_its_registry_url() -> None:
    e = event("stored", {"place": "cold room"}, gtin=None)
    out = mapped(e)
    assert out["quantityList"] == [{"epcClass": BULK}]
    assert (out["action"], out["bizStep"], out["disposition"]) == (
        "OBSERVE",
        "storing",
        "sellable_not_accessible",
    )


def test_harvest_adds_the_bulk_with_its_lot_master_data() -> None:
    data = {"quantity": 6000, "unit": "kg", "harvest_date": "2026-11-10", "plot": "P-7"}
    location = {"county_code": "522632", "place": "Kaili"}
    e = event("harvested", data, location=location, variety="Navel")
    assert mapped(e) == {
        "type": "ObjectEvent",
        "action": "ADD",
        "quantityList": [{"epcClass": BULK, "quantity": 6000, "uom": "KGM"}],
        "bizStep": "commissioning",
        "disposition": "active",
        "ilmd": {
            "reg:harvestDate": "2026-11-10",
            "reg:product": "orange",
            "reg:plot": "P-7",
            "reg:variety": "Navel",
        },
        "readPoint": {"id": f"{VOCAB}county/522632"},
        **frame(e),
    }
    bare = mapped(event("harvested", {"quantity": 2, "unit": "t", "harvest_date": "2026-11-10"}))
    assert bare["ilmd"] == {"reg:harvestDate": "2026-11-10", "reg:product": "orange"}
    assert bare["quantityList"][0]["uom"] == "TNE"


def test_custom_steps_use_the_registry_vocabulary() -> None:
    applied = mapped(event("input_applied", {"input_name": "lime", "dose": 2, "dose_unit": "kg"}))
    assert (applied["action"], applied["bizStep"]) == ("OBSERVE", f"{VOCAB}input_applying")
    assert "disposition" not in applied
    cooled = mapped(event("cooled", {"place": "shed"}))
    assert (cooled["bizStep"], "disposition" in cooled) == (f"{VOCAB}cooling", False)
    recalled = mapped(event("recalled", {"reason": "pesticide", "scope": "batch"}))
    assert (recalled["bizStep"], recalled["disposition"]) == (f"{VOCAB}recalling", "recalled")


def test_inspection_sets_the_disposition_and_the_certificate() -> None:
    passed = mapped(
        event(
            "inspected",
            {"method": "GC", "analytes": [], "result": "pass", "certificate_ref": "C 1"},
        )
    )
    assert (passed["action"], passed["bizStep"], passed["disposition"]) == (
        "OBSERVE",
        "inspecting",
        "conformant",
    )
    assert passed["certificationInfo"] == f"{VOCAB}certificate/C%201"
    slashed = mapped(event("inspected", {"result": "pass", "certificate_ref": "GB/T 1"}))
    assert slashed["certificationInfo"] == f"{VOCAB}certificate/GB%2FT%201"
    failed = mapped(event("inspected", {"method": "GC", "analytes": [], "result": "fail"}))
    assert failed["disposition"] == "non_conformant"
    assert "certificationInfo" not in failed
    linked = mapped(
        event(
            "inspected",
            {"result": "pass", "certificate_ref": "https://lab.example/c/1"},
        )
    )
    assert linked["certificationInfo"] == "https://lab.example/c/1"
    urn = mapped(event("inspected", {"result": "pass", "certificate_ref": "urn:cert:9"}))
    assert urn["certificationInfo"] == "urn:cert:9"
    plain = mapped(event("inspected", {"result": "pass", "certificate_ref": "http://l/c"}))
    assert plain["certificationInfo"] == "http://l/c"


def test_packing_transforms_the_bulk_into_trade_units() -> None:
    e = event("packed", {"units": 1000, "unit_size": 500, "unit": "g"})
    assert mapped(e) == {
        "type": "TransformationEvent",
        "bizStep": "packing",
        "inputQuantityList": [{"epcClass": BULK, "quantity": 500.0, "uom": "KGM"}],
        "outputQuantityList": [{"epcClass": CLS, "quantity": 1000, "uom": "H87"}],
        **frame(e),
    }
    tonnes = mapped(event("packed", {"units": 3, "unit_size": 2, "unit": "t"}))
    assert tonnes["inputQuantityList"][0]["quantity"] == 6000.0
    kilos = mapped(event("packed", {"units": "4", "unit_size": "2.5", "unit": "kg"}))
    assert kilos["inputQuantityList"][0]["quantity"] == 10.0
    assert kilos["outputQuantityList"][0]["quantity"] == 4


def test_labels_commission_one_sgtin_per_serial_keeping_the_width() -> None:
    out = mapped(event("labeled", {"first_serial": "0098", "last_serial": "0101", "count": 4}))
    assert out["epcList"] == [f"{CLS}/21/{n}" for n in ("0098", "0099", "0100", "0101")]
    assert (out["action"], out["bizStep"], out["disposition"]) == ("ADD", "commissioning", "active")
    assert "quantityList" not in out
    bulk = mapped(event("labeled", {"first_serial": "1", "last_serial": "2"}, gtin=None))
    assert bulk["quantityList"] == [{"epcClass": BULK}]
    assert "epcList" not in bulk


def test_shipping_and_receiving_name_both_parties() -> None:
    shipped = mapped(event("shipped", {"quantity": 600, "unit": "box", "to_org_id": "shop"}))
    assert shipped["quantityList"] == [{"epcClass": CLS, "quantity": 600, "uom": "BX"}]
    assert (shipped["bizStep"], shipped["disposition"]) == ("shipping", "in_transit")
    assert shipped["sourceList"] == [{"type": "owning_party", "source": COOP}]
    assert shipped["destinationList"] == [
        {"type": "owning_party", "destination": f"{BASE}/v1/orgs/shop"}
    ]
    received = mapped(
        event("received", {"quantity": 5, "from_org_id": "farm"}, actor_org_id="shop")
    )
    assert received["quantityList"] == [{"epcClass": CLS, "quantity": 5, "uom": "H87"}]
    assert (received["bizStep"], received["disposition"]) == ("receiving", "in_progress")
    assert received["sourceList"] == [{"type": "owning_party", "source": f"{BASE}/v1/orgs/farm"}]
    assert received["destinationList"] == [
        {"type": "owning_party", "destination": f"{BASE}/v1/orgs/shop"}
    ]
    assert received["bizLocation"] == {"id": f"{BASE}/v1/orgs/shop"}
    sold = mapped(event("sold", {"channel": "shop", "quantity": 2, "unit": "case"}))
    assert (sold["bizStep"], sold["disposition"], sold["quantityList"][0]["uom"]) == (
        "retail_selling",
        "retail_sold",
        "CS",
    )
    for type_ in ("sold", "stored", "inspected"):
        assert "sourceList" not in mapped(event(type_, {"result": "pass"}))
        assert "destinationList" not in mapped(event(type_, {"result": "pass"}))


@pytest.mark.parametrize(
    ("location", "read_point"),
    [
        (
            {"gln": "6901234000004", "lat": 26.0, "lon": 108.4},
            "https://id.gs1.org/414/6901234000004",
        ),
        ({"lat": 26.0, "lon": 108.4, "county_code": "522632"}, "geo:26.0,108.4"),
        ({"lat": 0.0, "lon": 0.0}, "geo:0.0,0.0"),
        ({"lat": 26.0, "county_code": "522632"}, f"{VOCAB}county/522632"),
        ({"lon": 108.4, "county_code": "522632"}, f"{VOCAB}county/522632"),
        ({"place": "shed"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_read_point_is_the_most_precise_place_known(
    location: dict[str, Any] | None, read_point: str | None
) -> None:
    out = mapped(event("stored", {"place": "x"}, location=location))
    assert out.get("readPoint") == (None if read_point is None else {"id": read_point})


def test_a_correction_declares_the_error_and_carries_the_corrective_event() -> None:
    wrong = event(
        "harvested", {"quantity": 10000, "unit": "kg", "harvest_date": "2026-11-10"}, seq=1
    )
    fix = event(
        "correction",
        {"seq": 1, "reason": "scale error", "corrected_data": {**wrong.data, "quantity": 9000}},
        seq=2,
        recorded_at=datetime(2026, 11, 11, 9, 30, tzinfo=UTC),
    )
    asked: list[int] = []

    def corrected(seq: int) -> ExportEvent | None:
        asked.append(seq)
        return wrong if seq == 1 else None

    declared, corrective = epcis.map_event(BASE, fix, corrected=corrected)
    assert asked == [1]
    assert declared == {
        **mapped(wrong),
        "errorDeclaration": {
            "declarationTime": "2026-11-11T09:30:00.000000Z",
            "reason": "incorrect_data",
            "reg:reason": "scale error",
            "correctiveEventIDs": [f"{BASE}/v1/batches/b1/events/2"],
        },
    }
    assert corrective["quantityList"] == [{"epcClass": BULK, "quantity": 9000, "uom": "KGM"}]
    assert corrective["reg:corrects"] == f"{BASE}/v1/batches/b1/events/1"
    assert (corrective["eventID"], corrective["reg:eventType"], corrective["action"]) == (
        f"{BASE}/v1/batches/b1/events/2",
        "correction",
        "ADD",
    )
    assert corrective["ilmd"]["reg:harvestDate"] == "2026-11-10"


def test_a_void_declares_the_event_did_not_occur() -> None:
    wrong = event("sold", {"channel": "shop", "quantity": 2}, seq=4)
    void = event("correction", {"seq": "4", "reason": "never sold"}, seq=5)
    (declared,) = epcis.map_event(BASE, void, corrected=lambda seq: wrong if seq == 4 else None)
    assert declared["eventID"] == f"{BASE}/v1/batches/b1/events/4"
    assert declared["errorDeclaration"] == {
        "declarationTime": "2026-11-10T00:05:01.250000Z",
        "reason": "did_not_occur",
        "reg:reason": "never sold",
    }
    # A correction whose target is not exported (another batch, outside the dates) maps to
    # nothing rather than to a declaration of an unknown event.
    assert epcis.map_event(BASE, void, corrected=lambda seq: None) == []


def test_a_document_of_mapped_events_passes_the_gs1_schema() -> None:
    from tests.conftest import asset

    schema = json.loads(asset("epcis2-json-schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    events = [
        event("harvested", {"quantity": 6, "unit": "kg", "harvest_date": "2026-11-10"}),
        event("packed", {"units": 10, "unit_size": 500, "unit": "g"}),
        event("labeled", {"first_serial": "01", "last_serial": "02"}),
        event("shipped", {"quantity": 1, "unit": "bag", "to_org_id": "shop"}),
    ]
    head = epcis.document_head(BASE, created_at=RECORDED, document_id="urn:uuid:1")
    body = b",".join(orjson.dumps(mapped(e)) for e in events)
    doc = json.loads(head + body + epcis.DOCUMENT_TAIL)
    validator.validate(doc)
    assert doc["@context"] == [epcis.EPCIS_CONTEXT, {"reg": VOCAB}]
    assert (doc["id"], doc["type"], doc["schemaVersion"], doc["creationDate"]) == (
        "urn:uuid:1",
        "EPCISDocument",
        "2.0",
        "2026-11-10T00:05:01.250000Z",
    )
    assert len(doc["epcisBody"]["eventList"]) == 4
    assert doc["epcisBody"]["eventList"][2]["epcList"][1].endswith("/21/02")


def test_mapping_does_not_change_the_stored_event() -> None:
    e = event("shipped", {"quantity": 1, "unit": "kg", "to_org_id": "shop"})
    before = replace(e, data=dict(e.data))
    mapped(e)
    assert e == before


def test_lots_and_serials_are_one_path_segment_each() -> None:
    assert serial_uri(BASE, "06901234567892", "A/B 1", "S/2") == (
        f"{BASE}/01/06901234567892/10/A%2FB%201/21/S%2F2"
    )
