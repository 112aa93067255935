"""API shapes of assets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediasrv.ingest.models import Asset, AssetKind, AssetStatus, LanguageTrack
from mediasrv.kit.i18n import Lang, render
from mediasrv.media import languages

PRESENTATIONS = {"mobile": "master.m3u8", "iptv": "iptv.m3u8", "iptv-sd": "iptv-sd.m3u8"}


class RenditionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    groups: list[str]
    codecs: str
    width: int
    height: int
    frame_rate: float
    bandwidth: int
    average_bandwidth: int
    segment_count: int
    duration_seconds: float
    size_bytes: int
    language: str = Field(default="", description="its audio's language tag; empty when unknown")


class AudioTrackOut(BaseModel):
    """A producer's extra audio track of a film."""

    model_config = ConfigDict(from_attributes=True)

    language: str = Field(description="language tag: bo, ug, mn, za, zh-yue...")
    name: str = Field(description="the language's Chinese name, as players list it")
    filename: str
    size_bytes: int
    sha256: str

    @classmethod
    def of(cls, row: LanguageTrack) -> AudioTrackOut:
        return cls(
            language=row.language,
            name=languages.name(row.language),
            filename=row.filename,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
        )


class AssetLinks(BaseModel):
    """Where to play or fetch the asset; present once it is ready."""

    master: str | None = None
    iptv: str | None = None
    iptv_sd: str | None = None
    poster: str | None = None
    source: str

    @classmethod
    def of(cls, asset: Asset) -> AssetLinks:
        hls = asset.status is AssetStatus.READY and bool(asset.renditions)
        base = f"/hls/{asset.id}/"
        return cls(
            master=base + PRESENTATIONS["mobile"] if hls else None,
            iptv=base + PRESENTATIONS["iptv"] if hls else None,
            iptv_sd=base + PRESENTATIONS["iptv-sd"] if hls else None,
            poster=base + "poster.jpg" if asset.poster_key and hls else None,
            source=f"/api/v1/assets/{asset.id}/source",
        )


class Playback(BaseModel):
    """Links that carry their own authorisation until `expires_at`."""

    master: str | None
    iptv: str | None
    iptv_sd: str | None
    poster: str | None
    expires_at: datetime

    @classmethod
    def signed(cls, links: AssetLinks, *, prefix: str, expires: int) -> Playback:
        def sign(link: str | None) -> str | None:
            return prefix + link if link else None

        return cls(
            master=sign(links.master),
            iptv=sign(links.iptv),
            iptv_sd=sign(links.iptv_sd),
            poster=sign(links.poster),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )


class AssetOut(BaseModel):
    id: str
    title: str
    filename: str
    status: AssetStatus
    progress: float
    error: str | None = Field(
        description="why processing failed, naming the file and what to do, in the caller's language"
    )
    kind: AssetKind
    size_bytes: int
    sha256: str
    duration_seconds: float | None
    source: dict[str, Any] | None
    renditions: list[RenditionOut]
    links: AssetLinks
    attempts: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, asset: Asset, lang: Lang) -> AssetOut:
        """The asset as the API shows it to a caller who reads `lang` (its failure's reason)."""
        reason = asset.reason()
        return cls(
            id=asset.id,
            title=asset.title,
            filename=asset.filename,
            status=asset.status,
            progress=round(asset.progress, 1),
            error=None if reason is None else render(reason.key, lang, reason.params),
            kind=asset.kind,
            size_bytes=asset.size_bytes,
            sha256=asset.sha256,
            duration_seconds=asset.duration_seconds,
            source=asset.source_info,
            renditions=[RenditionOut.model_validate(r) for r in asset.renditions],
            links=AssetLinks.of(asset),
            attempts=asset.attempts,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
        )
