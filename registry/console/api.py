"""HTTP routes for an organization's member logins (JSON): create, list, disable, and end
a member's sessions. For the registry admin, the org's API key, or an admin member."""

from __future__ import annotations

from fastapi import APIRouter, Request

from registry.console import service
from registry.console.auth import console_member
from registry.console.schemas import MemberCreate, MemberCreated, MemberPublic, SessionsRevoked
from registry.core.auth import CurrentOrg
from registry.core.deps import SessionDep
from registry.orgs.models import Organization

router = APIRouter(prefix="/v1/orgs/{org_id}/members", tags=["members"])


def _manager(request: Request, org: Organization, org_id: str) -> None:
    service.ensure_can_manage(caller_org=org, caller_member=console_member(request), org_id=org_id)


@router.post("", status_code=201, response_model=MemberCreated)
def create_member(
    org_id: str, body: MemberCreate, request: Request, session: SessionDep, org: CurrentOrg
) -> MemberCreated:
    """A login for a member of the org. Without `password` one is generated and returned
    in this answer only."""
    _manager(request, org, org_id)
    member, generated = service.create_member(session, org_id=org_id, **body.model_dump())
    return MemberCreated(**MemberPublic.build(member).model_dump(), password=generated)


@router.get("", response_model=list[MemberPublic])
def list_members(
    org_id: str, request: Request, session: SessionDep, org: CurrentOrg
) -> list[MemberPublic]:
    _manager(request, org, org_id)
    return [MemberPublic.build(m) for m in service.list_members(session, org_id=org_id)]


@router.post("/{member_id}/disable", response_model=MemberPublic)
def disable_member(
    org_id: str, member_id: str, request: Request, session: SessionDep, org: CurrentOrg
) -> MemberPublic:
    """The member can no longer sign in; their sessions end at once."""
    _manager(request, org, org_id)
    return MemberPublic.build(service.disable_member(session, org_id=org_id, member_id=member_id))


@router.post("/{member_id}/sessions/revoke", response_model=SessionsRevoked)
def revoke_sessions(
    org_id: str, member_id: str, request: Request, session: SessionDep, org: CurrentOrg
) -> SessionsRevoked:
    """Sign the member out everywhere (a lost phone); the login stays usable."""
    _manager(request, org, org_id)
    member = service.get_member(session, org_id=org_id, member_id=member_id)
    return SessionsRevoked(
        member_id=member.id, revoked=service.revoke_sessions(session, member_id=member.id)
    )
