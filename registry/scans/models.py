"""Stream entries already written to the database: what makes draining the Redis stream
idempotent (a redelivered entry finds its id here and is skipped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from registry.core.time import utcnow

# Redeliveries happen within minutes (a dead consumer's entries are claimed after a
# minute); ids are kept a day, then pruned.
KEEP_STREAM_IDS_HOURS = 24


class ScanStreamEntry(SQLModel, table=True):
    __tablename__ = "scan_stream_entries"

    stream_id: str = Field(primary_key=True, max_length=40)
    ingested_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True),
    )
