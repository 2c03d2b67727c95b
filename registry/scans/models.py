"""Consumer scans: one row per scan, one running counter per code (written in the
background by registry/scans/ingest.py, never on the request path), and the stream entries
already written (a redelivered Redis stream entry finds its id here and is skipped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer
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
    # Where the scan was located: "Kaili, CN" (GeoIP city) or "26.6,107.9" (a shared position).
    region: str | None = Field(default=None, max_length=80)
    # The scanning device (registry/scans/devices.py): a first-party cookie's value, or a
    # keyed hash of the client's network and user agent. Tells scanners apart, names nobody.
    client_hash: str | None = Field(default=None, max_length=32)


class ScanCounter(SQLModel, table=True):
    __tablename__ = "scan_counters"

    gtin: str = Field(primary_key=True, max_length=14)
    lot: str = Field(primary_key=True, max_length=20)
    serial: str = Field(primary_key=True, max_length=20)
    count: int = 0
    first_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
