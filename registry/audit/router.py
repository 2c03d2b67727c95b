"""HTTP routes of the regulator tools: export, trace, mass balance, alerts (read-only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from registry.audit import export, jobs, service
from registry.audit.report_csv import mass_balance_csv
from registry.audit.schemas import AlertPublic, MassBalanceReport, TraceAnswer
from registry.audit.scope import AUDITORS
from registry.core.auth import require_kind
from registry.core.config import get_settings
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_PAGE, Cursor, Limit, Page
from registry.core.queue import TaskQueueDep
from registry.jobs.schemas import JobPublic
from registry.orgs.models import Organization

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Organization, Depends(require_kind(*AUDITORS))]
Gtin = Annotated[str | None, Query(min_length=1, max_length=14, pattern=r"^[0-9]+$")]
Lot = Annotated[str | None, Query(min_length=1, max_length=20)]


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {"content": {"application/ld+json": {}, "text/csv": {}}},
        202: {"model": JobPublic, "description": "too large to answer at once: a job"},
    },
)
def export_events(
    request: Request,
    session: SessionDep,
    org: Auditor,
    queue: TaskQueueDep,
    format: Literal["epcis", "csv"] = "epcis",
    brand: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    batch_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    gtin: Gtin = None,
    lot: Lot = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """Every recorded event of a brand, a batch or a lot (GTIN + lot), optionally between
    two days (UTC, both included), as one EPCIS 2.0 JSON-LD document or the FSMA 204
    sortable spreadsheet (CSV, UTF-8 with BOM), streamed. More events than
    `REGISTRY_AUDIT_EXPORT_INLINE_MAX` answer 202 with a job whose result is the file."""
    plan = export.plan_export(
        session,
        org=org,
        brand=brand,
        batch_id=batch_id,
        gtin=gtin,
        lot=lot,
        date_from=date_from,
        date_to=date_to,
    )
    settings = get_settings()
    total = export.count_events(session, plan=plan, org=org)
    if total > settings.audit_export_inline_max:
        job = jobs.create_export_job(
            session, plan=plan, format=format, total=total, actor=org, queue=queue
        )
        return Response(
            JobPublic.build(job).model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"Location": f"/v1/jobs/{job.id}"},
        )
    chunks = export.export_chunks(
        request.app.state.engine, plan=plan, format=format, base_url=settings.public_url
    )
    name = export.file_name(plan, format)
    return StreamingResponse(
        chunks,
        media_type=export.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Event-Count": str(total),
        },
    )


@router.get("/trace", response_model=TraceAnswer)
def trace(
    session: SessionDep,
    org: Auditor,
    batch_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    gtin: Gtin = None,
    lot: Lot = None,
) -> TraceAnswer:
    """One step back (who supplied: the harvests), one step forward (who received from
    the producer) and the whole custody path with quantities (kg) and dates."""
    return service.trace(session, org=org, batch_id=batch_id, gtin=gtin, lot=lot)


@router.get(
    "/mass-balance",
    response_model=MassBalanceReport,
    responses={200: {"content": {"text/csv": {}}}},
)
def mass_balance(
    session: SessionDep,
    org: Auditor,
    brand: Annotated[str, Query(min_length=1, max_length=64)],
    year: Annotated[int, Query(ge=1900, le=9999)],
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Per cooperative and batch: harvested kg, packed units and weight, labels issued,
    shipped / received / sold, quota and its use, and every place the numbers do not
    reconcile, with the numbers and the events involved."""
    report = service.mass_balance(session, org=org, brand=brand, year=year)
    if format == "csv":
        return Response(
            mass_balance_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="mass-balance-{brand}-{year}.csv"'
            },
        )
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/alerts", response_model=Page[AlertPublic])
def alerts(
    session: SessionDep,
    org: Auditor,
    brand: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    since: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[AlertPublic]:
    """Alerts the registry raised (broken chains, clone signals, refused writes...) with
    time, subject and evidence, newest first; follow `next_cursor` for more."""
    return service.list_alerts(
        session,
        org=org,
        brand=brand,
        kind=kind,
        since=since,
        cursor=cursor,
        limit=limit,
    )
