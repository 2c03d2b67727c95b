"""One CSV row per event with the FSMA 204 key data elements of its critical tracking
event, in the column order of FDA's electronic sortable spreadsheet; pure.

The FDA's KDE columns come first (traceability lot code, product, quantity and unit, the
location descriptions, date and time, ship-from / ship-to, source of the lot code,
reference document), then the registry's own columns so every row can be checked against
the chain. Events that are no FSMA CTE (inspections, inputs, labels...) keep an empty CTE
column but are exported too: an auditor sees the whole record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.audit.records import ExportEvent, OrgInfo, traceability_lot_code, utc_text
from registry.core.time import in_offset

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


def describe_orgs(orgs: Mapping[str, OrgInfo]) -> dict[str, str]:
    """`name (county code)` by organization id: the location description FDA asks for,
    worked out once per export."""
    return {
        org.id: f"{org.name} ({org.county_code})" if org.county_code else org.name
        for org in orgs.values()
    }


def _name(names: Mapping[str, str], org_id: str | None) -> str:
    if not org_id:
        return ""
    return names.get(org_id, org_id)


def _place(event: ExportEvent, names: Mapping[str, str]) -> str:
    parts = [_name(names, event.actor_org_id)]
    location = event.location or {}
    for key in ("place", "county_code", "gln"):
        if location.get(key):
            parts.append(str(location[key]))
    if location.get("lat") is not None and location.get("lon") is not None:
        parts.append(f"{location['lat']},{location['lon']}")
    return "; ".join(parts)


def _quantity(event: ExportEvent) -> tuple[str, str]:
    data = event.data
    if event.type == "packed":
        return f"{data['units']}", f"units of {data['unit_size']:g} {data['unit']}"
    if event.type == "labeled":
        return f"{data['count']}", "labels"
    if "quantity" in data:
        return f"{data['quantity']:g}", str(data.get("unit", "unit"))
    return "", ""


def _details(data: dict[str, Any]) -> str:
    shown = ("quantity", "unit", "to_org_id", "from_org_id", "reference_doc", "harvest_date")
    return "; ".join(f"{k}={v}" for k, v in data.items() if k not in shown)


def row(event: ExportEvent, names: Mapping[str, str]) -> list[str]:
    """The CSV cells of one event, in HEADER's order; `names` from describe_orgs."""
    data = event.data
    quantity, unit = _quantity(event)
    local = in_offset(event.event_time, event.event_time_offset).isoformat()
    ship_from = ship_to = ""
    if event.type == "shipped":
        ship_from = _name(names, event.actor_org_id)
        ship_to = _name(names, data.get("to_org_id"))
    elif event.type == "received":
        ship_from = _name(names, data.get("from_org_id"))
        ship_to = _name(names, event.actor_org_id)
    reference = data.get("reference_doc") or data.get("certificate_ref") or ""
    reference_type = ""
    if reference:
        reference_type = "Certificate" if event.type == "inspected" else "Shipping document"
    product = event.product + (f" ({event.variety})" if event.variety else "")
    return [
        CTE.get(event.type, ""),
        traceability_lot_code(event.gtin, event.lot),
        f"{product}, {event.brand_name}",
        quantity,
        unit,
        _place(event, names),
        local[:10],
        local[11:19],
        event.event_time_offset,
        ship_from,
        ship_to,
        _name(names, event.cooperative_org_id),
        str(data.get("harvest_date", "")),
        str(data.get("plot", "")),
        reference_type,
        str(reference),
        event.type,
        event.brand_slug,
        event.batch_id,
        str(event.seq),
        utc_text(event.recorded_at),
        event.hash,
        _details(data),
    ]
