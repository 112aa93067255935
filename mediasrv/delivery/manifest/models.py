"""What the server keeps of the caching manifests it builds: file lists, shared contents and each
site's versions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.sites import models as _sites  # noqa: F401  # the table site_id names


class FileList(Base):
    """One published (asset, generation, presentation)'s files: its canonical JSON document, written
    once when a manifest first needs it and never changed (its key is its SHA-256), and the summary a
    manifest build needs of it. In the database rather than object storage: it is a few kilobytes,
    written in the transaction of the manifest version that first names it, and read by every API
    replica by its key; the media stay in object storage."""

    __tablename__ = "file_lists"
    __table_args__ = (Index("ix_file_lists_asset", "asset_id", "generation", "presentation", unique=True),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64))  # no foreign key: a list outlives its asset's row
    generation: Mapped[str] = mapped_column(String(64))  # "" for a document, which has none
    presentation: Mapped[str] = mapped_column(String(20))  # master, iptv, iptv-sd or document
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the exact bytes served and hashed
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # of the files it lists
    file_count: Mapped[int] = mapped_column(Integer)
    play: Mapped[str] = mapped_column(String(255))
    poster: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManifestContent(Base):
    """The site-independent part of a manifest, content-addressed: sites with the same profile, quota
    and study lists share one row. Kept as a raw-deflate block (sync-flushed, not final) so that a
    site's gzip response is its small head stitched to these bytes, never compressed per request."""

    __tablename__ = "manifest_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    deflated: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteManifest(Base):
    """One version of one site's manifest: its site part, the content it points at, and what a
    response needs (SHA-256 of the exact bytes, CRC-32 for the gzip trailer, Ed25519 signature).
    Old versions are kept (a bounded number) so that ?since= can answer with a delta."""

    __tablename__ = "site_manifests"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(ForeignKey("manifest_contents.sha256"), index=True)
    head: Mapped[str] = mapped_column(Text)  # the JSON that closes the document: site and version
    sha256: Mapped[str] = mapped_column(String(64))  # of the whole uncompressed document
    crc32: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(100))
    total_bytes: Mapped[int] = mapped_column(BigInteger)  # what the site must hold at this version
    file_count: Mapped[int] = mapped_column(Integer)
    over_quota: Mapped[bool] = mapped_column(default=False)  # required items alone exceed the quota
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteManifestState(Base):
    """A site's current manifest version, and the epoch and day it was made at."""

    __tablename__ = "site_manifest_state"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(BigInteger)
    built_on: Mapped[date] = mapped_column(Date)
