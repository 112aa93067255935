"""a region's default languages, held by its sites that chose none

Revision ID: 0025_region_languages
Revises: 0024_site_languages
Create Date: 2026-12-07

A site's languages are its own (sites.languages) when it chose some, else the nearest region's in
this table (village up to the whole network), else none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_region_languages"
down_revision = "0024_site_languages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_languages",
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region"),
    )


def downgrade() -> None:
    op.drop_table("region_languages")
