"""Member logins of an organization and their server-side sign-in sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, String
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class MemberRole(StrEnum):
    """`admin` members also manage their organization's members; both roles may do
    exactly what the organization's API key may do."""

    admin = "admin"
    member = "member"


class Member(SQLModel, table=True):
    __tablename__ = "members"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    # A username or a phone number, lower-cased; unique across the registry because the
    # sign-in form asks for nothing else.
    username: str = Field(unique=True, max_length=64)
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=200)
    role: MemberRole = Field(default=MemberRole.member, sa_type=String(20))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    disabled_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class MemberSession(SQLModel, table=True):
    """A signed-in browser. Only a SHA-256 of the cookie's token is stored; revoking sets
    `revoked_at`, so a stolen cookie stops working at once."""

    __tablename__ = "member_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(unique=True, max_length=64)
    member_id: str = Field(foreign_key="members.id", index=True, max_length=36)
    # Sent back by the page in a form field or the X-CSRF-Token header on unsafe requests.
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
