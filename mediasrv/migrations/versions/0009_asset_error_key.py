"""an asset's failure as a catalogue message (key and parameters), rendered in each reader's language

Revision ID: 0009_asset_error_key
Revises: 0008_asset_per_department
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_asset_error_key"
down_revision = "0008_asset_per_department"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Beside `error` (English, kept for logs and for the rows failed before this): rows without a key
    # show that English, as before.
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("error_params")
        batch_op.drop_column("error_key")
