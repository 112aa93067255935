"""region scopes: administrators and departments in a region, audit rows by the region acted in

Revision ID: 0010_region_scope
Revises: 0009_asset_error_key
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_region_scope"
down_revision = "0009_asset_error_key"
branch_labels = None
depends_on = None

_TABLES = ("users", "org_units", "audit_events")


def upgrade() -> None:
    # '' is the whole network: every existing administrator keeps seeing everything, every existing
    # department and audit row stays the whole network's (an administrator with a narrower scope is
    # created after this, by one with a wider one).
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("region", sa.String(length=500), server_default="", nullable=False))
            batch_op.create_index(f"ix_{table}_region", ["region"], unique=False)
    # What was done to a site lies in its region: the county's administrator reads its sites' history.
    op.execute(
        "UPDATE audit_events SET region = COALESCE("
        "(SELECT sites.region FROM sites WHERE CAST(sites.id AS VARCHAR(64)) = audit_events.target_id), '')"
        " WHERE target_type = 'site'"
    )


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_region")
            batch_op.drop_column("region")
