"""site reports carry the channel's latest replacements (scheduled programmes not cached yet)

Revision ID: 0023_channel_replaced
Revises: 0022_caption_burn_in
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_channel_replaced"
down_revision = "0022_caption_burn_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_reports") as batch:
        batch.add_column(sa.Column("channel_replaced", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("site_reports") as batch:
        batch.drop_column("channel_replaced")
