"""HTTP routes for organizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from registry.core.auth import CurrentOrg, WriteCaller, Writer
from registry.orgs import service
from registry.orgs.models import Organization, OrgKind
from registry.orgs.schemas import ApiKeyCreated, OrgCreate, OrgPublic, OrgWithKey

router = APIRouter(prefix="/v1/orgs", tags=["organizations"])
Admin = Annotated[WriteCaller, Depends(Writer(OrgKind.admin))]


@router.get("/me", response_model=OrgPublic)
def read_me(org: CurrentOrg) -> Organization:
    return org


@router.post("", status_code=201, response_model=OrgWithKey)
def create_org(body: OrgCreate, caller: Admin) -> OrgWithKey:
    with caller.unit() as (session, _):
        org, raw = service.create_org(session, **body.model_dump())
    return OrgWithKey(**OrgPublic.model_validate(org).model_dump(), api_key=raw)


@router.post("/{org_id}/keys", status_code=201, response_model=ApiKeyCreated)
def create_key(org_id: str, caller: Admin) -> ApiKeyCreated:
    with caller.unit() as (session, _):
        key, raw = service.create_api_key(session, org_id=org_id)
    return ApiKeyCreated(id=key.id, org_id=key.org_id, api_key=raw)
