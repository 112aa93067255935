"""Programmes (what a person sees in the catalog) and the category taxonomy."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mediasrv.db import Base, utcnow
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.regions import Scope, prefix_index


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


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
    __table_args__ = (prefix_index("programmes"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    language: Mapped[str] = mapped_column(String(16), default="zh")
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), default=None, index=True)
    # Where it is published ('' the whole network): sites inside this region are given it, and
    # administrators whose scope lies inside or above it see it (kit.regions).
    region: Mapped[str] = mapped_column(String(500), default="", server_default="", index=True)
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
        """Drafts and withdrawn ones are their department's; published ones are seen where they are
        published (kit.regions.Scope.sees): by administrators whose scope lies inside or above the
        region, producers likewise by their department's region (on the Caller as the account's).
        A site's region is not on its Caller: what names a programme to a site was chosen for it."""
        if caller.role is Role.ADMIN:
            return Scope.of(caller).sees(self.region)
        if caller.can_manage(self.org_unit_id):
            return True
        if self.status is not ProgrammeStatus.PUBLISHED:
            return False
        return caller.role is Role.SITE or Scope(caller.region).sees(self.region)


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
