"""transparency log: leaves, subtree hashes, sequencer queue and state, checkpoints, log key

Revision ID: 0004_transparency_log
Revises: 0003
Create Date: 2026-11-30 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_transparency_log"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SHA-256 of the empty string: the root of the empty tree.
_EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
    )
    op.create_index("uq_log_leaves_batch_seq", "log_leaves", ["batch_id", "seq"], unique=True)
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index"),
    )
    op.create_table(
        "log_pending",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_log_keys_one_active",
        "log_keys",
        ["status"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.execute(
        sa.text(
            "INSERT INTO log_state (id, size, root, updated_at) "
            "VALUES (1, 0, :root, CURRENT_TIMESTAMP)"
        ).bindparams(sa.bindparam("root", _EMPTY_ROOT, type_=sa.LargeBinary()))
    )
    # Events recorded before the log existed join it in their id order.
    op.execute("INSERT INTO log_pending (event_id) SELECT id FROM events")


def downgrade() -> None:
    op.drop_index("uq_log_keys_one_active", table_name="log_keys")
    op.drop_table("log_keys")
    op.drop_table("log_checkpoints")
    op.drop_table("log_state")
    op.drop_table("log_pending")
    op.drop_table("log_nodes")
    op.drop_index("uq_log_leaves_batch_seq", table_name="log_leaves")
    op.drop_table("log_leaves")
