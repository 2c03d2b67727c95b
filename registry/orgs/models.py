"""Organizations and their API keys (only a SHA-256 of each key is stored)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, String
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class OrgKind(StrEnum):
    admin = "admin"
    brand_owner = "brand_owner"
    cooperative = "cooperative"
    handler = "handler"
    platform = "platform"
    regulator = "regulator"


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    # The registered name is the legal one (Chinese for Chinese organizations); pages in
    # English show this name where the organization gave one.
    name_en: str | None = Field(default=None, max_length=200)
    kind: OrgKind = Field(sa_type=String(20))
    county_code: str | None = Field(default=None, max_length=6)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    key_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
