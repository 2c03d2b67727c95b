"""The members page of an organization's admin members: list, create (the generated
password is shown once), disable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from registry.console import service
from registry.console.auth import Console, check_form_csrf
from registry.console.formdata import FormData
from registry.console.models import MemberRole
from registry.console.refusals import explain
from registry.console.render import Translator, language_of, render
from registry.console.service import SignedIn
from registry.core.deps import SessionDep
from registry.core.errors import RegistryError

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)


def _page(
    request: Request,
    me: SignedIn,
    session: Session,
    *,
    created: tuple[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "members.html",
        status_code=status_code,
        csrf=me.session.csrf_token,
        me=me,
        nav="members",
        members=service.list_members(session, org_id=me.org.id),
        created=created,
        error=error,
    )


def _manager(me: SignedIn) -> None:
    service.ensure_can_manage(caller_org=me.org, caller_member=me.member, org_id=me.org.id)


@router.get("/members", response_class=HTMLResponse)
def members(request: Request, me: Console, session: SessionDep) -> HTMLResponse:
    _manager(me)
    return _page(request, me, session)


@router.post("/members", response_class=HTMLResponse)
def create_member(request: Request, me: Console, form: FormData, session: SessionDep) -> Response:
    check_form_csrf(me, form)
    _manager(me)
    role = MemberRole.admin if form.get("role") == "admin" else MemberRole.member
    try:
        with session.begin_nested():
            member, password = service.create_member(
                session,
                org_id=me.org.id,
                username=form.get("username", ""),
                display_name=form.get("display_name") or None,
                role=role,
            )
    except RegistryError as exc:
        t = Translator(language_of(request))
        message = explain(type(exc).__name__, exc.detail, t)
        return _page(request, me, session, error=message, status_code=exc.status_code)
    response = _page(request, me, session, created=(member.username, password or ""))
    response.headers["Cache-Control"] = "no-store"  # the password is shown this once
    return response


@router.post("/members/{member_id}/disable")
def disable_member(
    member_id: str, me: Console, form: FormData, session: SessionDep
) -> RedirectResponse:
    check_form_csrf(me, form)
    _manager(me)
    service.disable_member(session, org_id=me.org.id, member_id=member_id)
    return RedirectResponse("/console/members", status_code=303)
