"""state every API process shares: resumable uploads (their bytes in object storage), so that any
process can continue one, and the signing key when MEDIASRV_SECRET_KEY is not set

Revision ID: 0012_shared_state
Revises: 0011_transcode_pieces
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_shared_state"
down_revision = "0011_transcode_pieces"
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
    # Filled by the first process that needs the key (from DATA_DIR/secret-key where there is one).
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_index("ix_resumable_uploads_updated_at", table_name="resumable_uploads")
    op.drop_table("resumable_uploads")
