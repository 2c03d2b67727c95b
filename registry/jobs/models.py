"""Background jobs a caller asked for and polls (a label sheet PDF), with their progress and
where their result is kept."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class JobKind(StrEnum):
    label_sheet = "label_sheet"
    audit_export = "audit_export"


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


FINISHED_STATES = (JobState.succeeded, JobState.failed)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    # The expiry sweep looks for finished jobs past their expiry time.
    __table_args__ = (Index("ix_jobs_state_expires", "state", "expires_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: JobKind = Field(sa_type=String(40))
    owner_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    state: JobState = Field(default=JobState.queued, sa_type=String(20))
    # What to do, e.g. {"run_id": ..., "layout": ...}: ids and names only.
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    progress_done: int = 0
    progress_total: int = 0
    # Chunks started (one per chunk, plus one for each chunk redone after a worker died).
    attempts: int = 0
    # Long jobs run in chunks of `chunk_size` items, each its own task; `chunks_done` is
    # the progress another worker resumes from (set when the job first starts).
    chunk_size: int = 0
    chunks_done: int = 0
    # File name under settings.job_output_dir, its size and media type, once succeeded.
    result_file: str | None = Field(default=None, max_length=200)
    result_size: int | None = None
    result_media_type: str | None = Field(default=None, max_length=100)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Set when the job's task could not be sent (the broker was unreachable): the job stays
    # queued and the resend sweep (a beat task) sends it once the broker is back.
    unsent_since: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # When the job and its result file are deleted (set when it finishes).
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
