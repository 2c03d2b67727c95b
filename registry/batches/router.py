"""HTTP routes for batches, their events, chain audits and the offline outbox sync."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Request, Response

from registry.batches import service, sync
from registry.batches.audit import audit_with_head_proof
from registry.batches.event_types import EventIn
from registry.batches.schemas import (
    AuditReport,
    BatchCreate,
    BatchPublic,
    EventPublic,
    IdempotencyKey,
    SyncRequest,
    SyncResponse,
)
from registry.core.auth import WriteCaller, Writer, require_kind
from registry.core.deps import SessionDep
from registry.core.pagination import (
    DEFAULT_PAGE,
    MAX_PAGE,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    parse_instant,
)
from registry.core.time import rfc3339_utc
from registry.log.answers import with_leaf_indexes
from registry.log.append import batch_leaf_indexes
from registry.orgs.models import Organization, OrgKind

router = APIRouter(prefix="/v1", tags=["batches"])
Cooperative = Annotated[WriteCaller, Depends(Writer(OrgKind.cooperative))]
Reader = Annotated[
    Organization,
    Depends(
        require_kind(
            OrgKind.admin,
            OrgKind.brand_owner,
            OrgKind.cooperative,
            OrgKind.handler,
            OrgKind.regulator,
        )
    ),
]
EventWriter = Annotated[
    WriteCaller,
    Depends(Writer(OrgKind.brand_owner, OrgKind.cooperative, OrgKind.handler, OrgKind.regulator)),
]


@router.post("/batches", status_code=201, response_model=BatchPublic)
def create_batch(body: BatchCreate, caller: Cooperative) -> BatchPublic:
    with caller.unit() as (session, coop):
        batch, brand = service.create_batch(session, actor=coop, body=body)
    return BatchPublic.build(batch, brand.slug)


@router.get("/batches", response_model=Page[BatchPublic])
def list_batches(
    session: SessionDep,
    org: Reader,
    brand: str | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[BatchPublic]:
    """Batches the caller may see, newest first; follow `next_cursor` for more."""
    after = None
    if cursor is not None:
        at, last_id = decode_cursor(cursor, str, str)
        after = (parse_instant(at), last_id)
    rows = service.list_batches(session, actor=org, brand=brand, limit=limit + 1, after=after)
    items = [BatchPublic.build(batch, slug) for batch, slug in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(rfc3339_utc(last.created_at), last.id)
    return Page[BatchPublic](items=items, next_cursor=next_cursor)


@router.get("/batches/{batch_id}", response_model=BatchPublic)
def read_batch(batch_id: str, session: SessionDep, org: Reader) -> BatchPublic:
    batch = service.get_batch(session, batch_id)
    service.ensure_visible(session, batch, org)
    return BatchPublic.build(batch, service.brand_slug(session, batch))


@router.post("/batches/{batch_id}/events", status_code=201, response_model=EventPublic)
def append_event(
    batch_id: str,
    event: Annotated[EventIn, Body()],
    caller: EventWriter,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> Response:
    """Append an event. Repeating a request with the same `Idempotency-Key` and body
    answers 200 with the original event; the same key with another body answers 409."""
    with caller.unit() as (session, org):
        written, created = service.append_event(
            session, batch_id=batch_id, event=event, actor=org, idempotency_key=idempotency_key
        )
    answer = EventPublic.build(written)
    return with_leaf_indexes(session, answer, [answer], status_code=201 if created else 200)


@router.get("/batches/{batch_id}/events", response_model=Page[EventPublic])
def list_events(
    batch_id: str,
    session: SessionDep,
    org: Reader,
    cursor: Cursor = None,
    limit: Limit = MAX_PAGE,
) -> Page[EventPublic]:
    """The chain in seq order, `limit` events a page; follow `next_cursor` for more."""
    after = decode_cursor(cursor, int)[0] if cursor is not None else -1
    events = service.list_events(
        session, batch_id=batch_id, actor=org, after_seq=after, limit=limit + 1
    )
    indexes = batch_leaf_indexes(session, batch_id)
    items = [EventPublic.build(e, indexes.get(e.seq)) for e in events[:limit]]
    next_cursor = encode_cursor(items[-1].seq) if len(events) > limit else None
    return Page[EventPublic](items=items, next_cursor=next_cursor)


@router.get("/batches/{batch_id}/audit", response_model=AuditReport)
def audit(batch_id: str, session: SessionDep, org: Reader) -> AuditReport:
    batch = service.get_batch(session, batch_id)
    service.ensure_visible(session, batch, org)
    return audit_with_head_proof(session, batch=batch)


@router.post("/sync", response_model=SyncResponse)
def sync_outbox(body: SyncRequest, caller: EventWriter, request: Request) -> Response:
    """Apply an offline outbox in order; each item succeeds or fails on its own (a refused
    one told to the app's refusal hook, if it has one)."""
    hook = getattr(request.app.state, "sync_refusal_hook", None)
    with caller.unit() as (session, org):
        results = sync.apply_outbox(session, actor=org, items=body.items, on_refused=hook)
    answer = SyncResponse(results=results)
    events = [r.event for r in answer.results if r.event is not None]
    return with_leaf_indexes(session, answer, events, status_code=200)
