"""file lists: one immutable document per published (asset, generation, presentation), named by
format-2 site manifests

Revision ID: 0013_file_lists
Revises: 0012_shared_state
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_file_lists"
down_revision = "0012_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_lists",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.String(length=64), nullable=False),
        sa.Column("presentation", sa.String(length=20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("play", sa.String(length=255), nullable=False),
        sa.Column("poster", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("file_lists", schema=None) as batch_op:
        batch_op.create_index("ix_file_lists_asset", ["asset_id", "generation", "presentation"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("file_lists", schema=None) as batch_op:
        batch_op.drop_index("ix_file_lists_asset")
    op.drop_table("file_lists")
