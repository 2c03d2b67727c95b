"""Maps the registry's events to GS1 EPCIS 2.0 JSON-LD (DESIGN.md's event table); pure.

Every event keeps its chain facts as extension fields (`reg:batch`, `reg:seq`,
`reg:chainHash`, `reg:prevHash`) so an importer can check it against the chain, and its
whole stored `data` as `reg:data`. Where CBV 2.0 has no term (applying inputs, cooling,
recalling) the registry's own vocabulary under `{public URL}/ns/epcis/` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from registry.audit.records import (
    ExportEvent,
    bulk_uri,
    class_uri,
    event_uri,
    party_uri,
    serial_uri,
    utc_text,
)
from registry.core.time import in_offset, rfc3339_utc

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
VOCAB_PATH = "/ns/epcis/"
# UN/CEFACT Recommendation 20 codes of the registry's units.
UOM = {"g": "GRM", "kg": "KGM", "t": "TNE", "unit": "H87", "box": "BX", "case": "CS", "bag": "BG"}
KG_PER = {"g": 0.001, "kg": 1.0, "t": 1000.0}

# type -> (EPCIS action, bizStep, disposition); None: not set. `vocab:` names are ours.
_OBJECT_EVENTS: dict[str, tuple[str, str | None, str | None]] = {
    "created": ("ADD", "commissioning", "active"),
    "input_applied": ("OBSERVE", "vocab:input_applying", None),
    # ADD: EPCIS allows ILMD (the harvest's lot master data) only on ADD events.
    "harvested": ("ADD", "commissioning", "active"),
    "inspected": ("OBSERVE", "inspecting", None),
    "cooled": ("OBSERVE", "vocab:cooling", None),
    "labeled": ("ADD", "commissioning", "active"),
    "stored": ("OBSERVE", "storing", "sellable_not_accessible"),
    "shipped": ("OBSERVE", "shipping", "in_transit"),
    "received": ("OBSERVE", "receiving", "in_progress"),
    "sold": ("OBSERVE", "retail_selling", "retail_sold"),
    "recalled": ("OBSERVE", "vocab:recalling", "recalled"),
}


def vocabulary(base_url: str) -> str:
    return f"{base_url}{VOCAB_PATH}"


def context(base_url: str) -> list[Any]:
    return [EPCIS_CONTEXT, {"reg": vocabulary(base_url)}]


def document_head(base_url: str, *, created_at: datetime, document_id: str) -> bytes:
    """The start of an EPCISDocument up to its open event list; events follow, comma
    separated, then DOCUMENT_TAIL. Written in pieces so an export streams."""
    head = orjson.dumps(
        {
            "@context": context(base_url),
            "id": document_id,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": rfc3339_utc(created_at),
        }
    )
    return head[:-1] + b',"epcisBody":{"eventList":['


DOCUMENT_TAIL = b"]}}"


def _term(base_url: str, term: str | None) -> str | None:
    if term is None or not term.startswith("vocab:"):
        return term
    return f"{vocabulary(base_url)}{term.removeprefix('vocab:')}"


def _uri_of(base_url: str, kind: str, text: str) -> str:
    """A value that is already an absolute URI is kept; other text gets one of ours."""
    if text.startswith(("http://", "https://", "urn:")):
        return text
    return f"{vocabulary(base_url)}{kind}/{quote(text, safe='')}"


def _location_uri(base_url: str, location: dict[str, Any] | None) -> str | None:
    if not location:
        return None
    if location.get("gln"):
        return f"https://id.gs1.org/414/{location['gln']}"
    if location.get("lat") is not None and location.get("lon") is not None:
        return f"geo:{location['lat']},{location['lon']}"
    if location.get("county_code"):
        return f"{vocabulary(base_url)}county/{location['county_code']}"
    return None


def _quantity(epc_class: str, quantity: float, unit: str) -> dict[str, Any]:
    return {"epcClass": epc_class, "quantity": quantity, "uom": UOM[unit]}


def _serials(base_url: str, event: ExportEvent, data: dict[str, Any]) -> list[str]:
    first, last = data["first_serial"], data["last_serial"]
    width = len(first)
    gtin = event.gtin or ""
    return [
        serial_uri(base_url, gtin, event.lot, f"{n:0{width}d}")
        for n in range(int(first), int(last) + 1)
    ]


def _body(base_url: str, event: ExportEvent, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The EPCIS fields of an event of `type_` with `data` (the event's own, or corrected)."""
    actor = party_uri(base_url, event.actor_org_id)
    if type_ == "packed":
        unit_kg = float(data["unit_size"]) * KG_PER[data["unit"]]
        return {
            "type": "TransformationEvent",
            "bizStep": "packing",
            "inputQuantityList": [
                _quantity(bulk_uri(base_url, event.batch_id), int(data["units"]) * unit_kg, "kg")
            ],
            "outputQuantityList": [
                _quantity(class_uri(base_url, event), int(data["units"]), "unit")
            ],
        }
    action, biz_step, disposition = _OBJECT_EVENTS[type_]
    body: dict[str, Any] = {"type": "ObjectEvent", "action": action}
    if type_ == "labeled" and event.gtin:
        body["epcList"] = _serials(base_url, event, data)
    elif type_ == "harvested":
        body["quantityList"] = [
            _quantity(bulk_uri(base_url, event.batch_id), data["quantity"], data["unit"])
        ]
    elif "quantity" in data:
        body["quantityList"] = [
            _quantity(class_uri(base_url, event), data["quantity"], data.get("unit", "unit"))
        ]
    else:
        body["quantityList"] = [{"epcClass": class_uri(base_url, event)}]
    body["bizStep"] = _term(base_url, biz_step)
    if type_ == "inspected":
        disposition = "conformant" if data["result"] == "pass" else "non_conformant"
        if data.get("certificate_ref"):
            body["certificationInfo"] = _uri_of(base_url, "certificate", data["certificate_ref"])
    if disposition is not None:
        body["disposition"] = disposition
    if type_ == "shipped":
        body["sourceList"] = [{"type": "owning_party", "source": actor}]
        body["destinationList"] = [
            {"type": "owning_party", "destination": party_uri(base_url, data["to_org_id"])}
        ]
    elif type_ == "received":
        body["sourceList"] = [
            {"type": "owning_party", "source": party_uri(base_url, data["from_org_id"])}
        ]
        body["destinationList"] = [{"type": "owning_party", "destination": actor}]
    if type_ == "harvested":
        ilmd = {"reg:harvestDate": data["harvest_date"], "reg:product": event.product}
        if data.get("plot"):
            ilmd["reg:plot"] = data["plot"]
        if event.variety:
            ilmd["reg:variety"] = event.variety
        body["ilmd"] = ilmd
    return body


def _frame(base_url: str, event: ExportEvent, body: dict[str, Any]) -> dict[str, Any]:
    """Times, places and the chain's extension fields around an event body."""
    framed: dict[str, Any] = {
        "type": body.pop("type"),
        "eventID": event_uri(base_url, event.batch_id, event.seq),
        "eventTime": in_offset(event.event_time, event.event_time_offset).isoformat(),
        "eventTimeZoneOffset": event.event_time_offset,
        "recordTime": utc_text(event.recorded_at),
        **body,
    }
    read_point = _location_uri(base_url, event.location)
    if read_point is not None:
        framed["readPoint"] = {"id": read_point}
    framed["bizLocation"] = {"id": party_uri(base_url, event.actor_org_id)}
    framed["reg:brand"] = event.brand_slug
    framed["reg:batch"] = event.batch_id
    framed["reg:seq"] = event.seq
    framed["reg:eventType"] = event.type
    framed["reg:actor"] = party_uri(base_url, event.actor_org_id)
    framed["reg:chainHash"] = event.hash
    framed["reg:prevHash"] = event.prev_hash
    framed["reg:data"] = event.data
    return framed


def map_event(
    base_url: str, event: ExportEvent, *, corrected: Callable[[int], ExportEvent | None]
) -> list[dict[str, Any]]:
    """The EPCIS events of one stored event. A correction becomes the erroneous event
    declared again with an errorDeclaration (CBV `incorrect_data`, or `did_not_occur`
    when it voids the event), followed, if it carries corrected data, by the corrective
    event that the declaration names; `corrected(seq)` finds the erroneous event."""
    if event.type != "correction":
        return [_frame(base_url, event, _body(base_url, event, event.type, event.data))]
    target = corrected(int(event.data["seq"]))
    if target is None:
        return []
    replacement = event.data.get("corrected_data")
    declared = _frame(base_url, target, _body(base_url, target, target.type, target.data))
    declaration: dict[str, Any] = {
        "declarationTime": rfc3339_utc(event.recorded_at),
        "reason": "incorrect_data" if replacement is not None else "did_not_occur",
        "reg:reason": event.data["reason"],
    }
    if replacement is None:
        declared["errorDeclaration"] = declaration
        return [declared]
    declaration["correctiveEventIDs"] = [event_uri(base_url, event.batch_id, event.seq)]
    declared["errorDeclaration"] = declaration
    corrective = _frame(base_url, event, _body(base_url, event, target.type, replacement))
    corrective["reg:corrects"] = event_uri(base_url, target.batch_id, target.seq)
    return [declared, corrective]
