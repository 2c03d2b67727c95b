"""`registry admin create-user`: a member login from the command line."""

from __future__ import annotations

import json

from registry.console.models import MemberRole
from registry.console.service import create_member
from registry.core.db import unit_of_work


def create_user(
    *,
    org_id: str,
    username: str,
    role: MemberRole,
    display_name: str | None,
    password: str | None,
    as_json: bool,
) -> list[str]:
    """Create the login and return the lines to print; a generated password appears in
    them once and is never stored in clear. Raises RegistryError for refused input."""
    with unit_of_work(write=True) as session:
        member, generated = create_member(
            session,
            org_id=org_id,
            username=username,
            display_name=display_name,
            role=role,
            password=password,
        )
    out = {
        "id": member.id,
        "org_id": member.org_id,
        "username": member.username,
        "display_name": member.display_name,
        "role": str(member.role),
        "password": generated,
    }
    if as_json:
        return [json.dumps(out, ensure_ascii=False)]
    lines = [f"{k}: {v}" for k, v in out.items() if k != "password"]
    if generated:
        lines.append(f"password (shown once): {generated}")
    return lines
