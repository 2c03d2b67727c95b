"""Request and response bodies for organizations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registry.core.identifiers import check_county_code, check_credit_code, check_text
from registry.core.time import as_utc
from registry.orgs.models import OrgKind


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)]
    name_en: (
        Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_text)] | None
    ) = None
    kind: OrgKind
    county_code: Annotated[str, AfterValidator(check_county_code)] | None = None
    credit_code: Annotated[str, AfterValidator(check_credit_code)] | None = None


class OrgPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    name_en: str | None
    kind: OrgKind
    county_code: str | None
    credit_code: str | None
    # SQLite hands stored times back without their zone; answers always say UTC.
    created_at: Annotated[datetime, AfterValidator(as_utc)]


class OrgWithKey(OrgPublic):
    """Returned once, at creation: the only time the API key is shown."""

    api_key: str


class ApiKeyCreated(BaseModel):
    id: str
    org_id: str
    api_key: str
