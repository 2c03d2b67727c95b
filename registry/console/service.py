"""Members and their sessions: creation, listing, disabling, sign-in, session lookup.

Functions take the session first, flush and never commit (the request or CLI commits).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from registry.console.exceptions import (
    MemberNotFound,
    NotMemberAdmin,
    SessionExpired,
    UsernameTaken,
    WeakPassword,
)
from registry.console.models import Member, MemberRole, MemberSession
from registry.console.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    burn_verification_time,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from registry.core.errors import InvalidInput
from registry.core.time import as_utc, utcnow
from registry.orgs.models import Organization, OrgKind
from registry.orgs.service import get_org

# A username (letters, digits, . _ - @) or a phone number (digits, optional leading +).
_USERNAME = re.compile(r"^(?:\+?[0-9]{6,20}|[a-z0-9][a-z0-9._@-]{1,63})$")


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a session cookie."""

    member: Member
    org: Organization
    session: MemberSession


def _hash_token(raw: str) -> str:
    # Tokens carry 256 random bits: a plain SHA-256 is enough, as for API keys.
    return hashlib.sha256(raw.encode()).hexdigest()


def normalize_username(raw: str) -> str:
    username = raw.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username: 2-64 letters, digits, '.', '_', '-' or '@' starting with a letter or "
            "digit, or a phone number of 6-20 digits"
        )
    return username


def check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"password: {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters "
            f"(got {len(password)})"
        )


def create_member(
    session: Session,
    *,
    org_id: str,
    username: str,
    display_name: str | None = None,
    role: MemberRole = MemberRole.member,
    password: str | None = None,
) -> tuple[Member, str | None]:
    """A login for a member of the org; returns it and the generated password (None when
    one was given). The password is stored only as an Argon2id hash."""
    get_org(session, org_id)
    name = normalize_username(username)
    if session.exec(select(Member.id).where(Member.username == name)).first():
        raise UsernameTaken(f"username {name!r} is taken")
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password(password)
    member = Member(
        org_id=org_id,
        username=name,
        display_name=(display_name or "").strip() or name,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(member)
    session.flush()
    return member, generated


def list_members(session: Session, *, org_id: str) -> list[Member]:
    get_org(session, org_id)
    return list(
        session.exec(select(Member).where(Member.org_id == org_id).order_by(col(Member.username)))
    )


def get_member(session: Session, *, org_id: str, member_id: str) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.org_id != org_id:
        raise MemberNotFound(f"member {member_id} not found in organization {org_id}")
    return member


def revoke_sessions(session: Session, *, member_id: str) -> int:
    """End every live session of the member; returns how many were ended."""
    now = utcnow()
    live = session.exec(
        select(MemberSession).where(
            MemberSession.member_id == member_id, col(MemberSession.revoked_at).is_(None)
        )
    ).all()
    for row in live:
        row.revoked_at = now
        session.add(row)
    session.flush()
    return len(live)


def disable_member(session: Session, *, org_id: str, member_id: str) -> Member:
    """The member can no longer sign in, and every session of theirs ends now."""
    member = get_member(session, org_id=org_id, member_id=member_id)
    if member.disabled_at is None:
        member.disabled_at = utcnow()
        session.add(member)
    revoke_sessions(session, member_id=member.id)
    return member


def ensure_can_manage(
    *, caller_org: Organization, caller_member: Member | None, org_id: str
) -> None:
    """The registry admin manages every org's members; an org manages its own with its API
    key or through an admin member. Other members and other orgs are refused (403)."""
    if caller_org.kind == OrgKind.admin:
        return
    if caller_org.id != org_id:
        raise NotMemberAdmin(f"{caller_org.name} may not manage members of another organization")
    if caller_member is not None and caller_member.role != MemberRole.admin:
        raise NotMemberAdmin("only an admin member (or the organization's API key) manages members")


def sign_in(
    session: Session, *, username: str, password: str, ttl: timedelta
) -> tuple[SignedIn, str] | None:
    """Check the password and open a session; returns it and the raw cookie token, or None
    for a wrong username or password or a disabled member (all answered alike)."""
    try:
        name = normalize_username(username)
    except InvalidInput:
        name = None
    member = session.exec(select(Member).where(Member.username == name)).first() if name else None
    if member is None:
        burn_verification_time(password)
        return None
    if not verify_password(member.password_hash, password) or member.disabled_at is not None:
        return None
    if needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
        session.add(member)
    raw = secrets.token_urlsafe(32)
    row = MemberSession(
        token_hash=_hash_token(raw),
        member_id=member.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    session.flush()
    return SignedIn(member, get_org(session, member.org_id), row), raw


def session_for_token(session: Session, raw_token: str) -> SignedIn:
    """The live session a cookie token names, or SessionExpired."""
    row = session.exec(
        select(MemberSession).where(MemberSession.token_hash == _hash_token(raw_token))
    ).first()
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= utcnow():
        raise SessionExpired("the console session has ended; sign in again")
    member = session.get(Member, row.member_id)
    if member is None or member.disabled_at is not None:
        raise SessionExpired("the console session has ended; sign in again")
    return SignedIn(member, get_org(session, member.org_id), row)


def sign_out(session: Session, *, signed_in: SignedIn) -> None:
    row = signed_in.session
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
