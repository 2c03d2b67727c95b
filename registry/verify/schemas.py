"""The verification verdict, as answered by the JSON API, bulk API and consumer page."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field


class Verdict(StrEnum):
    genuine = "genuine"
    suspicious = "suspicious"
    recalled = "recalled"
    invalid = "invalid"


class ReasonCode(StrEnum):
    # invalid
    malformed_code = "malformed_code"
    bad_signature = "bad_signature"
    unknown_key = "unknown_key"
    revoked_key = "revoked_key"
    unknown_batch = "unknown_batch"
    unknown_serial = "unknown_serial"
    # recalled
    batch_recalled = "batch_recalled"
    # suspicious
    scan_threshold_exceeded = "scan_threshold_exceeded"
    impossible_travel = "impossible_travel"
    not_yet_shipped = "not_yet_shipped"
    brand_suspended = "brand_suspended"
    license_revoked = "license_revoked"
    chain_broken = "chain_broken"


class Reason(BaseModel):
    code: ReasonCode
    message: str


class CodeInfo(BaseModel):
    gtin: str
    lot: str
    serial: str
    key_id: str
    url: str


class BrandInfo(BaseModel):
    slug: str
    name: str
    name_local: str | None
    category: str
    county_codes: list[str]
    status: str
    description: str | None
    standard: str | None
    # Chinese beside the English texts above (issue 13); None where the brand has none.
    category_local: str | None = None
    description_local: str | None = None
    standard_local: str | None = None


class ProducerInfo(BaseModel):
    id: str
    name: str
    county_code: str | None
    name_en: str | None = None


class BatchInfo(BaseModel):
    id: str
    lot: str
    product: str
    variety: str | None
    status: str
    harvest_date: date | None
    harvest_place: str | None
    harvest_county_code: str | None
    harvested_kg: float | None


class TimelineEntry(BaseModel):
    seq: int
    type: str
    event_time: datetime
    actor: str
    place: str | None
    actor_en: str | None = None
    county_code: str | None
    data: dict[str, Any]


class ChainInfo(BaseModel):
    length: int
    head_hash: str
    intact: bool
    # The transparency log (registry/log/, DESIGN "The transparency log"): the head event's
    # leaf index, the size of the latest signed checkpoint, the head's inclusion proof up to
    # that checkpoint's root (hex, RFC 9162 order; None while the head is newer than the
    # checkpoint) and the checkpoint itself (a signed note). None where the log has none.
    leaf_index: int | None = None
    tree_size: int | None = None
    inclusion_proof: list[str] | None = None
    checkpoint: str | None = None


class ScanInfo(BaseModel):
    """Distinct devices (phones) that scanned the code, not page loads."""

    count: int
    first_at: datetime | None
    first_region: str | None = None
    # Distinct devices the code may see before it is flagged (the brand's, else the default).
    threshold: int | None = None
    # This device scanned the code first (it keeps "genuine" even once copies are caught).
    first_by_you: bool = False
    flagged_at: datetime | None = None


class VerifyResult(BaseModel):
    verdict: Verdict
    reasons: list[Reason]
    code: CodeInfo | None
    brand: BrandInfo | None = None
    producer: ProducerInfo | None = None
    batch: BatchInfo | None = None
    timeline: list[TimelineEntry] = []
    chain: ChainInfo | None = None
    scans: ScanInfo | None = None
    checked_at: datetime


MAX_BULK_CODES = 1000


class BulkVerifyRequest(BaseModel):
    # Items are label URLs; any other JSON value is answered `invalid`, not refused.
    codes: Annotated[list[Any], Field(max_length=MAX_BULK_CODES)]


class BulkResult(BaseModel):
    """One entry of a bulk answer, in request order: the code as given and its verdict.
    Bulk checks are listings, not consumer scans, so they are not counted as scans."""

    code: str
    verdict: Verdict
    reasons: list[Reason]
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    brand: str | None = None
    county_codes: list[str] | None = None
    batch_id: str | None = None


class BulkVerifyResponse(BaseModel):
    results: list[BulkResult]
