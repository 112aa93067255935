"""region prefix indexes for PostgreSQL databases of any collation

kit.regions.under finds a scope's rows with LIKE 'scope/%'. PostgreSQL serves a LIKE prefix from a plain
btree index only under the C collation; a database created with another locale (en_US.UTF-8, C.UTF-8
from the libc provider) reads every row. varchar_pattern_ops indexes compare bytes and serve it under
any collation. SQLite: nothing (its form of `under` is a range the plain index serves).

Revision ID: 0018_region_pattern_ops
Revises: 0017_schedules
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018_region_pattern_ops"
down_revision = "0017_schedules"
branch_labels = None
depends_on = None

# The tables whose region kit.regions.under (a scope's rows) reads: kit.regions.prefix_index in their
# models.
TABLES = (
    "sites", "users", "org_units", "audit_events", "programmes", "study_lists", "fault_limits",
    "fault_contacts",
)  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_index(
            f"ix_{table}_region_prefix", table, ["region"], postgresql_ops={"region": "varchar_pattern_ops"}
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.drop_index(f"ix_{table}_region_prefix", table_name=table)
