"""A region's weekly schedule: blocks by weekday and Beijing time, and what plays outside them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.catalog import models as _catalog  # noqa: F401  # the table card_programme_id names
from mediasrv.db import Base, utcnow
from mediasrv.study import models as _study  # noqa: F401  # the table study_list_id names


class BlockSource(StrEnum):
    LIST = "list"  # a study list: its programmes in list order (required when the list is)
    CATEGORY = "category"  # a category's published programmes, newest first
    PROGRAMMES = "programmes"  # programmes named one by one, in the order given


class Filler(StrEnum):
    OPTIONAL = "optional"  # the optional programmes of the site's lists, looped
    NONE = "none"  # nothing: the card (or black) outside the blocks


class ScheduleBlock(Base):
    """One weekly block of a region's channel. Minutes of the Beijing day, end after start, the same
    day (0..1440). Blocks of one region never overlap (the service refuses it); blocks of regions at
    different levels may, and a site plays the nearer level's."""

    __tablename__ = "schedule_blocks"
    __table_args__ = (Index("ix_schedule_blocks_region_day", "region", "weekday"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(500))  # '' the whole network
    weekday: Mapped[int] = mapped_column(Integer)  # ISO: 1 Monday .. 7 Sunday
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    source: Mapped[BlockSource] = mapped_column(Enum(BlockSource, native_enum=False, length=16))
    study_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_lists.id", ondelete="CASCADE"), default=None, index=True
    )
    category_code: Mapped[str | None] = mapped_column(String(64), default=None)
    programme_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleSettings(Base):
    """What a region's channel plays outside its blocks; the nearest level with a row decides for a
    site. No row anywhere above a site: the optional programmes, no card."""

    __tablename__ = "schedule_settings"

    region: Mapped[str] = mapped_column(String(500), primary_key=True)
    filler: Mapped[Filler] = mapped_column(
        Enum(Filler, native_enum=False, length=16), default=Filler.OPTIONAL
    )
    # A still card a producer uploaded as an ordinary programme; shown when nothing else plays.
    card_programme_id: Mapped[str | None] = mapped_column(ForeignKey("programmes.id"), default=None)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
