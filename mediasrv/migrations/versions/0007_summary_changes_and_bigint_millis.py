"""compliance summary change counts; viewing millis as bigint

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compliance_summaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False))
    # A day's milliseconds for one player can pass 2^31 (about 600 hours) on PostgreSQL's integer.
    with op.batch_alter_table("viewing_days", schema=None) as batch_op:
        batch_op.alter_column(
            "millis", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("viewing_days", schema=None) as batch_op:
        batch_op.alter_column(
            "millis", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
        )
    with op.batch_alter_table("compliance_summaries", schema=None) as batch_op:
        batch_op.drop_column("changes")
