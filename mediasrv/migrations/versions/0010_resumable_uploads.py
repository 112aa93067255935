"""resumable uploads' state in the database (their bytes in object storage), so that any API process
can continue one

Revision ID: 0010_resumable_uploads
Revises: 0009_asset_error_key
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_resumable_uploads"
down_revision = "0009_asset_error_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Uploads in progress under the old layout (a spool file per upload on one API's disk) are not
    # carried over: their clients find them gone (404) and start again, as after a day's abandon.
    op.create_table(
        "resumable_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("multipart_id", sa.String(length=255), nullable=True),
        sa.Column("etags", sa.JSON(), nullable=False),
        sa.Column("pieces", sa.JSON(), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=True),
        sa.Column("lock_token", sa.String(length=32), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resumable_uploads_updated_at", "resumable_uploads", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_resumable_uploads_updated_at", table_name="resumable_uploads")
    op.drop_table("resumable_uploads")
