"""A stored event as the export reads it (`ExportEvent`), for the pure mapping tests: a
batch of Rongjiang oranges recorded by the cooperative `coop`; tests override any field."""

from __future__ import annotations

from typing import Any

from registry.audit.records import ExportEvent


def export_event(type_: str, data: dict[str, Any], **fields: Any) -> ExportEvent:
    return ExportEvent(
        **{
            "batch_id": "b1",
            "type": type_,
            "event_time_offset": "+08:00",
            "actor_org_id": "coop",
            "location": None,
            "data": data,
            "prev_hash": "a" * 64,
            "hash": "b" * 64,
            "gtin": "06901234567892",
            "product": "orange",
            "variety": None,
            "brand_slug": "rj",
            "brand_name": "Rongjiang Orange",
            "cooperative_org_id": "coop",
            **fields,
        }
    )
