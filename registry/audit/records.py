"""The plain records the audit's pure mappers work on; no framework, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class OrgInfo:
    id: str
    name: str
    kind: str
    county_code: str | None = None


@dataclass(slots=True)  # not frozen: built once per exported event, and frozen is slower
class ExportEvent:
    """One stored event with the batch facts every export row needs."""

    batch_id: str
    seq: int
    type: str
    event_time: datetime  # UTC
    event_time_offset: str
    recorded_at: datetime  # UTC
    actor_org_id: str
    location: dict[str, Any] | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    gtin: str | None
    lot: str
    product: str
    variety: str | None
    brand_slug: str
    brand_name: str
    cooperative_org_id: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def naive_utc(value: datetime) -> datetime:
    """The UTC wall time of an aware datetime, without tzinfo. By arithmetic: on the
    export's hot path `replace(tzinfo=None)` (keyword parsing) costs several times more."""
    return _NAIVE_EPOCH + (value - _EPOCH)


def utc_text(value: datetime) -> str:
    """`rfc3339_utc`'s form (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) of an aware datetime, by
    isoformat, which is several times faster than strftime on the export's hot path."""
    return naive_utc(value).isoformat(timespec="microseconds") + "Z"


def traceability_lot_code(gtin: str | None, lot: str) -> str:
    """FSMA 204's traceability lot code as a GS1 element string: (01) GTIN + (10) lot."""
    return f"(01){gtin}(10){lot}" if gtin else lot


def class_uri(base_url: str, event: ExportEvent) -> str:
    """GS1 Digital Link of the lot (class level): the label URL without serial and
    signature; a batch without a GTIN is named by its registry URL."""
    if event.gtin:
        return f"{base_url}/01/{event.gtin}/10/{quote(event.lot, safe='')}"
    return bulk_uri(base_url, event.batch_id)


def bulk_uri(base_url: str, batch_id: str) -> str:
    """The unpacked harvest of a batch (before it becomes packed trade units)."""
    return f"{base_url}/v1/batches/{batch_id}"


def serial_uri(base_url: str, gtin: str, lot: str, serial: str) -> str:
    """GS1 Digital Link of one labelled unit (instance level)."""
    return f"{base_url}/01/{gtin}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}"


def party_uri(base_url: str, org_id: str) -> str:
    return f"{base_url}/v1/orgs/{org_id}"


def event_uri(base_url: str, batch_id: str, seq: int) -> str:
    return f"{base_url}/v1/batches/{batch_id}/events/{seq}"
