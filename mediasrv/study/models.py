"""What sites must study (study lists: required or optional, for a period and regions) and what they
record: sessions (the logbook), the programmes played in each, their photos, ratings and topic
requests, and the monthly compliance summaries kept from them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from mediasrv.catalog.models import Programme
from mediasrv.db import Base, insert_for, utcnow
from mediasrv.kit.regions import prefix_index

# --- study lists: what sites must study -------------------------------------------------------


class StudyKind(StrEnum):
    REQUIRED = "required"  # 必学
    OPTIONAL = "optional"  # 选学


class StudyListStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"  # kept for history, no longer in force


# What sites and producers see of the lists: those in force and their history, never drafts.
LISTED_STUDY = (StudyListStatus.PUBLISHED, StudyListStatus.ARCHIVED)


class StudyList(Base):
    """A curated list for a period: required (必学清单) or optional, for all sites or some regions."""

    __tablename__ = "study_lists"
    __table_args__ = (prefix_index("study_lists"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[StudyKind] = mapped_column(Enum(StudyKind, native_enum=False, length=16), index=True)
    status: Mapped[StudyListStatus] = mapped_column(
        Enum(StudyListStatus, native_enum=False, length=16), default=StudyListStatus.DRAFT, index=True
    )
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date, index=True)  # inclusive
    expected_hours: Mapped[float] = mapped_column(Float, default=0.0)
    # Region paths ("省/市/县"); a site is targeted when its region is one of them or lies under one.
    # Empty: every site.
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The layer the list belongs to (kit.regions; '' the whole network): the department that set it.
    # Its targets lie inside it; administrators whose scope holds it change it, those below only read
    # it; a site's lists go shallower layers first (省, 市, 县, 乡).
    region: Mapped[str] = mapped_column(String(500), default="", server_default="", index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    items: Mapped[list[StudyListItem]] = relationship(
        cascade="all, delete-orphan", order_by="StudyListItem.position", lazy="selectin"
    )


class StudyListItem(Base):
    __tablename__ = "study_list_items"
    __table_args__ = (UniqueConstraint("study_list_id", "programme_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_list_id: Mapped[int] = mapped_column(ForeignKey("study_lists.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    programme: Mapped[Programme] = relationship(lazy="joined")


# --- study records: what sites did ---------------------------------------------------------


class StudySession(Base):
    """One session held at a site. The id is made by the client (the agent, offline): a session sent
    twice, or queued offline and sent later, is recorded once."""

    __tablename__ = "study_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    # The Beijing day it was held: months and list periods are counted in Beijing days.
    day: Mapped[date] = mapped_column(Date, index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    members_present: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(200))  # the caller's name: the site or an admin
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    programmes: Mapped[list[SessionProgramme]] = relationship(
        cascade="all, delete-orphan", order_by="SessionProgramme.position", lazy="selectin"
    )
    photos: Mapped[list[SessionPhoto]] = relationship(
        cascade="all, delete-orphan", order_by="SessionPhoto.received_at", lazy="selectin"
    )


class SessionProgramme(Base):
    """A programme played in a session; `minutes` None: played whole (the logbook says no more)."""

    __tablename__ = "study_session_programmes"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("study_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int | None] = mapped_column(Integer, default=None)


class SessionPhoto(Base):
    """A photo of a session (照片报送), stored without its metadata; the same bytes are kept once."""

    __tablename__ = "study_session_photos"
    __table_args__ = (UniqueConstraint("session_id", "sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("study_sessions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))  # in object storage
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgrammeRating(Base):
    """A site's rating of a programme (效果反馈), 1-5 stars and a comment; rating again replaces it."""

    __tablename__ = "programme_ratings"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.id"), primary_key=True, index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    # When the site rated (its clock): a rating queued offline never replaces a newer one.
    rated_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemandRequest(Base):
    """A topic a site's members ask for (需求调查). The id is the client's: sent twice, kept once."""

    __tablename__ = "demand_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    # The topic folded (NFKC, no spaces, lower case): requests worded alike are counted together.
    topic_key: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), default=None, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[int] = mapped_column(Integer, default=1)  # how many members asked for it
    requested_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplianceSummary(Base):
    """One site's month, computed once and kept (the regional roll-up groups these rows instead of
    the sessions and the viewing evidence). Stale when `dirty` (the site recorded something for that
    month since) or computed at another study epoch (lists, a site's region or a film changed)."""

    __tablename__ = "compliance_summaries"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    sessions: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    # Over the required lists in force: (list, programme) pairs asked for, and of them watched fully,
    # partly, or seen fully by the automatic evidence. Hours and "task met" are worked out when read,
    # with the settings of the day.
    required: Mapped[int] = mapped_column(Integer)
    fully: Mapped[int] = mapped_column(Integer)
    partly: Mapped[int] = mapped_column(Integer)
    evidenced: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ViewingDay(Base):
    """The segments of a programme one player was served at a site on one Beijing day."""

    __tablename__ = "viewing_days"
    # The primary key leads with (site, day): a site's days are one range scan. Compliance looks a
    # list's programmes up over its period, across sites: (programme, day).
    __table_args__ = (Index("ix_viewing_days_programme_day", "programme_id", "day"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Only drafts are ever deleted, and drafts are never served: CASCADE merely keeps a delete possible.
    programme_id: Mapped[str] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    player: Mapped[str] = mapped_column(String(16), primary_key=True)  # see protocol.viewing.player_id
    segments: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian bitmap of segment numbers
    millis: Mapped[int] = mapped_column(BigInteger)  # their seconds summed, in ms (exact sums)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def mark_dirty(session: Session, site_id: int, days: Iterable[date]) -> None:
    """A site recorded something for these days: its summaries of their months are stale. A month
    not computed yet gets a stale placeholder, so that a refresh running now cannot store it clean."""
    months = sorted({d.strftime("%Y-%m") for d in days})
    if not months:
        return
    zero = dict.fromkeys(("sessions", "minutes", "required", "fully", "partly", "evidenced"), 0)
    now = utcnow()
    placeholders = [
        {"month": m, "site_id": site_id, "epoch": -1, "dirty": True, "changes": 1, "computed_at": now, **zero}
        for m in months
    ]
    insert = insert_for(session, ComplianceSummary).values(placeholders)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["month", "site_id"],
            set_={"dirty": True, "changes": ComplianceSummary.changes + 1},
        )
    )
