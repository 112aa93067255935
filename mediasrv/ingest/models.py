"""Assets (uploaded originals) and their renditions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mediasrv.accounts import models as _accounts  # noqa: F401  # the tables org_unit_id, user ids name
from mediasrv.db import Base, utcnow
from mediasrv.kit import i18n
from mediasrv.kit.errors import MediaError
from mediasrv.media.hls import VariantInfo


class AssetStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class AssetKind(StrEnum):
    PENDING = "pending"  # not probed yet
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


def new_id() -> str:
    return uuid.uuid4().hex


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        # The same bytes make one asset per department (deduplication never hands a department
        # another's asset). A unique index treats NULLs as distinct, so uploads of administrators
        # without a department get a partial index of their own.
        Index("uq_assets_sha256_org_unit", "sha256", "org_unit_id", unique=True),
        Index(
            "uq_assets_sha256_unowned",
            "sha256",
            unique=True,
            sqlite_where=text("org_unit_id IS NULL"),
            postgresql_where=text("org_unit_id IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # Content-addressed (storage.source_key): every department's asset of the same bytes names the
    # same object, so it may only be deleted once no asset row names it.
    source_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[AssetKind] = mapped_column(
        Enum(AssetKind, native_enum=False, length=16), default=AssetKind.PENDING
    )
    status: Mapped[AssetStatus] = mapped_column(
        Enum(AssetStatus, native_enum=False, length=16), default=AssetStatus.UPLOADED, index=True
    )
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Why it failed: `error` in English (logs; rows from before migration 0009 have only this),
    # `error_key` and `error_params` the catalogue message, rendered in each reader's language (reason).
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_key: Mapped[str | None] = mapped_column(String(100), default=None)
    error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    source_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The producing department owns the asset; its producers manage it.
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), default=None, index=True)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)

    # Publishing: outputs of an attempt live under hls/<id>/<generation>/; `published_generation`
    # flips to it in the same commit that marks the asset ready, so readers never see half an asset.
    generation: Mapped[str | None] = mapped_column(String(32), default=None)
    published_generation: Mapped[str | None] = mapped_column(String(32), default=None)
    poster_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # The published subtitle renditions of the mobile ladder ([{language, name, default, playlist}],
    # playlist relative to hls/<id>/), and the random name of that set: captions change them without
    # a new generation, so file lists of the mobile master are told apart by it (list_version).
    subtitles: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    subtitles_version: Mapped[str | None] = mapped_column(String(32), default=None)

    # Job lease: the worker holding it renews it while ffmpeg makes progress; the sweep re-enqueues
    # assets whose lease expired (a worker killed outright loses its broker message).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)

    # The latest run's start, and its length once it ended ready or failed (the /metrics histogram;
    # the run happens in a worker process, so the API can only read it from here).
    processing_started_at: Mapped[datetime | None] = mapped_column(default=None)
    processing_seconds: Mapped[float | None] = mapped_column(Float, default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    renditions: Mapped[list[Rendition]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="Rendition.bandwidth"
    )
    files: Mapped[list[AssetFile]] = relationship(cascade="all, delete-orphan", order_by="AssetFile.path")

    def list_version(self, presentation: str) -> str:
        """What a file list of `presentation` depends on: the published generation, and for the mobile
        master its subtitle set too (changed by captions alone, without re-transcoding)."""
        gen = self.published_generation or ""
        return list_version(gen, self.subtitles_version if captioned(presentation) else None)

    def cause(self) -> i18n.Text | str | None:
        """Why processing failed, without the file's name: the stored message, or an old row's English."""
        # A key a later version no longer has (or an old row with none): the English kept beside it,
        # rather than a listing of assets that fails.
        if self.error_key is not None and self.error_key in i18n.MESSAGES:
            return i18n.Text(self.error_key, i18n.loaded_params(self.error_params or {}))
        return self.error

    def reason(self) -> i18n.Text | None:
        """Why processing failed, naming the file, to render in the reader's language; None if it did not."""
        cause = self.cause()
        return (
            None
            if cause is None
            else i18n.Text("ingest.file_failed", {"filename": self.filename, "reason": cause})
        )


def captioned(presentation: str) -> bool:
    """Whether a file list of `presentation` may carry captions: the mobile master's, and each of its
    languages' ("master-bo")."""
    return presentation == "master" or presentation.startswith("master-")


def list_version(generation: str, subtitles_version: str | None) -> str:
    return f"{generation}.{subtitles_version}" if generation and subtitles_version else generation


def failure(exc: MediaError) -> dict[str, Any]:
    """An asset's columns for a failure: the message's key and parameters, and its English for logs."""
    return {"error": exc.message, "error_key": exc.key, "error_params": i18n.stored_params(exc.params)}


NO_FAILURE: dict[str, Any] = {"error": None, "error_key": None, "error_params": None}


# What a rendition row keeps of its measured variant: every field but the playlist (a path relative
# to the transcode's folder; the row keeps the object's key instead), each in a column of its name.
MEASURED = tuple(f.name for f in fields(VariantInfo) if f.name != "playlist")


class Rendition(Base):
    """A measured rendition of an asset. Its figures come from media.hls.VariantInfo and go back into
    one to render master playlists: `of` and `variant` copy them by name, so a new figure is a field
    of VariantInfo and a column here, and nothing else."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("asset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    groups: Mapped[list[str]] = mapped_column(JSON)
    playlist_key: Mapped[str] = mapped_column(String(255))
    codecs: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    frame_rate: Mapped[float] = mapped_column(Float, default=0.0)
    bandwidth: Mapped[int] = mapped_column(Integer)
    average_bandwidth: Mapped[int] = mapped_column(Integer)
    segment_count: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(16), default="", server_default="")
    start_pts: Mapped[int | None] = mapped_column(BigInteger, default=None)  # None: made before 0025

    asset: Mapped[Asset] = relationship(back_populates="renditions")

    @classmethod
    def of(cls, variant: VariantInfo, *, groups: Iterable[str], playlist_key: str) -> Rendition:
        """The row of a measured variant whose playlist is stored at `playlist_key`."""
        return cls(
            groups=list(groups), playlist_key=playlist_key, **{n: getattr(variant, n) for n in MEASURED}
        )

    def variant(self, playlist: str) -> VariantInfo:
        """The variant this row measured, listed at `playlist` (relative to its master playlist)."""
        return VariantInfo(playlist=playlist, **{n: getattr(self, n) for n in MEASURED})

    def copy(self, *, playlist_key: str) -> Rendition:
        """A new row with the same figures and groups, its playlist stored at `playlist_key`."""
        return Rendition.of(self.variant(""), groups=self.groups, playlist_key=playlist_key)


class AssetFile(Base):
    """One published output file, with what a site needs to fetch and verify it (caching manifests)."""

    __tablename__ = "asset_files"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    # Relative to hls/<asset>/ (e.g. "<generation>/iptv/seg_00000.ts"); documents: "source".
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class LanguageTrack(Base):
    """A producer's extra audio track of a film (a dubbed Tibetan or Cantonese version), one per
    language: the file as uploaded, kept in storage and read by the next transcode as an extra
    input of its one ffmpeg run (media.plan.AudioTrack)."""

    __tablename__ = "audio_tracks"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)  # media.languages tag
    source_key: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscodePiece(Base):
    """One piece of a long film's chunked transcode: a chunk of its video ("00003"), its audio
    ("audio"), or the join that makes them one presentation ("join"). Rows are written when the film
    is cut; each piece counts its own attempts, so a failed chunk is retried alone."""

    __tablename__ = "transcode_pieces"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[str] = mapped_column(String(32), primary_key=True)
    piece: Mapped[str] = mapped_column(String(16), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class ResumableUpload(Base):
    """A tus upload being received (ingest.tus). Every API process reads and writes it here, so any
    of them may take the next PATCH (no sticky routing); the bytes are in object storage: whole
    parts of a multipart object (storage.keys.upload_file), then pieces of what does not fill a part
    yet (keys.upload_piece). The tus offset is `received`, which only counts stored bytes."""

    __tablename__ = "resumable_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(64))  # "user:<id>" or "token:<id>"
    length: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255), default=None)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    part_size: Mapped[int] = mapped_column(BigInteger)
    # The store's multipart upload; None once its parts are joined into the file.
    multipart_id: Mapped[str | None] = mapped_column(String(255), default=None)
    etags: Mapped[list[str]] = mapped_column(JSON, default=list)  # part n's at n-1
    pieces: Mapped[list[int]] = mapped_column(JSON, default=list)  # their offsets, after the parts
    # Set when finished; kept a while for a client that lost the answer (HEAD names the asset).
    asset_id: Mapped[str | None] = mapped_column(String(32), default=None)
    # One request at a time sends bytes (two tabs must not interleave theirs), on whichever process;
    # a lease, so that a process that died mid-PATCH does not hold the upload for ever.
    lock_token: Mapped[str | None] = mapped_column(String(32), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)


class RetiredObject(Base):
    """Stored objects (a key, or a folder: a prefix ending in "/") that nothing current names any more
    since `retired_at`: a superseded generation, subtitle set or dub source. Players and sites may still
    be reading them, so they are deleted by the retention sweep (delivery.retention) only after the
    grace, and only while neither the asset nor a kept manifest version names them."""

    __tablename__ = "retired_objects"

    prefix: Mapped[str] = mapped_column(String(255), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(32), index=True)  # no foreign key: outlives the asset
    retired_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
