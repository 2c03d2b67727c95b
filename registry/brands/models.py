"""Brands (a county brand and its production area) and cooperative licenses."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, DateTime, String
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class BrandStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class LicenseStatus(StrEnum):
    active = "active"
    revoked = "revoked"


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    slug: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    name_local: str | None = Field(default=None, max_length=200)
    category: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    standard: str | None = Field(default=None, max_length=200)
    # Chinese beside the English `category`, `description`, `standard` (as `name_local` is
    # beside `name`); pages show the viewer's language where the brand has it.
    category_local: str | None = Field(default=None, max_length=100)
    description_local: str | None = Field(default=None, max_length=4000)
    standard_local: str | None = Field(default=None, max_length=200)
    county_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: BrandStatus = Field(default=BrandStatus.active, sa_type=String(20))
    # Scans of one code above this count mark it suspicious; None uses the setting.
    scan_alert_threshold: int | None = None
    owner_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class License(SQLModel, table=True):
    __tablename__ = "licenses"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    brand_id: str = Field(foreign_key="brands.id", index=True, max_length=36)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    valid_from: date
    valid_to: date
    annual_quota_kg: float
    status: LicenseStatus = Field(default=LicenseStatus.active, sa_type=String(20))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
