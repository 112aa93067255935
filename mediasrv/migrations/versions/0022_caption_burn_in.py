"""captions burned into the set-top box pictures: one language per asset may ask for it

Revision ID: 0022_caption_burn_in
Revises: 0021_audio_tracks
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_caption_burn_in"
down_revision = "0021_audio_tracks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captions") as batch:
        batch.add_column(sa.Column("burn_in", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("captions") as batch:
        batch.drop_column("burn_in")
