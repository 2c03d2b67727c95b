"""Member logins and signed-in clients for the console tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine

from registry.console.models import MemberRole
from registry.console.service import create_member
from registry.core.db import unit_of_work

PASSWORD = "orange-grove-2026"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_SIGNIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Member:
    id: str
    org_id: str
    username: str


def make_member(
    engine: Engine, org_id: str, username: str, role: MemberRole = MemberRole.member
) -> Member:
    with unit_of_work(engine, write=True) as session:
        member, _ = create_member(
            session, org_id=org_id, username=username, role=role, password=PASSWORD
        )
    return Member(member.id, org_id, member.username)


def signin_token(client: TestClient) -> str:
    page = client.get("/console/signin")
    match = _SIGNIN_TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    token = signin_token(client)
    return client.post(
        "/console/signin",
        data={"csrf_token": token, "username": username, "password": password},
        follow_redirects=False,
    )


def page_csrf(client: TestClient, path: str = "/console/outbox") -> str:
    """The session's CSRF token, as a signed-in page carries it."""
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, page.text[:300]
    assert match.group(1), "the page carries no session token"
    return match.group(1)


def signed_in_client(app_client: TestClient, username: str) -> tuple[TestClient, str]:
    """A second client on the same app (its own cookie jar), signed in; and its CSRF token."""
    client = TestClient(app_client.app)
    r = sign_in(client, username)
    assert r.status_code == 303, r.text
    return client, page_csrf(client)
