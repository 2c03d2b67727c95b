"""HTTP routes for brands and licenses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from registry.brands import service
from registry.brands.models import Brand, License
from registry.brands.schemas import (
    BrandCreate,
    BrandPublic,
    BrandUpdate,
    LicenseCreate,
    LicensePublic,
)
from registry.core.auth import CurrentOrg, WriteCaller, Writer
from registry.core.deps import SessionDep
from registry.orgs.models import OrgKind

router = APIRouter(prefix="/v1/brands", tags=["brands"])
Owner = Annotated[WriteCaller, Depends(Writer(OrgKind.brand_owner))]


@router.get("", response_model=list[BrandPublic])
def list_brands(session: SessionDep) -> list[Brand]:
    return service.list_brands(session)


@router.get("/{slug}", response_model=BrandPublic)
def read_brand(slug: str, session: SessionDep) -> Brand:
    return service.get_brand(session, slug)


@router.post("", status_code=201, response_model=BrandPublic)
def create_brand(body: BrandCreate, caller: Owner) -> Brand:
    with caller.unit() as (session, owner):
        return service.create_brand(session, owner=owner, body=body)


@router.patch("/{slug}", response_model=BrandPublic)
def update_brand(slug: str, body: BrandUpdate, caller: Owner) -> Brand:
    with caller.unit() as (session, owner):
        return service.update_brand(session, slug=slug, actor=owner, body=body)


@router.post("/{slug}/licenses", status_code=201, response_model=LicensePublic)
def create_license(slug: str, body: LicenseCreate, caller: Owner) -> License:
    with caller.unit() as (session, owner):
        return service.create_license(session, slug=slug, actor=owner, body=body)


@router.get("/{slug}/licenses", response_model=list[LicensePublic])
def list_licenses(slug: str, session: SessionDep, org: CurrentOrg) -> list[License]:
    return service.list_licenses(session, slug=slug, actor=org)


@router.post("/{slug}/licenses/{license_id}/revoke", response_model=LicensePublic)
def revoke_license(slug: str, license_id: str, caller: Owner) -> License:
    with caller.unit() as (session, owner):
        return service.revoke_license(session, slug=slug, license_id=license_id, actor=owner)
