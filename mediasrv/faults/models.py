"""Faults of sites, the limits a region sets for them, the region's contacts, and the notices (digests
and escalations) sent to those contacts, each delivery kept until it went out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.kit.regions import prefix_index
from mediasrv.sites import models as _sites  # noqa: F401  # the table site_id names


class FaultKind(StrEnum):
    # Found by the sweep (mediasrv.faults.detect); each closes by itself when its condition clears.
    SILENT = "silent"  # no heartbeat for longer than the region's limit
    SYNC_STALLED = "sync_stalled"  # the cache not complete for its manifest for days
    FILES_FAILED = "files_failed"  # files failing verification
    DISK = "disk"  # disk nearly full, or over the site's quota
    AGENT_OLD = "agent_old"  # the agent older than the oldest supported
    IDLE = "idle"  # required lists, yet the player served nothing for a month
    # Reported by a person (a phone call, later the site view); closed only by a person, with a note.
    TV_BROKEN = "tv_broken"
    BOX_LOST = "box_lost"
    LINE_DOWN = "line_down"
    OTHER = "other"

    @property
    def reported(self) -> bool:
        return self in REPORTED


DETECTED = frozenset(
    {
        FaultKind.SILENT,
        FaultKind.SYNC_STALLED,
        FaultKind.FILES_FAILED,
        FaultKind.DISK,
        FaultKind.AGENT_OLD,
        FaultKind.IDLE,
    }
)

REPORTED = frozenset(set(FaultKind) - DETECTED)


class Fault(Base):
    """One fault of one site, open until `closed_at`. At most one open per (site, kind): the partial
    unique index holds it even when two sweeps run at once."""

    __tablename__ = "faults"
    __table_args__ = (
        Index(
            "uq_faults_open",
            "site_id",
            "kind",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_faults_opened_at", "opened_at"),
        Index("ix_faults_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FaultKind] = mapped_column(Enum(FaultKind, native_enum=False, length=16))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)  # first seen
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)  # the condition last held
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    repair_seconds: Mapped[int | None] = mapped_column(BigInteger, default=None)  # closed_at - opened_at
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")  # what the person reporting it said
    closed_note: Mapped[str] = mapped_column(Text, default="")  # what the person closing it said
    reported_by: Mapped[str] = mapped_column(String(200), default="")
    closed_by: Mapped[str] = mapped_column(String(200), default="")
    notified_at: Mapped[datetime | None] = mapped_column(default=None, index=True)  # in a digest
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)  # sent to the level above


class FaultReport(Base):
    """One report a site sent from its site view (agent.faults), by the id its form made once: the
    agent's outbox may deliver it twice (an answer lost on the line), the centre keeps it once. It
    joins the site's open fault of its kind, or opens one."""

    __tablename__ = "fault_reports"
    __table_args__ = (UniqueConstraint("site_id", "client_id", name="uq_fault_reports_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(32))  # the site view form's id (32 hex digits)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FaultKind] = mapped_column(Enum(FaultKind, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[datetime] = mapped_column()  # the site PC's clock: when the member reported it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # the centre's clock


class FaultLimits(Base):
    """A region's limits; the deepest region holding a site that sets a limit decides it, else the
    settings' default (MEDIASRV_FAULT_SILENT_HOURS, MEDIASRV_FAULT_ESCALATE_HOURS)."""

    __tablename__ = "fault_limits"
    __table_args__ = (prefix_index("fault_limits"),)

    region: Mapped[str] = mapped_column(String(500), primary_key=True)
    silent_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    escalate_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"  # WeCom or DingTalk robot, or any JSON webhook


class Contact(Base):
    """Who hears of a region's faults: an email address or a webhook URL."""

    __tablename__ = "fault_contacts"
    __table_args__ = (prefix_index("fault_contacts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(500), index=True)
    kind: Mapped[ContactKind] = mapped_column(Enum(ContactKind, native_enum=False, length=16))
    target: Mapped[str] = mapped_column(String(1000))  # the address or the URL
    name: Mapped[str] = mapped_column(String(200), default="")  # e.g. 县委组织部, 维护公司
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeKind(StrEnum):
    DIGEST = "digest"  # new faults of a region since the last digest
    ESCALATION = "escalation"  # faults open past the limit, to the level above


class Notice(Base):
    """One digest or escalation for one region, as written once; its deliveries go out per contact."""

    __tablename__ = "fault_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(500), index=True)  # the contacts' region
    kind: Mapped[NoticeKind] = mapped_column(Enum(NoticeKind, native_enum=False, length=16))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    fault_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """A notice to one contact: pending until it went out; a failure is kept with its error and tried
    again later (next_attempt_at), never dropped."""

    __tablename__ = "fault_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("fault_notices.id", ondelete="CASCADE"), index=True)
    # The contact may be removed later; what the delivery was for stays (kind, target).
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("fault_contacts.id", ondelete="SET NULL"), default=None, index=True
    )
    kind: Mapped[ContactKind] = mapped_column(Enum(ContactKind, native_enum=False, length=16))
    target: Mapped[str] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)  # None: pending
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
