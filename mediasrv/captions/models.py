"""One caption track of an asset per language."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.ingest import models as _ingest  # noqa: F401  # the table asset_id names


class CaptionSource(StrEnum):
    UPLOAD = "upload"  # a producer's caption file
    EMBEDDED = "embedded"  # a subtitle stream of the uploaded film, extracted at transcode


class Caption(Base):
    """A checked caption track. The cues are kept here, as normalised WebVTT (media.subtitles
    to_webvtt), not in object storage: a film's captions are tens of kilobytes, they change with the
    row in one transaction (no object left behind by a rollback or a delete), and the search feed
    reads them with the programme. The segmented files players fetch are made from them at
    publication (captions.publish) and live beside the renditions."""

    __tablename__ = "captions"
    __table_args__ = (UniqueConstraint("asset_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(16))  # media.subtitles.LANGUAGES
    label: Mapped[str] = mapped_column(String(64))  # what the players' menus show
    source: Mapped[CaptionSource] = mapped_column(Enum(CaptionSource, native_enum=False, length=16))
    filename: Mapped[str] = mapped_column(String(255))  # the file, or "#n" for the film's n-th stream
    # The generation whose transcode extracted an embedded track (a new transcode replaces those);
    # None for an uploaded file, which outlives generations.
    generation: Mapped[str | None] = mapped_column(String(32), default=None)
    cue_count: Mapped[int] = mapped_column(Integer)
    # Burned into the set-top box pictures (HLS v3 boxes show no sidecar captions): at most one
    # language per asset (captions.service keeps it so); a change re-makes the IPTV renditions.
    burn_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    vtt: Mapped[str] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
