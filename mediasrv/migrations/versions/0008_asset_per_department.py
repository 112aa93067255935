"""one asset per department for the same bytes

Revision ID: 0008_asset_per_department
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_asset_per_department"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNOWNED = sa.text("org_unit_id IS NULL")


def upgrade() -> None:
    # Deduplication was global: the same bytes from a second department gave it the first's asset.
    op.drop_index("ix_assets_sha256", table_name="assets")
    op.create_index("uq_assets_sha256_org_unit", "assets", ["sha256", "org_unit_id"], unique=True)
    op.create_index(
        "uq_assets_sha256_unowned",
        "assets",
        ["sha256"],
        unique=True,
        sqlite_where=_UNOWNED,
        postgresql_where=_UNOWNED,
    )


def downgrade() -> None:
    # Fails while two departments hold assets of the same bytes: which one to keep is a person's call.
    op.drop_index("uq_assets_sha256_unowned", table_name="assets")
    op.drop_index("uq_assets_sha256_org_unit", table_name="assets")
    op.create_index("ix_assets_sha256", "assets", ["sha256"], unique=True)
