"""Refusals of the rules (403/409/422 on writes) recorded as alerts, so a bureau sees
attempts, not only successes.

The refused request's transaction has rolled back by the time its error is rendered, so
the alert is written in a transaction of its own. An item of an offline outbox
(`POST /v1/sync`) is refused in its own result while the request commits: its alert is
written in that request's transaction (`record_refused_item`). Repeats of one refusal
(same caller, batch and error) fold into one alert row whose `occurrences` counts the
attempts, each refused item one attempt.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from sqlalchemy import Engine
from sqlmodel import Session, select

from registry.alerts.models import AlertKind
from registry.alerts.service import AlertSignal, raise_alerts
from registry.batches.models import Batch
from registry.batches.schemas import SyncItem
from registry.brands.models import Brand
from registry.core.db import unit_of_work
from registry.core.errors import RegistryError
from registry.core.time import utcnow
from registry.orgs.models import Organization

log = logging.getLogger(__name__)
REFUSAL_STATUSES = (403, 409, 422)
SYNC_REQUEST = ("POST", "/v1/sync")
_KINDS = {
    "QuotaExceeded": AlertKind.quota_exceeded,
    "MassBalanceExceeded": AlertKind.mass_balance_exceeded,
    "OutsideProductionArea": AlertKind.outside_production_area,
    "FutureEvent": AlertKind.future_dated,
    "HarvestOutsideLicence": AlertKind.quota_exceeded,
}


def refusal_signal(
    session: Session,
    *,
    org_id: str,
    method: str,
    path: str,
    path_params: dict[str, Any],
    error: str,
    status: int,
    detail: str,
    idempotency_key: str | None = None,
) -> AlertSignal:
    """The alert of one refused write: its kind from the error, its batch and brand from
    the path (or the outbox item) when it names them."""
    batch = None
    brand = None
    if "batch_id" in path_params:
        batch = session.get(Batch, str(path_params["batch_id"]))
    if batch is not None:
        brand = session.get(Brand, batch.brand_id)
    elif "slug" in path_params:
        brand = session.exec(select(Brand).where(Brand.slug == str(path_params["slug"]))).first()
    org = session.get(Organization, org_id)
    # Two UUIDs and the error's name do not fit the column: the subject is their digest.
    target = batch.id if batch else path
    subject = "refused:" + hashlib.sha256(f"{org_id}|{target}|{error}".encode()).hexdigest()
    return AlertSignal(
        kind=_KINDS.get(error, AlertKind.write_refused),
        subject=subject,
        batch_id=batch.id if batch else None,
        brand_id=brand.id if brand is not None else None,
        gtin=batch.gtin if batch else None,
        lot=batch.lot if batch else None,
        detail={
            "message": detail,
            "error": error,
            "status": status,
            "request": f"{method} {path}",
            "org_id": org_id,
            "org_name": org.name if org else None,
            "at": utcnow().isoformat(),
        }
        | ({"idempotency_key": idempotency_key} if idempotency_key is not None else {}),
    )


def record_refusal(engine: Engine, **kwargs: Any) -> None:
    with unit_of_work(engine, write=True) as session:
        raise_alerts(session, [refusal_signal(session, **kwargs)])


def record_refused_item(
    session: Session, actor: Organization, item: SyncItem, error: RegistryError
) -> None:
    """The alert of one outbox item a rule refused (`sync.RefusalHook`), written in the
    sync request's transaction, in a savepoint: an alert never fails the sync."""
    if error.status_code not in REFUSAL_STATUSES:
        return
    method, path = SYNC_REQUEST
    try:
        with session.begin_nested():
            signal = refusal_signal(
                session,
                org_id=actor.id,
                method=method,
                path=path,
                path_params={"batch_id": item.batch_id},
                error=type(error).__name__,
                status=error.status_code,
                detail=error.detail,
                idempotency_key=item.idempotency_key,
            )
            raise_alerts(session, [signal])
    except Exception:
        log.exception("could not record the refusal of an outbox item on %s", item.batch_id)


def install_refusal_alerts(app: FastAPI) -> None:
    """Wrap the RegistryError handler: a refused authenticated write raises an alert; and
    pass the outbox's item refusals to `record_refused_item`."""
    app.state.sync_refusal_hook = record_refused_item
    render = app.exception_handlers[RegistryError]

    async def handler(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RegistryError)
        org_id = getattr(request.state, "org_id", None)
        if (
            org_id is not None
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and exc.status_code in REFUSAL_STATUSES
        ):
            try:
                await to_thread.run_sync(
                    lambda: record_refusal(
                        request.app.state.engine,
                        org_id=org_id,
                        method=request.method,
                        path=request.url.path,
                        path_params=dict(request.path_params),
                        error=type(exc).__name__,
                        status=exc.status_code,
                        detail=exc.detail,
                    )
                )
            except Exception:  # an alert must never turn a refusal into a 500
                log.exception(
                    "could not record the refusal of %s %s", request.method, request.url.path
                )
        answer = render(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(RegistryError, handler)
