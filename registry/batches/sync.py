"""The offline outbox: many events, each with its own result.

Every batch the outbox names is locked first, in one global order (`locking.py`), so
concurrent outboxes over the same batches queue instead of deadlocking; a deadlock that
other locks still cause is retried inside the server, a bounded number of times. Items are
checked in order and written together by one flush; only if the database refuses a value
or a key are they redone one by one, each in its own savepoint.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from registry.batches.event_types import EVENT_ADAPTER, EventBase
from registry.batches.locking import lock_batches, with_retries
from registry.batches.models import Event
from registry.batches.schemas import EventPublic, SyncItem, SyncResult
from registry.batches.service import (
    append_event,
    deferred_flush,
    forget_idempotency_keys,
    number_new_events,
    preload_idempotency_keys,
)
from registry.core.db import refused_value
from registry.core.errors import Conflict, RegistryError
from registry.orgs.models import Organization

# Told of each item a rule refused (a RegistryError: 403, 409, 422...) in the request's
# transaction; the audit layer above passes its alert recorder in (audit/refusals.py).
RefusalHook = Callable[[Session, Organization, SyncItem, RegistryError], None]


def _describe(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def _rejected(item: Any, *, error: RegistryError | None = None, invalid: str = "") -> SyncResult:
    raw = item.model_dump() if isinstance(item, SyncItem) else item
    fields = raw if isinstance(raw, dict) else {}
    key, batch = fields.get("idempotency_key"), fields.get("batch_id")
    return SyncResult(
        idempotency_key=key if isinstance(key, str) else None,
        batch_id=batch if isinstance(batch, str) else None,
        status="rejected",
        status_code=error.status_code if error else 422,
        error=type(error).__name__ if error else "ValidationError",
        detail=error.detail if error else invalid,
    )


def _parse(item: Any) -> tuple[SyncItem, EventBase] | SyncResult:
    """The item and its event, or its refusal (422) if either is malformed."""
    try:
        parsed = item if isinstance(item, SyncItem) else SyncItem.model_validate(item)
    except ValidationError as exc:
        return _rejected(item, invalid=_describe(exc))
    try:
        event = EVENT_ADAPTER.validate_python(parsed.event)
    except ValidationError as exc:
        return _rejected(parsed, invalid=_describe(exc))
    return parsed, event


Parsed = tuple[SyncItem, EventBase] | SyncResult


class _KeyRace(Exception):
    """The item's idempotency key was inserted by a concurrent request meanwhile."""


def _refused(
    session: Session,
    *,
    actor: Organization,
    item: SyncItem,
    error: RegistryError,
    on_refused: RefusalHook | None,
) -> SyncResult:
    if on_refused is not None:
        on_refused(session, actor, item, error)
    return _rejected(item, error=error)


def _append(
    session: Session,
    *,
    actor: Organization,
    item: SyncItem,
    event: EventBase,
    on_refused: RefusalHook | None,
) -> SyncResult:
    """One item in its own savepoint: its event, or its refusal, which changes nothing
    (but is told to `on_refused`)."""
    savepoint = session.begin_nested()
    try:
        written, created = append_event(
            session,
            batch_id=item.batch_id,
            event=event,
            actor=actor,
            idempotency_key=item.idempotency_key,
        )
    except RegistryError as exc:
        savepoint.rollback()
        return _refused(session, actor=actor, item=item, error=exc, on_refused=on_refused)
    except DataError as exc:
        savepoint.rollback()
        refusal = refused_value(exc)
        return _refused(session, actor=actor, item=item, error=refusal, on_refused=on_refused)
    except IntegrityError as exc:
        # Only a concurrent insert of the same (org, idempotency key) gets here: the batch
        # is locked, so its seq cannot clash. That request has committed by now.
        savepoint.rollback()
        forget_idempotency_keys(session, item.idempotency_key)
        raise _KeyRace from exc
    savepoint.commit()
    return _applied(item, written, created)


def _applied(item: SyncItem, written: Event, created: bool) -> SyncResult:
    return SyncResult(
        idempotency_key=item.idempotency_key,
        batch_id=item.batch_id,
        status="created" if created else "duplicate",
        status_code=201 if created else 200,
        event=EventPublic.build(written),
    )


def _apply_each(
    session: Session, *, actor: Organization, parsed: list[Parsed], on_refused: RefusalHook | None
) -> list[SyncResult]:
    """Every item in its own savepoint and flush: exact per item, one round trip each."""
    results: list[SyncResult] = []
    for entry in parsed:
        if isinstance(entry, SyncResult):
            results.append(entry)
            continue
        item, event = entry
        append = partial(
            _append, session, actor=actor, item=item, event=event, on_refused=on_refused
        )
        try:
            results.append(append())
        except _KeyRace:
            # Seen again, the committed event makes this a duplicate (same batch and body)
            # or a reused key (409), exactly as if the two requests had come one by one.
            try:
                results.append(append())
            except _KeyRace:
                conflict = Conflict("a concurrent request wrote a conflicting event; retry")
                results.append(
                    _refused(session, actor=actor, item=item, error=conflict, on_refused=on_refused)
                )
    return results


def _apply_together(
    session: Session, *, actor: Organization, parsed: list[Parsed], on_refused: RefusalHook | None
) -> list[SyncResult]:
    """Every item checked in turn, all written by one flush. A rule's refusal changes
    nothing (append_event checks before it writes), so no savepoint per item is needed;
    a value or key the database refuses raises, and the caller redoes the items one by one
    (rolling back what this wrote, refusals told to `on_refused` included)."""
    results: list[SyncResult] = []
    with deferred_flush(session):
        for entry in parsed:
            if isinstance(entry, SyncResult):
                results.append(entry)
                continue
            item, event = entry
            try:
                written, created = append_event(
                    session,
                    batch_id=item.batch_id,
                    event=event,
                    actor=actor,
                    idempotency_key=item.idempotency_key,
                )
            except RegistryError as exc:
                results.append(
                    _refused(session, actor=actor, item=item, error=exc, on_refused=on_refused)
                )
                continue
            results.append(_applied(item, written, created))
    number_new_events(session)
    session.flush()
    return results


def _apply_once(
    session: Session, *, actor: Organization, items: list[Any], on_refused: RefusalHook | None
) -> list[SyncResult]:
    parsed = [_parse(item) for item in items]
    lock_batches(session, (p[0].batch_id for p in parsed if isinstance(p, tuple)))
    keys = [p[0].idempotency_key for p in parsed if isinstance(p, tuple)]
    # One query for every item's key instead of one per item; fresh for each attempt.
    preload_idempotency_keys(session, actor_id=actor.id, keys=keys)
    together = session.begin_nested()
    try:
        results = _apply_together(session, actor=actor, parsed=parsed, on_refused=on_refused)
    except (DataError, IntegrityError):
        together.rollback()
        preload_idempotency_keys(session, actor_id=actor.id, keys=keys)
        return _apply_each(session, actor=actor, parsed=parsed, on_refused=on_refused)
    except BaseException:
        together.rollback()
        raise
    together.commit()
    return results


def apply_outbox(
    session: Session,
    *,
    actor: Organization,
    items: list[Any],
    on_refused: RefusalHook | None = None,
) -> list[SyncResult]:
    """Apply items in order. A rejected item (malformed, or refused by a rule) changes
    nothing and does not stop the others; a replayed item (same idempotency key and body,
    even from a concurrent request) answers `duplicate` with its original event. Each item
    a rule refused is told to `on_refused`; a retry after a deadlock rolls back what it
    wrote and tells it again."""
    try:
        return with_retries(
            session,
            lambda: _apply_once(session, actor=actor, items=items, on_refused=on_refused),
        )
    finally:
        forget_idempotency_keys(session)
