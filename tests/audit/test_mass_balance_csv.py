"""The mass-balance CSV alone (registry/audit/report_csv.py): a report in, rows out, no
database. Rows are read by column name, as a spreadsheet reads them."""

from __future__ import annotations

import csv
import io

from registry.audit.report_csv import HEADER, mass_balance_csv
from registry.audit.schemas import (
    BatchBalancePublic,
    CooperativeBalance,
    DiscrepancyPublic,
    MassBalanceReport,
    OrgRef,
    Totals,
)

COOP = OrgRef(id="coop", name="Rongjiang Co-op", kind="cooperative")


def batch(batch_id: str, **numbers: float) -> BatchBalancePublic:
    return BatchBalancePublic(
        batch_id=batch_id,
        lot=f"L-{batch_id}",
        gtin="06901234567892" if batch_id == "b1" else None,
        status="open",
        harvested_kg_in_year=numbers.pop("harvested_kg_in_year", 0.0),
        held_kg={},
        in_transit_kg=numbers.pop("in_transit_kg", 0.0),
        recalled=False,
        discrepancies=[],
        **numbers,  # type: ignore[arg-type]
    )


def rows(report: MassBalanceReport) -> list[dict[str, str]]:
    text = mass_balance_csv(report)
    assert text.startswith("\ufeff")
    assert text.endswith("\r\n")
    assert "\r\n".join(text[1:].split("\r\n")[:1]) == ",".join(HEADER)
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_one_row_per_batch_then_the_cooperative_total() -> None:
    b1 = batch(
        "b1",
        harvested_kg_in_year=6000,
        harvested_kg=6000.5,
        packed_units=1000,
        packed_kg=500,
        labels_issued=100,
        shipped_kg=300,
        received_kg=0,
        sold_kg=1.25,
        in_transit_kg=300,
    )
    b2 = batch("b2", harvested_kg=10)
    totals = Totals(
        harvested_kg=6010.5, packed_units=1000, packed_kg=500, labels_issued=100, sold_kg=1.25
    )
    coop = CooperativeBalance(
        org=COOP,
        quota_kg=8000,
        quota_used_kg=6010.5,
        totals=totals,
        batches=[b1, b2],
        discrepancies=[],
    )
    report = MassBalanceReport(
        brand="rj", year=2026, reconciles=True, cooperatives=[coop], discrepancies=[]
    )
    first, second, total = rows(report)
    assert first == {
        "Row": "batch",
        "Cooperative": "Rongjiang Co-op",
        "Cooperative ID": "coop",
        "Batch ID": "b1",
        "Lot": "L-b1",
        "GTIN": "06901234567892",
        "Harvested kg (year)": "6000",
        "Harvested kg (batch)": "6000.5",
        "Packed units": "1000",
        "Packed kg": "500",
        "Labels issued": "100",
        "Shipped kg": "300",
        "Received kg": "0",
        "Sold kg": "1.25",
        "In transit kg": "300",
        "Quota kg": "",
        "Quota used kg": "",
        "Discrepancy": "",
        "Detail": "",
        "Events": "",
    }
    assert (second["Batch ID"], second["GTIN"], second["Harvested kg (batch)"]) == ("b2", "", "10")
    assert total == {
        "Row": "cooperative",
        "Cooperative": "Rongjiang Co-op",
        "Cooperative ID": "coop",
        "Batch ID": "",
        "Lot": "",
        "GTIN": "",
        "Harvested kg (year)": "6010.5",
        "Harvested kg (batch)": "",
        "Packed units": "1000",
        "Packed kg": "500",
        "Labels issued": "100",
        "Shipped kg": "0",
        "Received kg": "0",
        "Sold kg": "1.25",
        "In transit kg": "",
        "Quota kg": "8000",
        "Quota used kg": "6010.5",
        "Discrepancy": "",
        "Detail": "",
        "Events": "",
    }


def test_a_handler_sees_no_quota_and_discrepancies_come_last() -> None:
    coop = CooperativeBalance(
        org=COOP, quota_kg=None, quota_used_kg=None, totals=Totals(), batches=[], discrepancies=[]
    )
    events = [{"batch_id": "b2", "seq": 4}, {"batch_id": "b1", "seq": 7}, {"batch_id": "b2"}]
    gap = DiscrepancyPublic(
        kind="shipped_not_received", detail="300 kg shipped, 0 received", numbers={}, events=events
    )
    report = MassBalanceReport(
        brand="rj", year=2026, reconciles=False, cooperatives=[coop], discrepancies=[gap]
    )
    total, discrepancy = rows(report)
    assert (total["Quota kg"], total["Quota used kg"]) == ("", "")
    assert discrepancy == {
        **dict.fromkeys(HEADER, ""),
        "Row": "discrepancy",
        "Batch ID": "b1;b2",
        "Discrepancy": "shipped_not_received",
        "Detail": "300 kg shipped, 0 received",
        "Events": '[{"batch_id":"b2","seq":4},{"batch_id":"b1","seq":7},{"batch_id":"b2"}]',
    }
    unnamed = DiscrepancyPublic(kind="k", detail="d", numbers={}, events=[{"seq": 1}])
    report.discrepancies = [unnamed]
    assert rows(report)[-1]["Batch ID"] == ""
