"""Request and response bodies for jobs and label sheet requests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from registry.core.time import as_utc
from registry.jobs.models import Job, JobKind, JobState
from registry.labels.sheets import WITHDRAWN_LAYOUTS

# The names of registry/labels/sheets.py LAYOUTS (a test keeps the two in step).
SheetLayoutName = Literal["a4-2x7", "a4-3x8", "a4-4x10", "letter-3x10"]


class LabelSheetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: SheetLayoutName = "a4-3x8"

    @field_validator("layout", mode="before")
    @classmethod
    def _not_withdrawn(cls, value: object) -> object:
        if isinstance(value, str) and value in WITHDRAWN_LAYOUTS:
            raise ValueError(f"layout {value} was withdrawn: {WITHDRAWN_LAYOUTS[value]}")
        return value


class JobProgress(BaseModel):
    done: int
    total: int


class JobPublic(BaseModel):
    job_id: str
    kind: JobKind
    state: JobState
    progress: JobProgress
    result_url: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def build(cls, job: Job) -> JobPublic:
        ready = job.state == JobState.succeeded and job.result_file is not None
        return cls(
            job_id=job.id,
            kind=job.kind,
            state=job.state,
            progress=JobProgress(done=job.progress_done, total=job.progress_total),
            result_url=f"/v1/jobs/{job.id}/result" if ready else None,
            error=job.error,
            created_at=as_utc(job.created_at),
            started_at=as_utc(job.started_at) if job.started_at else None,
            finished_at=as_utc(job.finished_at) if job.finished_at else None,
            expires_at=as_utc(job.expires_at) if job.expires_at else None,
        )
