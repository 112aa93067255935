"""Study sessions a site records (the logbook), the programmes played in each, and their photos."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from mediasrv.db import Base, insert_for, utcnow


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
