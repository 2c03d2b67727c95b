"""The mass-balance report as CSV (UTF-8 with BOM): one row per batch, one total row per
cooperative, then one row per place where the numbers do not reconcile; pure."""

from __future__ import annotations

import csv
import io

import orjson

from registry.audit.schemas import MassBalanceReport

HEADER = (
    "Row",
    "Cooperative",
    "Cooperative ID",
    "Batch ID",
    "Lot",
    "GTIN",
    "Harvested kg (year)",
    "Harvested kg (batch)",
    "Packed units",
    "Packed kg",
    "Labels issued",
    "Shipped kg",
    "Received kg",
    "Sold kg",
    "In transit kg",
    "Quota kg",
    "Quota used kg",
    "Discrepancy",
    "Detail",
    "Events",
)


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def mass_balance_csv(report: MassBalanceReport) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for coop in report.cooperatives:
        name = coop.org.name
        for b in coop.batches:
            writer.writerow(
                [
                    "batch", name, coop.org.id, b.batch_id, b.lot, b.gtin or "",
                    _n(b.harvested_kg_in_year), _n(b.harvested_kg), b.packed_units,
                    _n(b.packed_kg), b.labels_issued, _n(b.shipped_kg), _n(b.received_kg),
                    _n(b.sold_kg), _n(b.in_transit_kg), "", "", "", "", "",
                ]
            )  # fmt: skip
        t = coop.totals
        writer.writerow(
            [
                "cooperative", name, coop.org.id, "", "", "", _n(t.harvested_kg), "",
                t.packed_units, _n(t.packed_kg), t.labels_issued, _n(t.shipped_kg),
                _n(t.received_kg), _n(t.sold_kg), "", _n(coop.quota_kg),
                _n(coop.quota_used_kg), "", "", "",
            ]
        )  # fmt: skip
    for d in report.discrepancies:
        batch_ids = sorted({str(e.get("batch_id", "")) for e in d.events})
        writer.writerow(
            ["discrepancy", "", "", ";".join(batch_ids), *[""] * 13, d.kind, d.detail,
             orjson.dumps(d.events).decode()]
        )  # fmt: skip
    return out.getvalue()
