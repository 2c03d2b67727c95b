"""Request and response bodies for label runs, label codes and signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from registry.core.time import as_utc
from registry.labels.models import KeyStatus, LabelRun, SigningKey, format_serial

# One request never asks for more codes than a print shop prints from one job, and the
# per-batch serial space (8 digits) bounds the rest.
MAX_RUN_COUNT = 1_000_000
MAX_CODES_PAGE = 10_000


class LabelRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(gt=0, le=MAX_RUN_COUNT, strict=True)]  # `true` is not 1


class LabelRunPublic(BaseModel):
    run_id: str
    batch_id: str
    first_serial: str
    last_serial: str
    count: int
    key_id: str
    created_at: datetime

    @classmethod
    def build(cls, run: LabelRun) -> LabelRunPublic:
        return cls(
            run_id=run.id,
            batch_id=run.batch_id,
            first_serial=format_serial(run.first_serial),
            last_serial=format_serial(run.last_serial),
            count=run.count,
            key_id=run.key_id,
            created_at=as_utc(run.created_at),
        )


class LabelCodePublic(BaseModel):
    serial: str
    url: str


class SigningKeyPublic(BaseModel):
    key_id: str
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def build(cls, key: SigningKey) -> SigningKeyPublic:
        return cls(
            key_id=key.key_id,
            status=key.status,
            created_at=as_utc(key.created_at),
            retired_at=as_utc(key.retired_at) if key.retired_at else None,
            revoked_at=as_utc(key.revoked_at) if key.revoked_at else None,
        )
