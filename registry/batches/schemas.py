"""Request and response bodies for batches, events, chain audits and offline sync."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registry.batches.chain import event_body
from registry.batches.event_types import Translations
from registry.batches.models import Batch, BatchStatus, Event
from registry.core.identifiers import check_gs1_text, check_text, normalize_gtin
from registry.core.time import as_utc, in_offset
from registry.log.schemas import HeadProof

Lot = Annotated[str, AfterValidator(lambda v: check_gs1_text(v, field="lot"))]
Gtin = Annotated[str, AfterValidator(normalize_gtin)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)]


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    brand: Annotated[Text, Field(max_length=64)]
    lot: Lot
    product: Text
    variety: Text | None = None
    gtin: Gtin | None = None
    # `product` and `variety` in other languages, kept in event 0's data.
    translations: Translations | None = None


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


class EventFields(Protocol):
    """What hashing and auditing read from an event: an `Event` or a row of its columns."""

    @property
    def id(self) -> int | None: ...
    @property
    def batch_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def event_time_offset(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def actor_org_id(self) -> str: ...
    @property
    def location(self) -> dict[str, Any] | None: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


def hashed_body(event: EventFields) -> dict[str, Any]:
    """The exact object whose JCS bytes the event's hash covers (times in UTC form)."""
    return event_body(
        batch_id=event.batch_id,
        seq=event.seq,
        type=event.type,
        event_time=event.event_time,
        event_time_offset=event.event_time_offset,
        recorded_at=event.recorded_at,
        actor_org_id=event.actor_org_id,
        location=event.location,
        data=event.data,
    )


class EventPublic(BaseModel):
    """An event as shown: its fields (event_time in its original offset), and everything
    an outsider needs to check it: `body` (the exact hashed object, times in the hashed
    UTC form), `prev_hash`, `hash` = SHA-256(prev_hash bytes || JCS(body)) and the event's
    `leaf_index` in the transparency log (null until the log has integrated it)."""

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
    body: dict[str, Any]
    leaf_index: int | None = None

    @classmethod
    def build(cls, event: Event, leaf_index: int | None = None) -> EventPublic:
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
            body=hashed_body(event),
            leaf_index=leaf_index,
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
    # The head event's leaf index, its inclusion proof against the latest checkpoint and
    # that checkpoint (GET /v1/batches/{id}/audit; null where not computed).
    log: HeadProof | None = None


class SyncItem(BaseModel):
    """One event recorded offline: where it goes, its idempotency key and its body."""

    batch_id: Annotated[str, AfterValidator(check_text)]
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
