"""language audio tracks: producers' extra audio files per film, and each rendition's audio language

Revision ID: 0021_audio_tracks
Revises: 0020_reported_faults
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_audio_tracks"
down_revision = "0020_reported_faults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audio_tracks",
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("asset_id", "language"),
    )
    # '' for every existing rendition: its language was never recorded.
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_column("language")
    op.drop_table("audio_tracks")
