"""The FSMA 204 CSV mapping alone (registry/audit/fsma.py): one stored event in, one row of
key data elements out, no database. Rows are read by column name, as an auditor's
spreadsheet reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.audit import fsma
from registry.audit.records import ExportEvent, OrgInfo, traceability_lot_code, utc_text
from tests.audit.stored import export_event

AT = datetime(2026, 11, 10, 23, 30, 5, tzinfo=UTC)  # 07:30:05 the next day at +08:00
RECORDED = datetime(2026, 11, 11, 1, 2, 3, 4, tzinfo=UTC)
ORGS = {
    "coop": OrgInfo("coop", "Rongjiang Co-op", "cooperative", "522632"),
    "shop": OrgInfo("shop", "Guiyang Market", "retailer"),
}


def event(type_: str, data: dict[str, Any], **more: Any) -> ExportEvent:
    return export_event(
        type_, data, **{"seq": 7, "event_time": AT, "recorded_at": RECORDED, "lot": "RJ-1", **more}
    )


def cells(e: ExportEvent) -> dict[str, str]:
    out = fsma.Rows(ORGS).row(e)
    assert len(out) == len(fsma.HEADER)
    return dict(zip(fsma.HEADER, out, strict=True))


def test_organizations_are_described_with_their_county() -> None:
    assert fsma.describe_orgs(ORGS) == {
        "coop": "Rongjiang Co-op (522632)",
        "shop": "Guiyang Market",
    }
    assert fsma.describe_orgs({}) == {}


def test_a_harvest_row_has_every_key_data_element() -> None:
    data = {"quantity": 6000.0, "unit": "kg", "harvest_date": "2026-11-10", "plot": "P-7"}
    location = {"place": "Kaili", "county_code": "522632", "lat": 26.5, "lon": 107.9}
    row = cells(event("harvested", data, location=location, variety="Navel"))
    assert row == {
        "Critical Tracking Event": "Harvesting",
        "Traceability Lot Code": "(01)06901234567892(10)RJ-1",
        "Product Description": "orange (Navel), Rongjiang Orange",
        "Quantity": "6000",
        "Unit of Measure": "kg",
        "Location Description": "Rongjiang Co-op (522632); Kaili; 522632; 26.5,107.9",
        "Event Date": "2026-11-11",
        "Event Time": "07:30:05",
        "Time Zone Offset": "+08:00",
        "Ship From Location": "",
        "Ship To Location": "",
        "Traceability Lot Code Source": "Rongjiang Co-op (522632)",
        "Harvest Date": "2026-11-10",
        "Field or Plot": "P-7",
        "Reference Document Type": "",
        "Reference Document Number": "",
        "Registry Event Type": "harvested",
        "Brand": "rj",
        "Batch ID": "b1",
        "Seq": "7",
        "Recorded At": "2026-11-11T01:02:03.000004Z",
        "Chain Hash": "b" * 64,
        "Details": "plot=P-7",
    }


def test_shipping_and_receiving_name_both_ends_and_the_document() -> None:
    shipped = cells(
        event(
            "shipped", {"quantity": 2.5, "unit": "t", "to_org_id": "shop", "reference_doc": "W-9"}
        )
    )
    assert (
        shipped["Critical Tracking Event"],
        shipped["Quantity"],
        shipped["Unit of Measure"],
    ) == (
        "Shipping",
        "2.5",
        "t",
    )
    assert (shipped["Ship From Location"], shipped["Ship To Location"]) == (
        "Rongjiang Co-op (522632)",
        "Guiyang Market",
    )
    assert (shipped["Reference Document Type"], shipped["Reference Document Number"]) == (
        "Shipping document",
        "W-9",
    )
    assert shipped["Details"] == ""
    received = cells(event("received", {"quantity": 3, "from_org_id": "coop"}, actor_org_id="shop"))
    assert (received["Critical Tracking Event"], received["Unit of Measure"]) == (
        "Receiving",
        "unit",
    )
    assert (received["Ship From Location"], received["Ship To Location"]) == (
        "Rongjiang Co-op (522632)",
        "Guiyang Market",
    )
    assert received["Location Description"] == "Guiyang Market"
    assert received["Reference Document Type"] == ""
    assert received["Details"] == ""  # the ship-from column already names the sender
    assert received["Product Description"] == "orange, Rongjiang Orange"
    assert (received["Harvest Date"], received["Field or Plot"]) == ("", "")
    # An organization the export did not load is shown by its id, not dropped.
    stranger = cells(event("shipped", {"quantity": 1, "unit": "kg", "to_org_id": "far"}))
    assert stranger["Ship To Location"] == "far"
    nowhere = cells(event("shipped", {"quantity": 1, "unit": "kg"}))
    assert nowhere["Ship To Location"] == ""


def test_packing_counts_units_of_a_size() -> None:
    row = cells(event("packed", {"units": 1000, "unit_size": 0.5, "unit": "kg"}))
    assert (row["Critical Tracking Event"], row["Quantity"], row["Unit of Measure"]) == (
        "Initial Packing",
        "1000",
        "units of 0.5 kg",
    )
    assert row["Details"] == "units=1000; unit_size=0.5"


def test_events_that_are_no_tracking_event_keep_an_empty_cte() -> None:
    labeled = cells(event("labeled", {"first_serial": "01", "last_serial": "40", "count": 40}))
    assert (labeled["Critical Tracking Event"], labeled["Quantity"]) == ("", "40")
    assert labeled["Unit of Measure"] == "labels"
    inspected = cells(event("inspected", {"result": "pass", "certificate_ref": "CERT-1"}))
    assert (inspected["Critical Tracking Event"], inspected["Quantity"]) == ("", "")
    assert (inspected["Reference Document Type"], inspected["Reference Document Number"]) == (
        "Certificate",
        "CERT-1",
    )
    assert inspected["Details"] == "result=pass; certificate_ref=CERT-1"
    assert inspected["Unit of Measure"] == ""
    cooled = cells(event("cooled", {"place": "shed"}, location={"gln": "6901234000004"}))
    assert cooled["Critical Tracking Event"] == "Cooling"
    assert cooled["Location Description"] == "Rongjiang Co-op (522632); 6901234000004"


@pytest.mark.parametrize(
    ("location", "described"),
    [
        ({"lat": 0.0, "lon": 0.0}, "Rongjiang Co-op (522632); 0.0,0.0"),
        ({"lat": 26.5}, "Rongjiang Co-op (522632)"),
        ({"lon": 107.9}, "Rongjiang Co-op (522632)"),
        ({"place": ""}, "Rongjiang Co-op (522632)"),
    ],
)
def test_a_place_needs_both_coordinates(location: dict[str, Any], described: str) -> None:
    assert cells(event("stored", {"place": "x"}, location=location))["Location Description"] == (
        described
    )


def test_a_batch_without_gtin_or_cooperative() -> None:
    row = cells(event("sold", {"quantity": 1}, gtin=None, cooperative_org_id=""))
    assert row["Traceability Lot Code"] == "RJ-1"
    assert row["Traceability Lot Code Source"] == ""
    assert traceability_lot_code(None, "L") == "L"


def test_time_is_local_and_recorded_at_is_utc() -> None:
    west = cells(event("stored", {}, event_time_offset="-05:00"))
    assert (west["Event Date"], west["Event Time"], west["Time Zone Offset"]) == (
        "2026-11-10",
        "18:30:05",
        "-05:00",
    )
    assert utc_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"


def test_event_time_is_whole_seconds_even_when_stored_with_microseconds() -> None:
    row = cells(event("stored", {}, event_time=AT.replace(microsecond=250000)))
    assert (row["Event Date"], row["Event Time"]) == ("2026-11-11", "07:30:05")


def test_a_batch_gives_its_events_the_cells_worked_out_once() -> None:
    rows = fsma.Rows(ORGS)
    first = rows.row(event("harvested", {"quantity": 1}, seq=1))
    second = rows.row(event("shipped", {"quantity": 1}, seq=2))
    # The same objects, not equal copies: the batch's cells were not worked out again.
    for column in (1, 2, 11):  # lot code, product, lot code source
        assert first[column] is second[column]
    assert first[1:3] == ["(01)06901234567892(10)RJ-1", "orange, Rongjiang Orange"]
    other = rows.row(event("harvested", {"quantity": 1}, batch_id="b2", lot="RJ-2"))
    assert other[1] == "(01)06901234567892(10)RJ-2"


def test_the_batch_cells_kept_are_bounded_and_rows_stay_the_same() -> None:
    """However many batches an export covers, at most `_BATCHES_KEPT` batches' cells are
    kept: the one after that many starts afresh, and every row is still the row a fresh
    mapping gives."""
    kept = fsma._BATCHES_KEPT
    rows = fsma.Rows(ORGS)

    def batch(n: int) -> ExportEvent:
        return event("harvested", {"quantity": n}, batch_id=f"b{n}", lot=f"L{n}", product=f"p{n}")

    for n in range(kept):
        rows.row(batch(n))
    assert len(rows._batches) == kept
    assert rows.row(batch(kept)) == fsma.Rows(ORGS).row(batch(kept))
    assert len(rows._batches) == 1
    assert rows.row(batch(0)) == fsma.Rows(ORGS).row(batch(0))
    assert len(rows._batches) == 2


def test_the_file_starts_with_a_bom_and_the_fda_columns() -> None:
    assert fsma.BOM == "\ufeff"
    assert fsma.HEADER[:6] == (
        "Critical Tracking Event",
        "Traceability Lot Code",
        "Product Description",
        "Quantity",
        "Unit of Measure",
        "Location Description",
    )
    assert fsma.CTE == {
        "harvested": "Harvesting",
        "cooled": "Cooling",
        "packed": "Initial Packing",
        "shipped": "Shipping",
        "received": "Receiving",
    }
