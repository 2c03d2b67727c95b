"""Bearer API-key authentication and the org-kind checks every protected route declares.

A signed-in console member is the other way in: when a request has no bearer key, the
session authenticator the app installed (`app.state.session_authenticator`, set by
`registry.console.install`) may name the member's organization from the session cookie,
checking the CSRF header on unsafe methods. Either way the route sees the organization,
so a member may do exactly what the organization's API key may do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.db import SessionDep, unit_of_work
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


def identify(request: Request, session: Session) -> Organization:
    """The caller's organization, from its API key or its console session cookie."""
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


def current_org(request: Request, session: SessionDep) -> Organization:
    return identify(request, session)


def _check_kind(org: Organization, kinds: tuple[OrgKind, ...]) -> Organization:
    if org.kind not in kinds:
        allowed = ", ".join(kinds)
        raise Forbidden(f"this action is for {allowed}; your organization is a {org.kind}")
    return org


@dataclass(frozen=True)
class WriteCaller:
    """The caller of a write, already authenticated and allowed (401 / 403 come before a
    body's 422, as for every other route).

    `with caller.unit() as (session, org):` lets the route's service work, commits and runs
    the after-commit work (the log's integration) in the one worker thread the sync route
    runs in. A write then holds its locks (SQLite's write lock, a batch's row) only while it
    works. When the session and the commit were dependencies, each was a trip through the
    event loop with the lock held, and under a flood of scans every trip waited for the
    loop (issue 15: appends p50 2.6 s).
    """

    request: Request
    org: Organization  # as the check read it (detached: its session has closed)

    @contextmanager
    def unit(self) -> Iterator[tuple[Session, Organization]]:
        engine = getattr(self.request.app.state, "engine", None)
        with unit_of_work(engine, write=True) as session:
            # Attached without a second read: the check has just read it.
            yield session, session.merge(self.org, load=False)


class Writer:
    """A dependency for write routes: checks the caller in a short read of its own (no
    write lock) and gives the route a `WriteCaller`, whose `unit()` does the write."""

    def __init__(self, *kinds: OrgKind) -> None:
        self.kinds = kinds

    def _check(self, request: Request) -> Organization:
        engine = getattr(request.app.state, "engine", None)
        with unit_of_work(engine) as session:
            return _check_kind(identify(request, session), self.kinds)

    async def __call__(self, request: Request) -> WriteCaller:
        return WriteCaller(request, await to_thread.run_sync(self._check, request))


CurrentOrg = Annotated[Organization, Depends(current_org)]


def require_kind(*kinds: OrgKind) -> Callable[[Organization], Organization]:
    """A dependency that lets only the given org kinds through (403 for the others)."""
    allowed = tuple(kinds)

    def check(org: CurrentOrg) -> Organization:
        return _check_kind(org, allowed)

    return check
