"""One CSV row per event with the FSMA 204 key data elements of its critical tracking
event, in the column order of FDA's electronic sortable spreadsheet; pure.

The FDA's KDE columns come first (traceability lot code, product, quantity and unit, the
location descriptions, date and time, ship-from / ship-to, source of the lot code,
reference document), then the registry's own columns so every row can be checked against
the chain. Events that are no FSMA CTE (inspections, inputs, labels...) keep an empty CTE
column but are exported too: an auditor sees the whole record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from registry.audit.records import (
    ExportEvent,
    OrgInfo,
    naive_utc,
    traceability_lot_code,
    utc_text,
)
from registry.core.time import parse_offset

# BOM first so Excel reads the file as UTF-8 (Chinese names and places).
BOM = "\ufeff"

HEADER = (
    "Critical Tracking Event",
    "Traceability Lot Code",
    "Product Description",
    "Quantity",
    "Unit of Measure",
    "Location Description",
    "Event Date",
    "Event Time",
    "Time Zone Offset",
    "Ship From Location",
    "Ship To Location",
    "Traceability Lot Code Source",
    "Harvest Date",
    "Field or Plot",
    "Reference Document Type",
    "Reference Document Number",
    "Registry Event Type",
    "Brand",
    "Batch ID",
    "Seq",
    "Recorded At",
    "Chain Hash",
    "Details",
)

# The registry's event types that are FSMA 204 critical tracking events.
CTE = {
    "harvested": "Harvesting",
    "cooled": "Cooling",
    "packed": "Initial Packing",
    "shipped": "Shipping",
    "received": "Receiving",
}


def _cell(text: str) -> str:
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def csv_line(cells: Sequence[str]) -> str:
    """One record as `csv.writer(out, lineterminator="\\r\\n")` writes it (minimal
    quoting: a cell with a comma, a quote or a line break is quoted, its quotes doubled),
    several times faster than writerow in CPython 3.11; tests hold the two equal."""
    if len(cells) == 1 and not cells[0]:
        return '""\r\n'  # as csv.writer: a bare empty line would read back as no record
    line = ",".join(cells)
    if '"' in line or "\n" in line or "\r" in line:
        return ",".join([_cell(cell) for cell in cells]) + "\r\n"
    if line.count(",") == len(cells) - 1:
        return line + "\r\n"
    # Commas only (the product cell always has one): quote the cells that hold them.
    return ",".join([f'"{cell}"' if "," in cell else cell for cell in cells]) + "\r\n"


def describe_orgs(orgs: Mapping[str, OrgInfo]) -> dict[str, str]:
    """`name (county code)` by organization id: the location description FDA asks for,
    worked out once per export."""
    return {
        org.id: f"{org.name} ({org.county_code})" if org.county_code else org.name
        for org in orgs.values()
    }


# Keys of `data` that have columns of their own, left out of the Details column.
_SHOWN = frozenset(
    ("quantity", "unit", "to_org_id", "from_org_id", "reference_doc", "harvest_date")
)
_LOCATION_KEYS = ("place", "county_code", "gln")
# Batch cells remembered at most (events of a batch mostly come together): memory stays
# flat however many batches an export covers.
_BATCHES_KEPT = 1024


class Rows:
    """The CSV cells of an export's events, in HEADER's order. Organization descriptions
    are worked out once per export, the cells a batch gives every one of its events (lot
    code, product, lot code source) once per batch."""

    def __init__(self, orgs: Mapping[str, OrgInfo]) -> None:
        self._names = describe_orgs(orgs)
        self._batches: dict[str, tuple[str, str, str]] = {}

    def _name(self, org_id: str | None) -> str:
        if not org_id:
            return ""
        return self._names.get(org_id, org_id)

    def _batch_cells(self, event: ExportEvent) -> tuple[str, str, str]:
        cells = self._batches.get(event.batch_id)
        if cells is None:
            if len(self._batches) >= _BATCHES_KEPT:
                self._batches.clear()
            product = event.product + (f" ({event.variety})" if event.variety else "")
            cells = (
                traceability_lot_code(event.gtin, event.lot),
                f"{product}, {event.brand_name}",
                self._name(event.cooperative_org_id),
            )
            self._batches[event.batch_id] = cells
        return cells

    def _place(self, event: ExportEvent) -> str:
        name = self._name(event.actor_org_id)
        location = event.location
        if not location:
            return name
        parts = [name]
        for key in _LOCATION_KEYS:
            if location.get(key):
                parts.append(str(location[key]))
        if location.get("lat") is not None and location.get("lon") is not None:
            parts.append(f"{location['lat']},{location['lon']}")
        return "; ".join(parts)

    def row(self, event: ExportEvent) -> list[str]:
        data = event.data
        type_ = event.type
        quantity, unit = _quantity(type_, data)
        offset = parse_offset(event.event_time_offset).utcoffset(None)
        local = (naive_utc(event.event_time) + offset).isoformat()
        ship_from = ship_to = ""
        if type_ == "shipped":
            ship_from = self._name(event.actor_org_id)
            ship_to = self._name(data.get("to_org_id"))
        elif type_ == "received":
            ship_from = self._name(data.get("from_org_id"))
            ship_to = self._name(event.actor_org_id)
        reference = data.get("reference_doc") or data.get("certificate_ref") or ""
        reference_type = ""
        if reference:
            reference_type = "Certificate" if type_ == "inspected" else "Shipping document"
        lot_code, product, source = self._batch_cells(event)
        return [
            CTE.get(type_, ""),
            lot_code,
            product,
            quantity,
            unit,
            self._place(event),
            local[:10],
            local[11:19],
            event.event_time_offset,
            ship_from,
            ship_to,
            source,
            str(data.get("harvest_date", "")),
            str(data.get("plot", "")),
            reference_type,
            str(reference),
            type_,
            event.brand_slug,
            event.batch_id,
            str(event.seq),
            utc_text(event.recorded_at),
            event.hash,
            "; ".join(f"{k}={v}" for k, v in data.items() if k not in _SHOWN),
        ]


def _quantity(type_: str, data: dict[str, Any]) -> tuple[str, str]:
    if type_ == "packed":
        return f"{data['units']}", f"units of {data['unit_size']:g} {data['unit']}"
    if type_ == "labeled":
        return f"{data['count']}", "labels"
    if "quantity" in data:
        return f"{data['quantity']:g}", str(data.get("unit", "unit"))
    return "", ""
