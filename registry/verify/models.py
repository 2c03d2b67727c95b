"""Consumer scans of label codes: one row per scan, and one running counter per code.

Written only by the scan recorder's background flush (registry/verify/scans.py), never on
the request path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel


class Scan(SQLModel, table=True):
    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_code_time", "gtin", "lot", "serial", "scanned_at"),)

    # BIGINT on PostgreSQL (scans grow without bound); SQLite's rowid is already 64-bit.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    gtin: str = Field(max_length=14)
    lot: str = Field(max_length=20)
    serial: str = Field(max_length=20)
    scanned_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Coarse only (rounded to 0.1 degree, about 10 km) so a scan never pins down a person.
    lat: float | None = None
    lon: float | None = None
    country: str | None = Field(default=None, max_length=2)
    # Keyed hash of client address + user agent: tells repeat scanners apart, names nobody.
    client_hash: str | None = Field(default=None, max_length=32)


class ScanCounter(SQLModel, table=True):
    __tablename__ = "scan_counters"

    gtin: str = Field(primary_key=True, max_length=14)
    lot: str = Field(primary_key=True, max_length=20)
    serial: str = Field(primary_key=True, max_length=20)
    count: int = 0
    first_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
