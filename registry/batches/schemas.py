"""Request and response bodies for batches, events, chain audits and offline sync."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registry.batches.models import Batch, BatchStatus, Event
from registry.core.identifiers import check_gs1_text, normalize_gtin
from registry.core.time import as_utc, in_offset

Lot = Annotated[str, AfterValidator(lambda v: check_gs1_text(v, field="lot"))]
Gtin = Annotated[str, AfterValidator(normalize_gtin)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200)]


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    brand: Annotated[str, Field(min_length=1, max_length=64)]
    lot: Lot
    product: Annotated[str, Field(min_length=1, max_length=200)]
    variety: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    gtin: Gtin | None = None


class ChainHead(BaseModel):
    seq: int
    hash: str


class BatchPublic(BaseModel):
    id: str
    lot: str
    brand: str
    product: str
    variety: str | None
    gtin: str | None
    status: BatchStatus
    cooperative_org_id: str
    head: ChainHead
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, batch: Batch, brand_slug: str) -> BatchPublic:
        return cls(
            id=batch.id,
            lot=batch.lot,
            brand=brand_slug,
            product=batch.product,
            variety=batch.variety,
            gtin=batch.gtin,
            status=batch.status,
            cooperative_org_id=batch.cooperative_org_id,
            head=ChainHead(seq=batch.head_seq, hash=batch.head_hash),
            created_at=as_utc(batch.created_at),
            updated_at=as_utc(batch.updated_at),
        )


class EventPublic(BaseModel):
    batch_id: str
    seq: int
    type: str
    event_time: datetime
    event_time_offset: str
    recorded_at: datetime
    actor_org_id: str
    location: dict[str, Any] | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def build(cls, event: Event) -> EventPublic:
        return cls(
            batch_id=event.batch_id,
            seq=event.seq,
            type=event.type,
            event_time=in_offset(event.event_time, event.event_time_offset),
            event_time_offset=event.event_time_offset,
            recorded_at=as_utc(event.recorded_at),
            actor_org_id=event.actor_org_id,
            location=event.location,
            data=event.data,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class ChainProblemPublic(BaseModel):
    seq: int
    problem: str


class AuditReport(BaseModel):
    batch_id: str
    intact: bool
    length: int
    head_hash: str
    problems: list[ChainProblemPublic]


class SyncItem(BaseModel):
    """One event recorded offline: where it goes, its idempotency key and its body."""

    batch_id: str
    idempotency_key: IdempotencyKey
    event: dict[str, Any]


MAX_SYNC_ITEMS = 1000


class SyncRequest(BaseModel):
    """An outbox of 1 to 1,000 items. Only a malformed request (not an object with a list
    of `items`, or too many) is refused whole; an item that is not a valid `SyncItem`
    stays here as sent and is refused in its own result."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[
        list[Annotated[SyncItem | Any, Field(union_mode="left_to_right")]],
        Field(min_length=1, max_length=MAX_SYNC_ITEMS),
    ]


class SyncResult(BaseModel):
    # As the item gave them; null when the item had none (or not a string).
    idempotency_key: str | None
    batch_id: str | None
    status: Literal["created", "duplicate", "rejected"]
    status_code: int
    event: EventPublic | None = None
    error: str | None = None
    detail: str | None = None


class SyncResponse(BaseModel):
    results: list[SyncResult]
