"""Refusals of the rules (403/409/422 on writes) recorded as alerts, so a bureau sees
attempts, not only successes.

The refused request's transaction has rolled back by the time its error is rendered, so
the alert is written in a transaction of its own. Repeats of one refusal (same caller,
batch and error) fold into one alert row whose `occurrences` counts the attempts.
"""

from __future__ import annotations

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
from registry.brands.models import Brand
from registry.core.db import unit_of_work
from registry.core.errors import RegistryError
from registry.core.time import utcnow
from registry.orgs.models import Organization

log = logging.getLogger(__name__)
REFUSAL_STATUSES = (403, 409, 422)
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
) -> AlertSignal:
    """The alert of one refused write: its kind from the error, its batch and brand from
    the path when it names them."""
    batch = None
    brand = None
    if "batch_id" in path_params:
        batch = session.get(Batch, str(path_params["batch_id"]))
    if batch is not None:
        brand = session.get(Brand, batch.brand_id)
    elif "slug" in path_params:
        brand = session.exec(select(Brand).where(Brand.slug == str(path_params["slug"]))).first()
    org = session.get(Organization, org_id)
    subject = f"refused:{org_id}:{batch.id if batch else path}:{error}"[:80]
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
        },
    )


def record_refusal(engine: Engine, **kwargs: Any) -> None:
    with unit_of_work(engine, write=True) as session:
        raise_alerts(session, [refusal_signal(session, **kwargs)])


def install_refusal_alerts(app: FastAPI) -> None:
    """Wrap the RegistryError handler: a refused authenticated write raises an alert."""
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
