"""Brands, production areas, licenses and quotas."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from registry.brands.exceptions import (
    BrandExists,
    BrandNotFound,
    LicenseNotFound,
    NotBrandOwner,
    NoValidLicense,
)
from registry.brands.models import Brand, BrandStatus, License, LicenseStatus
from registry.brands.schemas import BrandCreate, BrandUpdate, LicenseCreate
from registry.core.errors import Conflict, Forbidden, InvalidInput
from registry.core.time import utcnow
from registry.orgs.models import Organization, OrgKind
from registry.orgs.service import get_org


def get_brand(session: Session, slug: str) -> Brand:
    brand = session.exec(select(Brand).where(Brand.slug == slug)).first()
    if brand is None:
        raise BrandNotFound(f"brand {slug!r} not found")
    return brand


def list_brands(session: Session) -> list[Brand]:
    return list(session.exec(select(Brand).order_by(col(Brand.slug))))


def create_brand(session: Session, *, owner: Organization, body: BrandCreate) -> Brand:
    if session.exec(select(Brand.id).where(Brand.slug == body.slug)).first():
        raise BrandExists(f"brand {body.slug!r} already exists")
    brand = Brand(**body.model_dump(), owner_org_id=owner.id)
    brand.county_codes = sorted(set(body.county_codes))
    session.add(brand)
    session.flush()
    return brand


def _owned_brand(session: Session, slug: str, actor: Organization) -> Brand:
    brand = get_brand(session, slug)
    if brand.owner_org_id != actor.id:
        raise NotBrandOwner(f"only the owner of brand {slug!r} may do this")
    return brand


def update_brand(session: Session, *, slug: str, actor: Organization, body: BrandUpdate) -> Brand:
    """Change status (suspend / reactivate), description, standard or the scan threshold."""
    brand = _owned_brand(session, slug, actor)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None and name == "status":
            raise InvalidInput("status cannot be null")
        setattr(brand, name, value)
    session.add(brand)
    session.flush()
    return brand


def create_license(
    session: Session, *, slug: str, actor: Organization, body: LicenseCreate
) -> License:
    brand = _owned_brand(session, slug, actor)
    org = get_org(session, body.org_id)
    if org.kind != OrgKind.cooperative:
        raise InvalidInput(f"licenses are for cooperatives; {org.name} is a {org.kind}")
    # One active license per cooperative and day, so the quota that applies is unambiguous.
    overlapping = session.exec(
        select(License).where(
            License.brand_id == brand.id,
            License.org_id == org.id,
            License.status == LicenseStatus.active,
            License.valid_from <= body.valid_to,
            License.valid_to >= body.valid_from,
        )
    ).first()
    if overlapping is not None:
        raise Conflict(
            f"{org.name} already holds license {overlapping.id} for {slug!r} from "
            f"{overlapping.valid_from} to {overlapping.valid_to}; revoke it first"
        )
    lic = License(brand_id=brand.id, **body.model_dump())
    session.add(lic)
    session.flush()
    return lic


def list_licenses(session: Session, *, slug: str, actor: Organization) -> list[License]:
    """Owner, regulators and admins see every license; a cooperative sees its own."""
    brand = get_brand(session, slug)
    query = select(License).where(License.brand_id == brand.id)
    if actor.kind == OrgKind.cooperative:
        query = query.where(License.org_id == actor.id)
    elif actor.id != brand.owner_org_id and actor.kind not in (OrgKind.regulator, OrgKind.admin):
        raise Forbidden(f"licenses of brand {slug!r} are for its owner and regulators")
    return list(session.exec(query.order_by(col(License.created_at))))


def revoke_license(session: Session, *, slug: str, license_id: str, actor: Organization) -> License:
    brand = _owned_brand(session, slug, actor)
    lic = session.get(License, license_id)
    if lic is None or lic.brand_id != brand.id:
        raise LicenseNotFound(f"license {license_id} not found under brand {slug!r}")
    if lic.status != LicenseStatus.revoked:
        lic.status = LicenseStatus.revoked
        lic.revoked_at = utcnow()
        session.add(lic)
        session.flush()
    return lic


def license_on(session: Session, *, brand_id: str, org_id: str, day: date) -> License | None:
    """The cooperative's active license for the brand covering `day`, if any."""
    return session.exec(
        select(License).where(
            License.brand_id == brand_id,
            License.org_id == org_id,
            License.status == LicenseStatus.active,
            License.valid_from <= day,
            License.valid_to >= day,
        )
    ).first()


def require_license(session: Session, *, brand: Brand, org: Organization, day: date) -> License:
    """Refuse (403) unless the brand is active and the org holds a license valid on `day`."""
    if brand.status != BrandStatus.active:
        raise NoValidLicense(f"brand {brand.slug!r} is {brand.status}")
    lic = license_on(session, brand_id=brand.id, org_id=org.id, day=day)
    if lic is None:
        raise NoValidLicense(f"{org.name} holds no valid license for brand {brand.slug!r} on {day}")
    return lic
