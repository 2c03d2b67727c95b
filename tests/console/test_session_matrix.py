"""A signed-in member may do exactly what the organization's API key may do: every route
of the authorization matrix (tests/core/test_authz_matrix.py) answers a member's session
cookie (with its CSRF header) as it answers the member's organization's key."""

from __future__ import annotations

from typing import Any

from tests.console.helpers import make_member, signed_in_client
from tests.core.test_authz_matrix import ENDPOINTS, matrix_context
from tests.factories import BRAND, World


def test_member_sessions_get_their_organizations_answers(world: World) -> None:
    ctx = matrix_context(world)
    batch_id = ctx.batch_id
    sessions = {}
    for kind in ("coop", "handler", "regulator", "owner2"):
        make_member(world.engine, world.orgs[kind].id, f"{kind}-staff")
        sessions[kind] = signed_in_client(world.client, f"{kind}-staff")
    mismatches = []
    for endpoint in ENDPOINTS:
        path = endpoint.path.format(
            coop=world.coop.id, brand=BRAND, license=ctx.license_id, batch=batch_id
        )
        for kind, (client, csrf) in sessions.items():
            answers = []
            for caller, sender, headers in (
                (kind, world.client, world.orgs[kind].auth),
                (f"{kind}_session", client, {"X-CSRF-Token": csrf}),
            ):
                kwargs: dict[str, Any] = {"headers": headers}
                if endpoint.body is not None:
                    kwargs["json"] = endpoint.body(ctx, caller)
                r = sender.request(endpoint.method, path, **kwargs)
                error = r.json().get("error") if r.status_code >= 400 else None
                answers.append((r.status_code, error))
            if answers[0] != answers[1]:
                mismatches.append(f"{endpoint.id} {kind}: key {answers[0]}, session {answers[1]}")
    assert not mismatches, "\n".join(mismatches)
