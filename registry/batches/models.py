"""Batches and their append-only, hash-chained events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow

# session.info: batches whose head a statement moved without an ORM flush (the service's
# one-statement append); the verification caches' invalidation reads it after the commit.
WRITTEN_OUTSIDE_FLUSH = "batches_written_outside_flush"


class BatchStatus(StrEnum):
    open = "open"
    recalled = "recalled"


class Batch(SQLModel, table=True):
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("brand_id", "lot", name="uq_batches_brand_lot"),
        # Verification looks a label's batch up by the code's GTIN and lot.
        Index("ix_batches_gtin_lot", "gtin", "lot"),
        # Listings, newest first (created_at, id): all batches, and a cooperative's.
        Index("ix_batches_newest", text("created_at DESC"), "id"),
        Index("ix_batches_cooperative_newest", "cooperative_org_id", text("created_at DESC"), "id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    brand_id: str = Field(foreign_key="brands.id", index=True, max_length=36)
    cooperative_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=36)
    lot: str = Field(max_length=20)
    product: str = Field(max_length=200)
    variety: str | None = Field(default=None, max_length=200)
    gtin: str | None = Field(default=None, max_length=14)
    status: BatchStatus = Field(default=BatchStatus.open, sa_type=String(20))
    head_seq: int = 0
    head_hash: str = Field(max_length=64)
    # Custody and mass-balance state after the head event (batches/ledger.py); derived from
    # the chain and rebuilt from it on corrections, stored so appends stay O(1).
    ledger: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True),
    )


class Event(SQLModel, table=True):
    """One link of a batch's chain. The database refuses UPDATE and DELETE on this table."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq", name="uq_events_batch_seq"),
        UniqueConstraint("actor_org_id", "idempotency_key", name="uq_events_idempotency"),
        Index("ix_events_type_batch", "type", "batch_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(foreign_key="batches.id", max_length=36)
    seq: int
    type: str = Field(max_length=20)
    event_time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event_time_offset: str = Field(max_length=6)
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor_org_id: str = Field(foreign_key="organizations.id", max_length=36)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, index=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_digest: str | None = Field(default=None, max_length=64)
