"""programme ratings and demand requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("topic_key", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category"],
            ["categories.code"],
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("demand_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_demand_requests_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_demand_requests_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_demand_requests_topic_key"), ["topic_key"], unique=False)

    op.create_table(
        "programme_ratings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "programme_id"),
    )
    with op.batch_alter_table("programme_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programme_ratings_programme_id"), ["programme_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("programme_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programme_ratings_programme_id"))

    op.drop_table("programme_ratings")
    with op.batch_alter_table("demand_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demand_requests_topic_key"))
        batch_op.drop_index(batch_op.f("ix_demand_requests_site_id"))
        batch_op.drop_index(batch_op.f("ix_demand_requests_category"))

    op.drop_table("demand_requests")
