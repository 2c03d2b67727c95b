"""The transparency log's tables: leaves, stored subtree hashes, the sequencer's queue and
state, signed checkpoints and the log's own signing key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from registry.core.ids import new_id
from registry.core.time import utcnow


class LogLeaf(SQLModel, table=True):
    """Leaf `leaf_index` of the log: the 32-byte chain hash of event (batch_id, seq)."""

    __tablename__ = "log_leaves"
    __table_args__ = (Index("uq_log_leaves_batch_seq", "batch_id", "seq", unique=True),)

    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    batch_id: str = Field(max_length=36)
    seq: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogNode(SQLModel, table=True):
    """The hash of the complete subtree (level >= 1, node_index): leaves [node_index*2^level,
    (node_index+1)*2^level). Level 0 is the leaves' own hash, derived from log_leaves."""

    __tablename__ = "log_nodes"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    node_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogPending(SQLModel, table=True):
    """An event committed but not yet integrated into the log (the sequencer's queue)."""

    __tablename__ = "log_pending"

    event_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class LogState(SQLModel, table=True):
    """The one row (id 1) holding the integrated size and root; the sequencer locks it."""

    __tablename__ = "log_state"

    id: int = Field(default=1, primary_key=True)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class LogCheckpoint(SQLModel, table=True):
    """A published checkpoint: the signed note exactly as served."""

    __tablename__ = "log_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class LogKey(SQLModel, table=True):
    """The log's Ed25519 checkpoint key (never a label key). At most one is active."""

    __tablename__ = "log_keys"
    __table_args__ = (
        Index(
            "uq_log_keys_one_active",
            "status",
            unique=True,
            sqlite_where=sql_text("status = 'active'"),
            postgresql_where=sql_text("status = 'active'"),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    key_id: str = Field(max_length=8)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Encrypted PKCS#8 PEM under settings.key_passphrase, like the label keys.
    private_key_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="active", sa_type=String(20))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
