"""Programmes (what a person sees in the catalog), the category taxonomy and study lists."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mediasrv.accounts.models import Caller
from mediasrv.db import Base, utcnow
from mediasrv.ingest.models import Asset


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class StudyKind(StrEnum):
    REQUIRED = "required"  # 必学
    OPTIONAL = "optional"  # 选学


class StudyListStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"  # kept for history, no longer in force


# What sites and producers see of the lists: those in force and their history, never drafts.
LISTED_STUDY = (StudyListStatus.PUBLISHED, StudyListStatus.ARCHIVED)


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)


def new_id() -> str:
    return uuid.uuid4().hex


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    language: Mapped[str] = mapped_column(String(16), default="zh")
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), default=None, index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id"), default=None, index=True)
    status: Mapped[ProgrammeStatus] = mapped_column(
        Enum(ProgrammeStatus, native_enum=False, length=16), default=ProgrammeStatus.DRAFT, index=True
    )
    published_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset | None] = relationship(lazy="joined")
    category: Mapped[Category] = relationship(lazy="joined")
    tag_rows: Mapped[list[ProgrammeTag]] = relationship(
        cascade="all, delete-orphan", order_by="ProgrammeTag.position", lazy="selectin"
    )
    attachment_rows: Mapped[list[Attachment]] = relationship(
        cascade="all, delete-orphan", order_by="Attachment.position", lazy="selectin"
    )

    @property
    def tags(self) -> list[str]:
        return [t.name for t in self.tag_rows]

    @property
    def duration_seconds(self) -> float | None:
        return self.asset.duration_seconds if self.asset is not None else None

    def visible_to(self, caller: Caller) -> bool:
        """Published programmes are everyone's; drafts and withdrawn ones their department's."""
        return self.status is ProgrammeStatus.PUBLISHED or caller.can_manage(self.org_unit_id)


class ProgrammeTag(Base):
    __tablename__ = "programme_tags"

    programme_id: Mapped[str] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Attachment(Base):
    """Courseware beside the film: PDF handouts (document assets)."""

    __tablename__ = "programme_attachments"

    programme_id: Mapped[str] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    asset: Mapped[Asset] = relationship(lazy="joined")


class StudyList(Base):
    """A curated list for a period: required (必学清单) or optional, for all sites or some regions."""

    __tablename__ = "study_lists"

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
