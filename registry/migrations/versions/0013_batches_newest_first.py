"""batches: indexes in the listings' order (newest first, then id), for all batches and for
each cooperative's, so a page of batches reads that page and not every batch

Revision ID: 0013_batches_newest_first
Revises: 0012_events_shipped_to
Create Date: 2026-12-01 06:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_batches_newest_first"
down_revision: str | None = "0012_events_shipped_to"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_batches_newest", "batches", [sa.text("created_at DESC"), "id"])
    op.create_index(
        "ix_batches_cooperative_newest",
        "batches",
        ["cooperative_org_id", sa.text("created_at DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_batches_cooperative_newest", table_name="batches")
    op.drop_index("ix_batches_newest", table_name="batches")
