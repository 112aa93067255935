"""captions: one checked caption track per asset and language, and the asset's published subtitle set

Revision ID: 0019_captions
Revises: 0018_region_pattern_ops
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_captions"
down_revision = "0018_region_pattern_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column(
            "source",
            sa.Enum("UPLOAD", "EMBEDDED", name="captionsource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("generation", sa.String(length=32), nullable=True),
        sa.Column("cue_count", sa.Integer(), nullable=False),
        sa.Column("vtt", sa.Text(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("asset_id", "language"),
    )
    with op.batch_alter_table("captions", schema=None) as batch_op:
        batch_op.create_index("ix_captions_asset_id", ["asset_id"], unique=False)
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subtitles", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("subtitles_version", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("subtitles_version")
        batch_op.drop_column("subtitles")
    with op.batch_alter_table("captions", schema=None) as batch_op:
        batch_op.drop_index("ix_captions_asset_id")
    op.drop_table("captions")
