"""viewing evidence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "viewing_days",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("programme_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("player", sa.String(length=16), nullable=False),
        sa.Column("segments", sa.LargeBinary(), nullable=False),
        sa.Column("millis", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "day", "programme_id", "source", "player"),
    )
    with op.batch_alter_table("viewing_days", schema=None) as batch_op:
        batch_op.create_index("ix_viewing_days_programme_day", ["programme_id", "day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("viewing_days", schema=None) as batch_op:
        batch_op.drop_index("ix_viewing_days_programme_day")

    op.drop_table("viewing_days")
