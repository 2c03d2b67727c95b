"""Request and response bodies of the member API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registry.console.models import Member, MemberRole
from registry.console.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from registry.core.time import as_utc


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: Annotated[str, Field(min_length=1, max_length=64)]
    display_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    role: MemberRole = MemberRole.member
    # Left out: the registry generates one and returns it once.
    password: (
        Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)] | None
    ) = None


class MemberPublic(BaseModel):
    id: str
    org_id: str
    username: str
    display_name: str
    role: MemberRole
    created_at: Annotated[datetime, AfterValidator(as_utc)]
    disabled_at: datetime | None

    @classmethod
    def build(cls, member: Member) -> MemberPublic:
        return cls(
            id=member.id,
            org_id=member.org_id,
            username=member.username,
            display_name=member.display_name,
            role=member.role,
            created_at=member.created_at,
            disabled_at=as_utc(member.disabled_at) if member.disabled_at else None,
        )


class MemberCreated(MemberPublic):
    """Returned once, at creation: the generated password (null when the caller chose one)."""

    password: str | None


class SessionsRevoked(BaseModel):
    member_id: str
    revoked: int
