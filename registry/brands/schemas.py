"""Request and response bodies for brands and licenses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from registry.brands.models import BrandStatus, LicenseStatus
from registry.core.identifiers import check_county_code, check_text
from registry.core.time import as_utc

CountyCode = Annotated[str, AfterValidator(check_county_code)]
Text = Annotated[str, AfterValidator(check_text)]
# Strict: a JSON integer, not `true` or "5".
Threshold = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
# SQLite hands stored times back without their zone; answers always say UTC.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class BrandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    name_local: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    category: Annotated[Text, Field(min_length=1, max_length=100)]
    category_local: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    description: Annotated[Text, Field(max_length=4000)] | None = None
    description_local: Annotated[Text, Field(max_length=4000)] | None = None
    standard: Annotated[Text, Field(max_length=200)] | None = None
    standard_local: Annotated[Text, Field(max_length=200)] | None = None
    county_codes: Annotated[list[CountyCode], Field(min_length=1, max_length=100)]
    scan_alert_threshold: Threshold | None = None


class BrandUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: BrandStatus | None = None
    description: Annotated[Text, Field(max_length=4000)] | None = None
    description_local: Annotated[Text, Field(max_length=4000)] | None = None
    standard: Annotated[Text, Field(max_length=200)] | None = None
    standard_local: Annotated[Text, Field(max_length=200)] | None = None
    scan_alert_threshold: Threshold | None = None


class BrandPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str
    name_local: str | None
    category: str
    category_local: str | None
    description: str | None
    description_local: str | None
    standard: str | None
    standard_local: str | None
    county_codes: list[str]
    status: BrandStatus
    scan_alert_threshold: int | None
    owner_org_id: str
    created_at: UtcDatetime


class LicenseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: Text
    valid_from: date
    valid_to: date
    annual_quota_kg: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]

    @model_validator(mode="after")
    def _ordered(self) -> LicenseCreate:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


class LicensePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    brand_id: str
    org_id: str
    valid_from: date
    valid_to: date
    annual_quota_kg: float
    status: LicenseStatus
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None
