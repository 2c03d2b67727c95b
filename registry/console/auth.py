"""The console's cookies: the session cookie (HttpOnly, SameSite=Lax, Secure in
production), the CSRF checks, and the dependency that signs page requests in."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from registry.console import service
from registry.console.exceptions import CsrfRejected, SessionExpired
from registry.console.models import Member
from registry.console.service import SignedIn
from registry.core.config import get_settings
from registry.core.deps import SessionDep
from registry.core.errors import RegistryError
from registry.orgs.models import Organization

SESSION_COOKIE = "registry_console"
# Before sign-in there is no session: the sign-in form is protected by a double-submit
# token (this cookie must equal the form's field), so no other site can sign a phone in
# to an account of its choosing.
SIGNIN_CSRF_COOKIE = "registry_console_signin"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(RegistryError):
    """A console page was asked for without a live session: answered with a redirect."""

    status_code = 401


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


def _secure() -> bool:
    return get_settings().environment == "production"


def set_session_cookie(response: Response, raw_token: str, ttl: timedelta) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        raw_token,
        max_age=int(ttl.total_seconds()),
        path="/",  # the offline outbox posts to /v1/sync with it
        httponly=True,
        samesite="lax",
        secure=_secure(),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def signin_csrf(request: Request, response: Response) -> str:
    """The sign-in form's token: the cookie's if the browser has one, else a new one."""
    token = request.cookies.get(SIGNIN_CSRF_COOKIE)
    if not token or len(token) > 64:
        token = secrets.token_urlsafe(24)
    response.set_cookie(
        SIGNIN_CSRF_COOKIE,
        token,
        max_age=3600 * 24,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(),
    )
    return token


def authenticate_cookie(request: Request, session: Session) -> Organization | None:
    """The installed `SessionAuthenticator` of registry/core/auth.py: the org of the
    member signed in by the cookie (None without a cookie). Unsafe methods need the
    session's CSRF token in the X-CSRF-Token header."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    signed_in = service.session_for_token(session, raw)
    if request.method not in SAFE_METHODS and not same_token(
        request.headers.get(CSRF_HEADER), signed_in.session.csrf_token
    ):
        raise CsrfRejected(
            "a request signed in by the console cookie needs the session's X-CSRF-Token header"
        )
    request.state.console_member = signed_in.member
    return signed_in.org


def console_member(request: Request) -> Member | None:
    """The member the cookie signed in for this request (None for API-key callers)."""
    member = getattr(request.state, "console_member", None)
    return member if isinstance(member, Member) else None


def page_session(request: Request, session: SessionDep) -> SignedIn:
    """For console pages: the signed-in member, or a redirect to the sign-in page."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        raise SignInRequired("sign in first")
    try:
        signed_in = service.session_for_token(session, raw)
    except SessionExpired as exc:
        raise SignInRequired(exc.detail) from exc
    request.state.console_member = signed_in.member
    return signed_in


Console = Annotated[SignedIn, Depends(page_session)]


def check_form_csrf(signed_in: SignedIn, form: dict[str, str]) -> None:
    if not same_token(form.get(CSRF_FIELD), signed_in.session.csrf_token):
        raise CsrfRejected("the form is out of date (CSRF token); reload the page and retry")
