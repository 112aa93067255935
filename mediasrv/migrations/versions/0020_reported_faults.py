"""faults reported from the site view: each report kept once by the id its form made

Revision ID: 0020_reported_faults
Revises: 0019_captions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_reported_faults"
down_revision = "0019_captions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fault_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "SILENT",
                "SYNC_STALLED",
                "FILES_FAILED",
                "DISK",
                "AGENT_OLD",
                "IDLE",
                "TV_BROKEN",
                "BOX_LOST",
                "LINE_DOWN",
                "OTHER",
                name="faultkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["fault_id"], ["faults.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "client_id", name="uq_fault_reports_client"),
    )
    with op.batch_alter_table("fault_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fault_reports_fault_id"), ["fault_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fault_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fault_reports_fault_id"))
    op.drop_table("fault_reports")
