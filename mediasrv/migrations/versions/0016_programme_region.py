"""local programmes: each programme is published to a region (its sites only)

Revision ID: 0016_programme_region
Revises: 0015_faults
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_programme_region"
down_revision = "0015_faults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # '' is the whole network: every existing programme stays where it was, at every site.
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=500), server_default="", nullable=False))
        batch_op.create_index("ix_programmes_region", ["region"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.drop_index("ix_programmes_region")
        batch_op.drop_column("region")
