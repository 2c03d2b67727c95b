"""The offline outbox: many events, each applied in its own savepoint with its own result."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import DataError
from sqlmodel import Session

from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import EventPublic, SyncItem, SyncResult
from registry.batches.service import append_event
from registry.core.db import refused_value
from registry.core.errors import RegistryError
from registry.orgs.models import Organization


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def apply_outbox(
    session: Session, *, actor: Organization, items: list[SyncItem]
) -> list[SyncResult]:
    """Apply items in order. A rejected item changes nothing and does not stop the others;
    a replayed item (same idempotency key and body) answers `duplicate` with its event."""
    results: list[SyncResult] = []
    for item in items:
        base = {"idempotency_key": item.idempotency_key, "batch_id": item.batch_id}
        try:
            event = EVENT_ADAPTER.validate_python(item.event)
        except ValidationError as exc:
            results.append(
                SyncResult(
                    **base,
                    status="rejected",
                    status_code=422,
                    error="ValidationError",
                    detail=_describe(exc),
                )
            )
            continue
        savepoint = session.begin_nested()
        try:
            written, created = append_event(
                session,
                batch_id=item.batch_id,
                event=event,
                actor=actor,
                idempotency_key=item.idempotency_key,
            )
        except (RegistryError, DataError) as caught:
            savepoint.rollback()
            error = caught if isinstance(caught, RegistryError) else refused_value(caught)
            results.append(
                SyncResult(
                    **base,
                    status="rejected",
                    status_code=error.status_code,
                    error=type(error).__name__,
                    detail=error.detail,
                )
            )
            continue
        savepoint.commit()
        results.append(
            SyncResult(
                **base,
                status="created" if created else "duplicate",
                status_code=201 if created else 200,
                event=EventPublic.build(written),
            )
        )
    return results
