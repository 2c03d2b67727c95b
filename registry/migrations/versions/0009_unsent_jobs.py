"""unsent jobs: when a job's task could not be sent (the broker unreachable), so that the
resend sweep sends it once the broker is back

Revision ID: 0009_unsent_jobs
Revises: 0005_scan_devices
Create Date: 2026-11-30 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_unsent_jobs"
down_revision: str | None = "0005_scan_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("unsent_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("unsent_since")
