"""bilingual: brand texts in Chinese beside the English ones, organizations' English names

Revision ID: 0008_bilingual
Revises: 0003
Create Date: 2026-11-30 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_bilingual"
down_revision: str | None = "0004_transparency_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("brands") as batch:
        batch.add_column(sa.Column("category_local", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("description_local", sa.String(length=4000), nullable=True))
        batch.add_column(sa.Column("standard_local", sa.String(length=200), nullable=True))
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("name_en", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("name_en")
    with op.batch_alter_table("brands") as batch:
        batch.drop_column("standard_local")
        batch.drop_column("description_local")
        batch.drop_column("category_local")
