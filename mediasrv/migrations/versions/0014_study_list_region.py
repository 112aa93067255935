"""layered study lists: each list belongs to a region (the department that set it)

Revision ID: 0014_study_list_region
Revises: 0013_file_lists
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_study_list_region"
down_revision = "0013_file_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # '' is the whole network: existing lists were made by administrators of the whole network (scopes
    # arrive in the same release), so only such administrators change them; county ones read them.
    with op.batch_alter_table("study_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=500), server_default="", nullable=False))
        batch_op.create_index("ix_study_lists_region", ["region"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("study_lists", schema=None) as batch_op:
        batch_op.drop_index("ix_study_lists_region")
        batch_op.drop_column("region")
