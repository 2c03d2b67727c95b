"""job chunks: a long job's progress in finished chunks, so another worker can resume it

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0008_bilingual"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("chunk_size", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("chunks_done", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("chunks_done")
        batch.drop_column("chunk_size")
