"""superseded objects kept for a grace period; the mobile ladder's start PTS

Revision ID: 0026_retention
Revises: 0025_region_languages
Create Date: 2026-12-07

retired_objects: what a caption change, a re-transcode or a dub change superseded (subtitle set,
generation, dub source), deleted by the retention sweep after a grace so that players mid-film keep
their segments. renditions.start_pts: the first PTS of a mobile rendition, measured at transcode, so
a caption change no longer downloads and probes a segment (NULL for renditions made before: probed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_retention"
down_revision = "0025_region_languages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retired_objects",
        sa.Column("prefix", sa.String(length=255), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    op.create_index("ix_retired_objects_asset_id", "retired_objects", ["asset_id"])
    op.create_index("ix_retired_objects_retired_at", "retired_objects", ["retired_at"])
    with op.batch_alter_table("renditions") as batch:
        batch.add_column(sa.Column("start_pts", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renditions") as batch:
        batch.drop_column("start_pts")
    op.drop_index("ix_retired_objects_retired_at", table_name="retired_objects")
    op.drop_index("ix_retired_objects_asset_id", table_name="retired_objects")
    op.drop_table("retired_objects")
