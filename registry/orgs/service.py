"""Organizations and API keys: creation, key issue, authentication."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from registry.core.errors import Conflict
from registry.orgs.exceptions import InvalidApiKey, OrgNotFound
from registry.orgs.models import ApiKey, Organization, OrgKind

KEY_PREFIX = "ork_"


def _hash_key(raw: str) -> str:
    # Keys carry 256 random bits, so a plain SHA-256 is enough (no stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


def get_org(session: Session, org_id: str) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise OrgNotFound(f"organization {org_id} not found")
    return org


def create_api_key(session: Session, *, org_id: str) -> tuple[ApiKey, str]:
    """Issue a new key for the org; returns the stored row and the raw key (shown once)."""
    get_org(session, org_id)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(org_id=org_id, key_hash=_hash_key(raw), prefix=raw[:12])
    session.add(key)
    session.flush()
    return key, raw


def create_org(
    session: Session,
    *,
    name: str,
    kind: OrgKind,
    county_code: str | None = None,
    credit_code: str | None = None,
    name_en: str | None = None,
) -> tuple[Organization, str]:
    """Create an organization with its first API key; returns the org and the raw key."""
    if (
        credit_code
        and session.exec(
            select(Organization).where(Organization.credit_code == credit_code)
        ).first()
    ):
        raise Conflict(f"an organization with credit code {credit_code} already exists")
    org = Organization(
        name=name, name_en=name_en, kind=kind, county_code=county_code, credit_code=credit_code
    )
    session.add(org)
    session.flush()
    _, raw = create_api_key(session, org_id=org.id)
    return org, raw


def authenticate(session: Session, raw_key: str) -> Organization:
    """The organization owning an unrevoked key, or InvalidApiKey."""
    row = session.exec(
        select(Organization)
        .join(ApiKey, ApiKey.org_id == Organization.id)  # type: ignore[arg-type]
        .where(ApiKey.key_hash == _hash_key(raw_key), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None:
        raise InvalidApiKey("invalid or revoked API key")
    return row


def key_kind(session: Session, raw_key: str) -> OrgKind | None:
    """The kind of organization owning an unrevoked key; None for any other string."""
    try:
        return authenticate(session, raw_key).kind
    except InvalidApiKey:
        return None
