"""The one answer writer: a verdict as JSON bytes (orjson), field for field the
`VerifyResult` / `BulkVerifyResponse` schemas (tests/verify/test_answer.py holds them equal).
The parts that depend only on the batch (brand, producer, batch summary, timeline, chain)
are rendered once per batch when its facts are loaded, and reused as JSON fragments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
from pydantic import TypeAdapter

from registry.batches.event_types import MASS_UNITS_KG
from registry.batches.ledger import LedgerEvent, effective_events
from registry.batches.models import Batch, Event
from registry.brands.models import Brand
from registry.codes.digital_link import MAX_URL_LENGTH, LabelCode
from registry.core.time import as_utc, in_offset
from registry.scans.rules import CodeScans
from registry.verify.facts import Facts
from registry.verify.judge import Judgement
from registry.verify.schemas import (
    BatchInfo,
    BrandInfo,
    ProducerInfo,
    Reason,
    TimelineEntry,
    Verdict,
)

_OPTIONS = orjson.OPT_UTC_Z  # datetimes as pydantic writes them (...Z)
_TIMELINE = TypeAdapter(list[TimelineEntry])


class BatchDescription(NamedTuple):
    """The parts of a verdict that depend only on the batch, not on the code or the scan."""

    brand: BrandInfo
    producer: ProducerInfo
    batch: BatchInfo
    timeline: list[TimelineEntry]


def describe_batch(batch: Batch, brand: Brand, facts: Facts) -> BatchDescription:
    """Brand, producer, batch summary and timeline of a verified code's batch (the
    verification cache renders these once per batch and reuses them)."""
    events = facts.events.get(batch.id, [])
    producer = facts.producers.get(batch.cooperative_org_id)
    return BatchDescription(
        brand=BrandInfo(
            slug=brand.slug,
            name=brand.name,
            name_local=brand.name_local,
            category=brand.category,
            county_codes=list(brand.county_codes),
            status=str(brand.status),
            description=brand.description,
            standard=brand.standard,
            category_local=brand.category_local,
            description_local=brand.description_local,
            standard_local=brand.standard_local,
        ),
        producer=ProducerInfo(
            id=batch.cooperative_org_id,
            name=producer.name if producer else "",
            county_code=producer.county_code if producer else None,
            name_en=producer.name_en if producer else None,
        ),
        batch=_batch_info(batch, events),
        # In the order things happened (a correction or a late-synced event may carry an
        # earlier time than the event before it); `seq` keeps the chain's order.
        timeline=sorted(
            (_timeline_entry(e, facts) for e in events),
            key=lambda entry: (as_utc(entry.event_time), entry.seq),
        ),
    )


def _batch_info(batch: Batch, events: list[Event]) -> BatchInfo:
    """The batch summary, with corrections applied to its harvest events."""
    by_seq = {e.seq: e for e in events}
    harvests = [
        e
        for e in effective_events(
            [LedgerEvent(e.seq, e.type, e.actor_org_id, e.data) for e in events]
        )
        if e.type == "harvested"
    ]
    first = harvests[0] if harvests else None
    location = (by_seq[first.seq].location or {}) if first else {}
    return BatchInfo(
        id=batch.id,
        lot=batch.lot,
        product=batch.product,
        variety=batch.variety,
        status=str(batch.status),
        harvest_date=date.fromisoformat(first.data["harvest_date"]) if first else None,
        harvest_place=location.get("place"),
        harvest_county_code=location.get("county_code"),
        harvested_kg=sum(
            float(h.data["quantity"]) * MASS_UNITS_KG[h.data["unit"]] for h in harvests
        )
        if harvests
        else None,
    )


def _timeline_entry(event: Event, facts: Facts) -> TimelineEntry:
    location = event.location or {}
    return TimelineEntry(
        seq=event.seq,
        type=event.type,
        event_time=in_offset(event.event_time, event.event_time_offset),
        actor=facts.actor_names.get(event.actor_org_id, event.actor_org_id),
        actor_en=facts.actor_names_en.get(event.actor_org_id),
        place=location.get("place"),
        county_code=location.get("county_code"),
        data=event.data,
    )


def _as_text(entry: Any) -> str:
    """A JSON value as JSON text. orjson writes no integer beyond 64 bits (it raises a
    TypeError), so such a value is written by the standard library instead; an integer
    too long even for that (ValueError, the interpreter's digit limit) by its size only."""
    try:
        return orjson.dumps(entry, default=str).decode()
    except TypeError:
        try:
            return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return f"<{type(entry).__name__} too large to repeat>"


def _echo(entry: Any) -> str:
    """The entry as the answer repeats it: text, cut to a URL's maximum length, and
    encodable (a lone surrogate in the request must not break the response)."""
    text = entry if isinstance(entry, str) else _as_text(entry)
    if len(text) > MAX_URL_LENGTH:
        text = text[:MAX_URL_LENGTH] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class BatchParts:
    """The answer's members that depend only on the batch, as ready-made JSON."""

    brand: orjson.Fragment
    producer: orjson.Fragment
    batch: orjson.Fragment
    timeline: orjson.Fragment
    chain: orjson.Fragment


def render_parts(batch: Batch, facts: Facts) -> BatchParts:
    """`describe_batch` and the chain of a batch, rendered once."""
    audit = facts.audits[batch.id]
    described = describe_batch(batch, facts.brands[batch.brand_id], facts)
    proof = facts.head_proofs.get(batch.id)
    chain = {
        "length": audit.length,
        "head_hash": batch.head_hash,
        "intact": audit.intact,
        # The transparency log: the head event's leaf, its inclusion proof up to the root of
        # the signed checkpoint (null while the head is newer than the latest checkpoint).
        "leaf_index": proof.leaf_index if proof else None,
        "tree_size": proof.tree_size if proof else None,
        "inclusion_proof": proof.proof if proof else None,
        "checkpoint": proof.checkpoint if proof else None,
    }
    return BatchParts(
        brand=orjson.Fragment(described.brand.model_dump_json()),
        producer=orjson.Fragment(described.producer.model_dump_json()),
        batch=orjson.Fragment(described.batch.model_dump_json()),
        timeline=orjson.Fragment(_TIMELINE.dump_json(described.timeline)),
        chain=orjson.Fragment(orjson.dumps(chain)),
    )


def _reasons(reasons: list[Reason]) -> list[dict[str, str]]:
    return [{"code": r.code.value, "message": r.message} for r in reasons]


def code_fields(code: LabelCode, public_url: str) -> dict[str, str]:
    """The `code` member (`CodeInfo`)."""
    return {
        "gtin": code.gtin,
        "lot": code.lot,
        "serial": code.serial,
        "key_id": code.key_id.hex(),
        "url": code.to_url(public_url),
    }


def scan_fields(scans: CodeScans, threshold: int | None) -> dict[str, Any]:
    """The `scans` member (`ScanInfo`): distinct devices, not page loads."""
    return {
        "count": scans.devices,
        "first_at": scans.first_at,
        "first_region": scans.first_region,
        "threshold": threshold,
        "first_by_you": scans.rank == 1,
        "flagged_at": scans.flag.at if scans.flag else None,
    }


def write_answer(
    judged: Judgement,
    code: dict[str, str] | None,
    parts: BatchParts | None,
    scans: CodeScans | None,
    now: datetime,
) -> bytes:
    """One code's answer (`VerifyResult`); an invalid code vouches for nothing, so it
    carries the code as read and no brand, batch or timeline."""
    vouched = judged.verdict != Verdict.invalid and parts is not None
    return orjson.dumps(
        {
            "verdict": judged.verdict.value,
            "reasons": _reasons(judged.reasons),
            "code": code,
            "brand": parts.brand if vouched and parts else None,
            "producer": parts.producer if vouched and parts else None,
            "batch": parts.batch if vouched and parts else None,
            "timeline": parts.timeline if vouched and parts else [],
            "chain": parts.chain if vouched and parts else None,
            "scans": scan_fields(scans, judged.threshold) if vouched and scans else None,
            "checked_at": now,
        },
        option=_OPTIONS,
    )


def bulk_entry(entry: Any, code: LabelCode | None, judged: Judgement) -> dict[str, Any]:
    """One entry of a bulk answer (`BulkResult`)."""
    brand = judged.brand
    return {
        "code": _echo(entry),
        "verdict": judged.verdict.value,
        "reasons": _reasons(judged.reasons),
        "gtin": code.gtin if code else None,
        "lot": code.lot if code else None,
        "serial": code.serial if code else None,
        "brand": brand.slug if brand else None,
        "county_codes": list(brand.county_codes) if brand else None,
        "batch_id": judged.batch.id if judged.batch else None,
    }


def write_bulk(entries: list[dict[str, Any]]) -> bytes:
    """A bulk answer (`BulkVerifyResponse`)."""
    return orjson.dumps({"results": entries}, option=_OPTIONS)
