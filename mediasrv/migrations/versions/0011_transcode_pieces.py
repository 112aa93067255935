"""the pieces of a long film's chunked transcode (chunks, audio, join), each with its attempts

Revision ID: 0011_transcode_pieces
Revises: 0010_region_scope
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_transcode_pieces"
down_revision = "0010_region_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcode_pieces",
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.String(length=32), nullable=False),
        sa.Column("piece", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("asset_id", "generation", "piece"),
    )


def downgrade() -> None:
    op.drop_table("transcode_pieces")
