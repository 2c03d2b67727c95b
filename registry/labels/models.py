"""Label signing keys and label runs (a run is a range of serials; codes are derived on demand).

Ed25519 signatures are deterministic, so a run stores only its serial range and key: each
code's AI 8030 value is recomputed from the key whenever it is printed or served.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, LargeBinary, String, text
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow

SERIAL_DIGITS = 8
MAX_SERIAL = 10**SERIAL_DIGITS - 1


def format_serial(number: int) -> str:
    """The printed serial (AI 21) of a per-batch sequence number: 8 digits, zero-padded."""
    return f"{number:0{SERIAL_DIGITS}d}"


def parse_serial(serial: str) -> int | None:
    """The sequence number of a serial the registry could have issued, else None."""
    if len(serial) != SERIAL_DIGITS or not serial.isascii() or not serial.isdigit():
        return None
    return int(serial)


class KeyStatus(StrEnum):
    active = "active"
    retired = "retired"
    revoked = "revoked"


class SigningKey(SQLModel, table=True):
    """An Ed25519 label key. At most one is active (a partial unique index says so)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index(
            "uq_signing_keys_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # First 2 bytes of SHA-256 of the raw public key, as 4 lowercase hex characters.
    key_id: str = Field(unique=True, max_length=4)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Encrypted PKCS#8 PEM under settings.key_passphrase; never leaves the registry.
    private_key_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: KeyStatus = Field(default=KeyStatus.active, sa_type=String(20))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class LabelRun(SQLModel, table=True):
    """Serials `first_serial..last_serial` (inclusive) of one batch, signed by `key_id`."""

    __tablename__ = "label_runs"
    __table_args__ = (Index("uq_label_runs_batch_first", "batch_id", "first_serial", unique=True),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    batch_id: str = Field(foreign_key="batches.id", max_length=36)
    key_id: str = Field(foreign_key="signing_keys.key_id", max_length=4)
    first_serial: int
    last_serial: int
    count: int
    created_by_org_id: str = Field(foreign_key="organizations.id", max_length=36)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
