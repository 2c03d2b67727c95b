"""Bearer API-key authentication and the org-kind checks every protected route declares.

A signed-in console member is the other way in: when a request has no bearer key, the
session authenticator the app installed (`app.state.session_authenticator`, set by
`registry.console.install`) may name the member's organization from the session cookie,
checking the CSRF header on unsafe methods. Either way the route sees the organization,
so a member may do exactly what the organization's API key may do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.db import SessionDep
from registry.core.errors import Forbidden, Unauthorized
from registry.orgs.models import Organization, OrgKind
from registry.orgs.service import authenticate

# (request, db session) -> the org of a valid session cookie, None when there is no cookie;
# raises Unauthorized / Forbidden for a dead session or a missing CSRF token.
SessionAuthenticator = Callable[[Request, Session], Organization | None]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_org(request: Request, session: SessionDep) -> Organization:
    token = bearer_token(request)
    if token is None:
        from_cookie: SessionAuthenticator | None = getattr(
            request.app.state, "session_authenticator", None
        )
        org = from_cookie(request, session) if from_cookie is not None else None
        if org is None:
            raise Unauthorized("missing Authorization: Bearer <api key>")
    else:
        if "\x00" in token:  # never a key; PostgreSQL could not even look it up
            raise Unauthorized("invalid or revoked API key")
        org = authenticate(session, token)
    # Who called, for handlers that run after the request's transaction (refusal alerts).
    request.state.org_id = org.id
    return org


CurrentOrg = Annotated[Organization, Depends(current_org)]


def require_kind(*kinds: OrgKind) -> Callable[[Organization], Organization]:
    """A dependency that lets only the given org kinds through (403 for the others)."""
    allowed = ", ".join(kinds)

    def check(org: CurrentOrg) -> Organization:
        if org.kind not in kinds:
            raise Forbidden(f"this action is for {allowed}; your organization is a {org.kind}")
        return org

    return check
