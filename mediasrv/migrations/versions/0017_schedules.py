"""schedules: weekly blocks per region for a site's channel, and each region's filler and card

Revision ID: 0017_schedules
Revises: 0016_programme_region
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_schedules"
down_revision = "0016_programme_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column(
            "source",
            sa.Enum("LIST", "CATEGORY", "PROGRAMMES", name="blocksource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("study_list_id", sa.Integer(), nullable=True),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("programme_ids", sa.JSON(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["study_list_id"], ["study_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("schedule_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_blocks_region_day", ["region", "weekday"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_blocks_study_list_id"), ["study_list_id"], unique=False)

    op.create_table(
        "schedule_settings",
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column(
            "filler",
            sa.Enum("OPTIONAL", "NONE", name="filler", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("card_programme_id", sa.String(length=32), nullable=True),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_programme_id"], ["programmes.id"]),
        sa.ForeignKeyConstraint(["updated_by_user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("region"),
    )


def downgrade() -> None:
    op.drop_table("schedule_settings")
    with op.batch_alter_table("schedule_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_blocks_study_list_id"))
        batch_op.drop_index("ix_schedule_blocks_region_day")
    op.drop_table("schedule_blocks")
