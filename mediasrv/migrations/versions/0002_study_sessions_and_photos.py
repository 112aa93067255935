"""study sessions and photos

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("members_present", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_sessions_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_sessions_site_id"), ["site_id"], unique=False)

    op.create_table(
        "study_session_photos",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["study_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "sha256"),
    )
    with op.batch_alter_table("study_session_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_session_photos_session_id"), ["session_id"], unique=False)

    op.create_table(
        "study_session_programmes",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("programme_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
        ),
        sa.ForeignKeyConstraint(["session_id"], ["study_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "programme_id"),
    )
    with op.batch_alter_table("study_session_programmes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_study_session_programmes_programme_id"), ["programme_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("study_session_programmes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_session_programmes_programme_id"))

    op.drop_table("study_session_programmes")
    with op.batch_alter_table("study_session_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_session_photos_session_id"))

    op.drop_table("study_session_photos")
    with op.batch_alter_table("study_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_sessions_site_id"))
        batch_op.drop_index(batch_op.f("ix_study_sessions_day"))

    op.drop_table("study_sessions")
