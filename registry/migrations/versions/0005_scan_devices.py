"""scan devices: the region a scan was located in (the URL's position or the GeoIP city), so
a restarted process can tell a code's first scanner where it was (`scans.client_hash` now
holds the scanning device's identifier)

Revision ID: 0005_scan_devices
Revises: 0008_bilingual
Create Date: 2026-11-30 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_scan_devices"
down_revision: str | None = "0008_bilingual"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scans", sa.Column("region", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("region")
