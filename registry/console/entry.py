"""Console routes outside the batch pages: sign-in and sign-out, the outbox page, the
offline fallback, the script and the service worker, and refusals in words."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from registry.console import service
from registry.console.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_CSRF_COOKIE,
    Console,
    check_form_csrf,
    clear_session_cookie,
    same_token,
    set_session_cookie,
    signin_csrf,
)
from registry.console.exceptions import SessionExpired
from registry.console.formdata import FormData
from registry.console.refusals import explain
from registry.console.render import Translator, language_of, render
from registry.console.throttle import SignInThrottle
from registry.core.config import get_settings
from registry.core.deps import SessionDep
from registry.core.errors import RegistryError
from registry.orgs.models import OrgKind

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)


def home_of(kind: OrgKind) -> str:
    return "/console/goods" if kind == OrgKind.handler else "/console/batches"


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console (never another site) after sign-in."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


def throttle_of(request: Request) -> SignInThrottle:
    throttle = getattr(request.app.state, "signin_throttle", None)
    if not isinstance(throttle, SignInThrottle):
        throttle = SignInThrottle.from_settings(get_settings())
        request.app.state.signin_throttle = throttle
    return throttle


@router.get("", response_class=RedirectResponse)
@router.get("/", response_class=RedirectResponse)
def console_home(request: Request, session: SessionDep) -> RedirectResponse:
    raw = request.cookies.get(SESSION_COOKIE)
    try:
        signed_in = service.session_for_token(session, raw) if raw else None
    except SessionExpired:
        signed_in = None
    target = home_of(signed_in.org.kind) if signed_in else "/console/signin"
    return RedirectResponse(target, status_code=303)


def _signin_page(
    request: Request, *, next_path: str | None, error: str | None, status_code: int = 200
) -> HTMLResponse:
    holder = Response()
    token = signin_csrf(request, holder)
    response = render(
        request,
        "signin.html",
        status_code=status_code,
        signin_token=token,
        next_path=next_path or "",
        error=error,
    )
    for value in holder.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _signin_page(request, next_path=_safe_next(next), error=None)


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, form: FormData, session: SessionDep) -> Response:
    """Check the password, open a session and set its cookie. Failed sign-ins are counted
    per username and per client address; past the limit the form answers 429."""
    t = Translator(language_of(request))
    next_path = _safe_next(form.get("next"))
    if not same_token(form.get(CSRF_FIELD), request.cookies.get(SIGNIN_CSRF_COOKIE) or "-"):
        return _signin_page(
            request, next_path=next_path, error=t("signin.expired_form"), status_code=403
        )
    username, password = form.get("username", ""), form.get("password", "")
    address = request.client.host if request.client else "unknown"
    throttle = throttle_of(request)
    wait = throttle.retry_after(username=username, address=address)
    if wait is not None:
        page = _signin_page(
            request,
            next_path=next_path,
            error=t("signin.too_many", minutes=max(1, (wait + 59) // 60)),
            status_code=429,
        )
        page.headers["Retry-After"] = str(wait)
        return page
    ttl = timedelta(days=get_settings().console_session_days)
    opened = service.sign_in(session, username=username, password=password, ttl=ttl)
    if opened is None:
        throttle.record_failure(username=username, address=address)
        return _signin_page(request, next_path=next_path, error=t("signin.wrong"), status_code=401)
    signed_in, raw = opened
    response = RedirectResponse(next_path or home_of(signed_in.org.kind), status_code=303)
    set_session_cookie(response, raw, ttl)
    return response


@router.post("/signout")
def signout(signed_in: Console, form: FormData, session: SessionDep) -> RedirectResponse:
    """End this session on the server (the cookie stops working everywhere at once)."""
    check_form_csrf(signed_in, form)
    service.sign_out(session, signed_in=signed_in)
    response = RedirectResponse("/console/signin", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, signed_in: Console) -> HTMLResponse:
    """The events waiting on this phone and the answers to those sent (drawn by the script
    from IndexedDB; the page itself holds no data)."""
    return render(
        request, "outbox.html", csrf=signed_in.session.csrf_token, me=signed_in, nav="outbox"
    )


@router.get("/offline", response_class=HTMLResponse)
def offline(request: Request) -> HTMLResponse:
    """What the service worker shows for a page it has never stored."""
    return render(request, "offline.html", me=None, nav="")


@router.get("/refusal")
def refusal(
    request: Request,
    signed_in: Console,
    error: Annotated[str, Query(max_length=100)],
    detail: Annotated[str, Query(max_length=2000)],
) -> JSONResponse:
    """A refusal of the registry's rules in the member's language, with its numbers."""
    return JSONResponse(
        {"message": explain(error, detail, Translator(language_of(request)))},
        headers={"Cache-Control": "no-store"},
    )


def _static(name: str) -> str:
    return resources.files("registry.console").joinpath("static", name).read_text("utf-8")


@router.get("/static/console.js")
def console_js() -> Response:
    return Response(
        _static("console.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the console's root so its scope is the whole console."""
    return Response(
        _static("sw.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


def signin_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/signin?next={quote(target, safe='')}", status_code=303)


def refusal_page(request: Request, exc: RegistryError) -> HTMLResponse:
    """A refusal met on a console page (another cooperative's batch, a stale form)."""
    message = explain(type(exc).__name__, exc.detail, Translator(language_of(request)))
    return render(request, "refused.html", status_code=exc.status_code, message=message)
