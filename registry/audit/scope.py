"""What each kind of caller may audit: regulators and admins everything, a brand owner its
brands, a cooperative or handler the batches it is party to. One place for the rule, used
by every audit query as a SQL condition on batches."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import Session, col, select

from registry.batches.models import Batch, Event
from registry.batches.service import ensure_visible, shipped_to
from registry.brands.models import Brand
from registry.brands.service import get_brand
from registry.core.errors import Forbidden
from registry.orgs.models import Organization, OrgKind

SEE_ALL = (OrgKind.admin, OrgKind.regulator)
AUDITORS = (
    OrgKind.admin,
    OrgKind.regulator,
    OrgKind.brand_owner,
    OrgKind.cooperative,
    OrgKind.handler,
)


def visible_batches(org: Organization) -> ColumnElement[bool]:
    """A condition on `Batch` (joined to nothing else) true for the batches `org` may see."""
    if org.kind in SEE_ALL:
        return true()
    if org.kind == OrgKind.brand_owner:
        owned = select(Brand.id).where(Brand.owner_org_id == org.id)
        return col(Batch.brand_id).in_(owned)
    if org.kind == OrgKind.cooperative:
        return col(Batch.cooperative_org_id) == org.id
    party = select(Event.batch_id).where(or_(col(Event.actor_org_id) == org.id, shipped_to(org.id)))
    return col(Batch.id).in_(party)


def check_brand(session: Session, org: Organization, slug: str) -> Brand:
    """The brand (404 if unknown); a brand owner may only audit its own brands (403)."""
    brand = get_brand(session, slug)
    if org.kind == OrgKind.brand_owner and brand.owner_org_id != org.id:
        raise Forbidden(f"brand {slug!r} belongs to another organization")
    return brand


def check_batch(session: Session, org: Organization, batch: Batch) -> None:
    ensure_visible(session, batch, org)
