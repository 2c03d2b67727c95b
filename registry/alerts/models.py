"""Alerts: signals a regulator should look at (cloned codes, broken chains), one row per
subject and kind however often the signal repeats."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class AlertKind(StrEnum):
    # The clone signals use the verdict's reason codes (registry/verify/schemas.py ReasonCode).
    scan_threshold_exceeded = "scan_threshold_exceeded"
    impossible_travel = "impossible_travel"
    not_yet_shipped = "not_yet_shipped"
    chain_broken = "chain_broken"
    # Writes the rules refused (registry/audit/refusals.py): attempts, not only successes.
    quota_exceeded = "quota_exceeded"
    mass_balance_exceeded = "mass_balance_exceeded"
    outside_production_area = "outside_production_area"
    future_dated = "future_dated"
    write_refused = "write_refused"


def code_subject(gtin: str, lot: str, serial: str) -> str:
    """The de-duplication subject of a label code: `gtin/lot/serial` (AI 01/10/21)."""
    return f"{gtin}/{lot}/{serial}"


def batch_subject(batch_id: str) -> str:
    return f"batch:{batch_id}"


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        # One row per (kind, subject): a repeat bumps `occurrences` and `last_seen_at`.
        UniqueConstraint("kind", "subject", name="uq_alerts_kind_subject"),
        Index("ix_alerts_created_at", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: AlertKind = Field(sa_type=String(40))
    # code_subject() for a label code, batch_subject() for a batch-wide alert
    subject: str = Field(max_length=80)
    gtin: str | None = Field(default=None, max_length=14)
    lot: str | None = Field(default=None, max_length=20)
    serial: str | None = Field(default=None, max_length=20)
    batch_id: str | None = Field(default=None, foreign_key="batches.id", index=True, max_length=36)
    brand_id: str | None = Field(default=None, foreign_key="brands.id", index=True, max_length=36)
    # What was seen when the alert was raised: a message and the numbers behind it.
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    occurrences: int = 1
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
