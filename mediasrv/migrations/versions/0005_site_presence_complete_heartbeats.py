"""site presence: complete heartbeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_presence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complete_heartbeats", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("site_presence", schema=None) as batch_op:
        batch_op.drop_column("complete_heartbeats")
