"""The console's batch pages: the list with stages and quota use, a new batch, a batch
with its events, one form per event type, labels and their sheet PDF, a handler's goods.

Routes parse, call one service and render; the registry's refusals come back on the same
form, in the member's language, with their numbers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from registry.batches import service as batches
from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.console import views
from registry.console.auth import Console, check_form_csrf
from registry.console.formdata import FormData
from registry.console.forms import (
    EVENT_FORMS,
    HANDLER_TYPES,
    PRODUCER_TYPES,
    FieldSpec,
    FormProblem,
    form_to_event,
)
from registry.console.refusals import explain
from registry.console.render import Translator, language_of, render
from registry.console.service import SignedIn
from registry.core.config import get_settings
from registry.core.deps import SessionDep
from registry.core.errors import NotFound, RegistryError
from registry.core.queue import TaskQueueDep
from registry.core.time import in_offset
from registry.jobs import service as jobs
from registry.jobs.models import JobState
from registry.jobs.schemas import SheetLayoutName
from registry.labels import service as labels
from registry.orgs.models import OrgKind

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
# Forms open with the date and clock of the registry's region; the page's script replaces
# them with the phone's own date, clock and UTC offset.
DEFAULT_TZ = timezone(timedelta(hours=8))


def _t(request: Request) -> Translator:
    return Translator(language_of(request))


def _page(request: Request, me: SignedIn, template: str, **values: Any) -> HTMLResponse:
    return render(request, template, csrf=me.session.csrf_token, me=me, **values)


def _refused(request: Request, exc: RegistryError) -> str:
    return explain(type(exc).__name__, exc.detail, _t(request))


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


@router.get("/batches", response_class=HTMLResponse)
def batch_list(request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    rows = batches.list_batches(session, actor=me.org, brand=None, limit=200)
    today = datetime.now(DEFAULT_TZ).date()
    return _page(
        request,
        me,
        "batches.html",
        nav="batches",
        rows=[views.batch_row(session, batch) for batch, _ in rows],
        quotas=views.quota_use(session, org=me.org, today=today),
    )


def _new_batch_page(
    request: Request, me: SignedIn, session: Session, form: dict[str, str], error: str | None
) -> HTMLResponse:
    today = datetime.now(DEFAULT_TZ).date()
    return _page(
        request,
        me,
        "batch_new.html",
        status_code=422 if error else 200,
        nav="new",
        brands=views.licensed_brands(session, org=me.org, today=today),
        values=form,
        error=error,
    )


@router.get("/batches/new", response_class=HTMLResponse)
def new_batch(request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    return _new_batch_page(request, me, session, {"product": ""}, None)


@router.post("/batches", response_class=HTMLResponse)
def create_batch(request: Request, me: Console, form: FormData, session: SessionDep) -> Response:
    check_form_csrf(me, form)
    fields = {k: v for k, v in form.items() if k in BatchCreate.model_fields and v.strip()}
    try:
        body = BatchCreate.model_validate(fields)
        with session.begin_nested():
            batch, _ = batches.create_batch(session, actor=me.org, body=body)
    except ValidationError as exc:
        return _new_batch_page(request, me, session, form, _validation_message(exc))
    except RegistryError as exc:
        return _new_batch_page(request, me, session, form, _refused(request, exc))
    return RedirectResponse(f"/console/batches/{batch.id}", status_code=303)


def _visible_row(session: Session, me: SignedIn, batch_id: str) -> views.BatchRow:
    batch = batches.get_batch(session, batch_id)
    batches.ensure_visible(session, batch, me.org)
    return views.batch_row(session, batch)


def _types_for(me: SignedIn) -> tuple[str, ...]:
    if me.org.kind == OrgKind.cooperative:
        return PRODUCER_TYPES
    if me.org.kind == OrgKind.handler:
        return HANDLER_TYPES
    return ()


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(batch_id: str, request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    row = _visible_row(session, me, batch_id)
    events = batches.load_events(session, batch_id)
    parties = {e.actor_org_id for e in events} | {
        str(e.data[key]) for e in events for key in ("to_org_id", "from_org_id") if key in e.data
    }
    names = views.org_names(session, parties)
    return _page(
        request,
        me,
        "batch.html",
        nav="batches",
        row=row,
        events=events,
        names=names,
        when=lambda e: in_offset(e.event_time, e.event_time_offset).strftime("%Y-%m-%d %H:%M"),
        types=_types_for(me),
        producer=me.org.id == row.batch.cooperative_org_id,
    )


def _choices(
    session: Session, me: SignedIn, row: views.BatchRow, spec: FieldSpec, t: Translator
) -> list[tuple[str, str]]:
    if spec.source == "counties":
        return [(code, t.optional(f"county.{code}", code)) for code in row.brand.county_codes]
    if spec.source == "handlers":
        return [
            (o.id, o.name)
            for o in views.organizations_of_kind(session, OrgKind.handler)
            if o.id != me.org.id
        ]
    if spec.source == "senders":
        senders = {src for (src, dst) in row.ledger.in_transit_kg if dst == me.org.id}
        return sorted(views.org_names(session, senders).items(), key=lambda kv: kv[1])
    if spec.source == "seqs":
        return [
            (str(e.seq), f"#{e.seq} {t.optional('event.' + e.type, e.type)}")
            for e in batches.load_events(session, row.batch.id)
            if e.actor_org_id == me.org.id and e.type not in ("created", "labeled", "correction")
        ]
    return [(choice, t.optional(f"choice.{choice}", choice)) for choice in spec.choices]


def _defaults(me: SignedIn, row: views.BatchRow, event_type: str) -> dict[str, str]:
    now = datetime.now(DEFAULT_TZ)
    values = {
        "event_date": now.date().isoformat(),
        "event_clock": now.strftime("%H:%M"),
        "tz": "+08:00",
        "idempotency_key": str(uuid.uuid4()),
        "data.harvest_date": now.date().isoformat(),
    }
    if event_type == "received":
        pending = [kg for (_, dst), kg in row.ledger.in_transit_kg.items() if dst == me.org.id]
        if pending:
            values["data.quantity"] = views.number_text(sum(pending))
            values["data.unit"] = "kg"
    return values


def _record_page(
    request: Request,
    me: SignedIn,
    session: Session,
    row: views.BatchRow,
    event_type: str,
    values: dict[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    t = _t(request)
    fields = [(spec, _choices(session, me, row, spec, t)) for spec in EVENT_FORMS[event_type]]
    return _page(
        request,
        me,
        "record.html",
        status_code=status_code,
        nav="batches",
        row=row,
        event_type=event_type,
        fields=fields,
        values=values,
        error=error,
    )


def _form_type(event_type: str) -> str:
    if event_type not in EVENT_FORMS:
        raise NotFound(f"no console form for event type {event_type!r}")
    return event_type


@router.get("/batches/{batch_id}/record/{event_type}", response_class=HTMLResponse)
def record_form(
    batch_id: str, event_type: str, request: Request, me: Console, session: SessionDep
) -> HTMLResponse:
    row = _visible_row(session, me, batch_id)
    event_type = _form_type(event_type)
    return _record_page(request, me, session, row, event_type, _defaults(me, row, event_type))


@router.post("/batches/{batch_id}/record/{event_type}", response_class=HTMLResponse)
def record_event(
    batch_id: str,
    event_type: str,
    request: Request,
    me: Console,
    form: FormData,
    session: SessionDep,
) -> Response:
    """The form post of a phone without the script: one event, appended at once (the
    form's idempotency key makes a double tap land once)."""
    check_form_csrf(me, form)
    row = _visible_row(session, me, batch_id)
    event_type = _form_type(event_type)
    t = _t(request)
    try:
        event = EVENT_ADAPTER.validate_python(form_to_event(event_type, form))
        with session.begin_nested():
            written, _ = batches.append_event(
                session,
                batch_id=batch_id,
                event=event,
                actor=me.org,
                idempotency_key=form.get("idempotency_key") or None,
            )
    except FormProblem as exc:
        names = ", ".join(t.optional(f"field.{f.rsplit('.', 1)[-1]}", f) for f in exc.fields)
        error, status = t("form.missing", fields=names), 422
    except ValidationError as exc:
        error, status = explain("ValidationError", _validation_message(exc), t), 422
    except RegistryError as exc:
        error, status = _refused(request, exc), exc.status_code
    else:
        return RedirectResponse(
            f"/console/batches/{batch_id}?recorded={written.seq}", status_code=303
        )
    return _record_page(
        request, me, session, row, event_type, form, error=error, status_code=status
    )


@router.get("/batches/{batch_id}/labels", response_class=HTMLResponse)
def labels_page(batch_id: str, request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    return _labels_page(request, me, session, _visible_row(session, me, batch_id), None)


def _labels_page(
    request: Request,
    me: SignedIn,
    session: Session,
    row: views.BatchRow,
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    runs = views.label_runs(session, batch_id=row.batch.id)
    return _page(
        request,
        me,
        "labels.html",
        status_code=status_code,
        nav="batches",
        row=row,
        runs=runs,
        jobs=views.run_jobs(session, run_ids=[r.id for r in runs], org_id=me.org.id),
        left=max(0, row.ledger.packed_units - row.ledger.labels_issued),
        error=error,
    )


@router.post("/batches/{batch_id}/labels", response_class=HTMLResponse)
def issue_labels(
    batch_id: str, request: Request, me: Console, form: FormData, session: SessionDep
) -> Response:
    check_form_csrf(me, form)
    row = _visible_row(session, me, batch_id)
    try:
        count = int(form.get("count", ""))
        if not 0 < count <= 1_000_000:
            raise ValueError(count)
    except ValueError:
        return _labels_page(request, me, session, row, _t(request)("labels.bad_count"), 422)
    try:
        with session.begin_nested():
            labels.create_label_run(
                session,
                batch_id=batch_id,
                count=count,
                actor=me.org,
                passphrase=get_settings().key_passphrase,
            )
    except RegistryError as exc:
        return _labels_page(request, me, session, row, _refused(request, exc), exc.status_code)
    return RedirectResponse(f"/console/batches/{batch_id}/labels", status_code=303)


@router.post("/runs/{run_id}/sheet")
def request_sheet(
    run_id: str, me: Console, form: FormData, session: SessionDep, queue: TaskQueueDep
) -> RedirectResponse:
    check_form_csrf(me, form)
    layout = form.get("layout", "")
    if layout not in get_args(SheetLayoutName):
        layout = "a4-3x8"
    job = jobs.create_label_sheet_job(
        session,
        run_id=run_id,
        layout=layout,
        actor=me.org,
        queue=queue,
        base_url=get_settings().public_url,
    )
    return RedirectResponse(f"/console/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    """The sheet's progress; the page reloads itself every two seconds while it runs."""
    job = jobs.get_job(session, job_id=job_id, actor=me.org)
    running = job.state in (JobState.queued, JobState.running)
    response = _page(request, me, "job.html", nav="batches", job=job, running=running)
    if running:
        response.headers["Refresh"] = "2"
    return response


@router.get("/goods", response_class=HTMLResponse)
def goods(request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    """A handler's goods: on their way to it, and what it holds."""
    items = views.goods_of(session, org=me.org)
    return _page(
        request,
        me,
        "goods.html",
        nav="goods",
        incoming=[g for g in items if g.in_transit_kg > 0],
        held=[g for g in items if g.in_transit_kg <= 0 and g.held_kg > 0],
    )
