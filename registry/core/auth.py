"""Bearer API-key authentication and the org-kind checks every protected route declares.

A signed-in console member is the other way in: when a request has no bearer key, the
session authenticator the app installed (`app.state.session_authenticator`, set by
`registry.console.install`) may name the member's organization from the session cookie,
checking the CSRF header on unsafe methods. Either way the route sees the organization,
so a member may do exactly what the organization's API key may do.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.core.deps import SessionDep
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


class _CheckedKeys:
    """The organizations of API keys this process's write routes have just checked, kept
    `api_key_cache_seconds` after the read (so that is how long a revoked key may still
    write here) and bounded in number. Only keys found valid are kept: a new key works at
    once. The key is remembered by its SHA-256, never in the clear."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._orgs: dict[tuple[object, str], tuple[float, Organization]] = {}

    @staticmethod
    def _key(request: Request, token: str) -> tuple[object, str]:
        # Per database: tests (and a process serving two apps) may hold the same key twice.
        engine = getattr(request.app.state, "engine", None)
        return id(engine), hashlib.sha256(token.encode()).hexdigest()

    def get(self, request: Request, token: str) -> Organization | None:
        found = self._orgs.get(self._key(request, token))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, request: Request, token: str, org: Organization) -> None:
        seconds = get_settings().api_key_cache_seconds
        if seconds <= 0:
            return
        if len(self._orgs) >= self.MAX_KEYS:
            self._orgs.clear()
        self._orgs[self._key(request, token)] = (time.monotonic() + seconds, org)


CHECKED_KEYS = _CheckedKeys()


class Writer:
    """A dependency for write routes: checks the caller in a short read of its own (no
    write lock), or from `CHECKED_KEYS` without a read, and gives the route a
    `WriteCaller`, whose `unit()` does the write."""

    def __init__(self, *kinds: OrgKind) -> None:
        self.kinds = kinds

    def _check(self, request: Request) -> Organization:
        engine = getattr(request.app.state, "engine", None)
        with unit_of_work(engine) as session:
            org = identify(request, session)
        token = bearer_token(request)
        if token is not None:
            CHECKED_KEYS.put(request, token, org)
        return org

    async def __call__(self, request: Request) -> WriteCaller:
        token = bearer_token(request)
        org = CHECKED_KEYS.get(request, token) if token is not None else None
        if org is None:
            org = await to_thread.run_sync(self._check, request)
        request.state.org_id = org.id
        return WriteCaller(request, _check_kind(org, self.kinds))


CurrentOrg = Annotated[Organization, Depends(current_org)]


def require_kind(*kinds: OrgKind) -> Callable[[Organization], Organization]:
    """A dependency that lets only the given org kinds through (403 for the others)."""
    allowed = tuple(kinds)

    def check(org: CurrentOrg) -> Organization:
        return _check_kind(org, allowed)

    return check
