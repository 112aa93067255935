"""faults of sites (one open per site and kind: a partial unique index), the limits regions set, their
contacts, and the notices and deliveries sent to them

Revision ID: 0015_faults
Revises: 0014_study_list_region
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_faults"
down_revision = "0014_study_list_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fault_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("EMAIL", "WEBHOOK", name="contactkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fault_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fault_contacts_region"), ["region"], unique=False)

    op.create_table(
        "fault_limits",
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column("silent_hours", sa.Integer(), nullable=True),
        sa.Column("escalate_hours", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region"),
    )
    op.create_table(
        "fault_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=500), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("DIGEST", "ESCALATION", name="noticekind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fault_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fault_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fault_notices_region"), ["region"], unique=False)

    op.create_table(
        "fault_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("EMAIL", "WEBHOOK", name="contactkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["fault_contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["notice_id"], ["fault_notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fault_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fault_deliveries_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fault_deliveries_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fault_deliveries_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
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
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repair_seconds", sa.BigInteger(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("closed_note", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.create_index("ix_faults_closed_at", ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_faults_notified_at"), ["notified_at"], unique=False)
        batch_op.create_index("ix_faults_opened_at", ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_faults_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            "uq_faults_open",
            ["site_id", "kind"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_faults_open",
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_faults_site_id"))
        batch_op.drop_index("ix_faults_opened_at")
        batch_op.drop_index(batch_op.f("ix_faults_notified_at"))
        batch_op.drop_index("ix_faults_closed_at")

    op.drop_table("faults")
    with op.batch_alter_table("fault_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fault_deliveries_sent_at"))
        batch_op.drop_index(batch_op.f("ix_fault_deliveries_notice_id"))
        batch_op.drop_index(batch_op.f("ix_fault_deliveries_contact_id"))

    op.drop_table("fault_deliveries")
    with op.batch_alter_table("fault_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fault_notices_region"))

    op.drop_table("fault_notices")
    op.drop_table("fault_limits")
    with op.batch_alter_table("fault_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fault_contacts_region"))

    op.drop_table("fault_contacts")
