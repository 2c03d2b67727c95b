"""labels and scans: signing keys, label runs, consumer scans and per-code scan counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 04:57:36.559542
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=4), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )
    # At most one active key: two concurrent "first label run" requests cannot both mint one.
    op.create_index(
        "uq_signing_keys_one_active",
        "signing_keys",
        ["status"],
        unique=True,
        sqlite_where=_ONE_ACTIVE,
        postgresql_where=_ONE_ACTIVE,
    )

    op.create_table(
        "label_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=4), nullable=False),
        sa.Column("first_serial", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by_org_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"]),
        sa.ForeignKeyConstraint(["created_by_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["key_id"], ["signing_keys.key_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_label_runs_batch_first", "label_runs", ["batch_id", "first_serial"], unique=True
    )

    op.create_table(
        "scans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("client_hash", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_scans_code_time", "scans", ["gtin", "lot", "serial", "scanned_at"], unique=False
    )

    op.create_table(
        "scan_counters",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot", "serial"),
    )

    # Verification finds a label's batch by (gtin, lot).
    op.create_index("ix_batches_gtin_lot", "batches", ["gtin", "lot"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_batches_gtin_lot", table_name="batches")
    op.drop_table("scan_counters")
    op.drop_index("ix_scans_code_time", table_name="scans")
    op.drop_table("scans")
    op.drop_index("uq_label_runs_batch_first", table_name="label_runs")
    op.drop_table("label_runs")
    op.drop_index("uq_signing_keys_one_active", table_name="signing_keys")
    op.drop_table("signing_keys")
