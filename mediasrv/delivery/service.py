"""What delivery needs from the catalog of assets: published generations and master playlists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mediasrv.ingest.models import Asset, AssetKind, AssetStatus, Rendition
from mediasrv.ingest.schemas import PRESENTATIONS
from mediasrv.kit.errors import NotFound
from mediasrv.kit.i18n import Text
from mediasrv.media import languages
from mediasrv.media.hls import SubtitleTrack, VariantInfo
from mediasrv.media.hls import master_playlist as render_master
from mediasrv.media.profiles import MAIN_AUDIO, MOBILE_AUDIO, Group, language_group
from mediasrv.storage import keys

# Presentation name (the URL's <name>.m3u8) -> the rendition group it lists.
PRESENTATION_GROUPS = {name.removesuffix(".m3u8"): Group(group) for group, name in PRESENTATIONS.items()}


def _ready(session: Session, asset_id: str, *, renditions: bool = False) -> Asset:
    query = select(Asset).where(Asset.id == asset_id)
    if renditions:
        query = query.options(selectinload(Asset.renditions))
    asset = session.scalar(query)
    if asset is None:
        raise NotFound("delivery.no_asset", asset_id=asset_id)
    if asset.status is not AssetStatus.READY or asset.published_generation is None:
        raise NotFound(
            "delivery.not_ready", asset_id=asset_id, status=Text(f"delivery.status.{asset.status.value}")
        )
    return asset


def _kind(asset: Asset) -> Text:
    """What an asset is (视频, 音频, 文档), in the reader's language."""
    return Text(f"delivery.kind.{asset.kind.value}")


def presentation_group(presentation: str) -> str | None:
    """The rendition group a presentation lists: master, iptv, iptv-sd, or a set-top box variant of
    another language (iptv-bo, iptv-sd-zh-yue); None for a name that is none of these."""
    if presentation in PRESENTATION_GROUPS:
        return PRESENTATION_GROUPS[presentation].value
    for group in (Group.IPTV_SD, Group.IPTV):  # iptv-sd-… before iptv-…
        lang = presentation.removeprefix(f"{group.value}-")
        if lang != presentation and lang in languages.NAMES:
            return language_group(group, lang)
    return None


def master_playlist(session: Session, asset_id: str, presentation: str) -> str:
    if presentation_group(presentation) is None:
        raise NotFound("delivery.no_presentation", presentation=presentation)
    asset = _ready(session, asset_id, renditions=True)
    text = render_presentation(asset, presentation)
    if text is None:
        raise NotFound(
            "delivery.no_rendition", asset_id=asset_id, presentation=presentation, kind=_kind(asset)
        )
    return text


def presentation_renditions(asset: Asset, presentation: str) -> list[Rendition]:
    """The renditions of a ready asset that one presentation (master, iptv, iptv-sd, iptv-<lang>)
    lists, the mobile master's language renditions included."""
    return _variants(asset, presentation) + _audio(asset, presentation)


def _variants(asset: Asset, presentation: str) -> list[Rendition]:
    group = presentation_group(presentation)
    return [r for r in asset.renditions if group in r.groups]


def _audio(asset: Asset, presentation: str) -> list[Rendition]:
    if presentation_group(presentation) != Group.MOBILE.value:
        return []
    return [r for r in asset.renditions if MOBILE_AUDIO in r.groups]


def render_presentation(asset: Asset, presentation: str) -> str | None:
    """The master playlist of a presentation of a ready asset; None when it has no such rendition.
    Its bytes depend only on the published generation, so sites can cache and verify it."""

    def listed(renditions: list[Rendition]) -> list[VariantInfo]:
        return [r.variant(keys.asset_path(asset.id, r.playlist_key)) for r in renditions]

    variants = listed(_variants(asset, presentation))
    if not variants:
        return None
    audio = listed(_audio(asset, presentation))
    return render_master(variants, audio=audio, subtitles=subtitle_tracks(asset, presentation))


def subtitle_tracks(asset: Asset, presentation: str) -> list[SubtitleTrack]:
    """The caption languages a presentation declares: the mobile ladder's only (set-top boxes play
    HLS v3 and show no sidecar captions)."""
    if presentation_group(presentation) != Group.MOBILE.value:
        return []
    return [SubtitleTrack(**track) for track in asset.subtitles or []]


def subtitle_folders(asset: Asset, presentation: str) -> tuple[str, ...]:
    """The folders (relative to hls/<id>/, with a trailing "/") of a presentation's subtitle files."""
    return tuple(_folder(t) for t in subtitle_tracks(asset, presentation))


def _folder(track: SubtitleTrack) -> str:
    return track.playlist.rsplit("/", 1)[0] + "/"


# --- what a site holds: a presentation's base, and each language apart ---------------------------

MOBILE = "master"  # the mobile ladder's presentation: languages are its EXT-X-MEDIA renditions


def language_presentation(presentation: str, language: str) -> str:
    """The file list of one language of a site's presentation: "master-bo" (the phones' Tibetan audio
    rendition and captions), "iptv-bo" and "iptv-sd-bo" (the boxes' muxed variants)."""
    return f"{presentation}-{language}"


def _chinese(track: SubtitleTrack) -> bool:
    return track.language.startswith("zh")


def list_folders(asset: Asset, presentation: str) -> tuple[str, ...] | None:
    """The folders (relative to hls/<id>/, each ending in "/") whose files a ready asset's file list of
    `presentation` carries; None when the asset has no such list.

    A presentation's own list (master, iptv, iptv-sd, iptv-<lang>) carries what every site playing it
    holds: for the mobile master its video variants, the film's own sound and the Chinese captions,
    not the other languages it declares. "master-<lang>" carries that language alone: its audio
    rendition and its captions, for the sites that chose it (the site agent serves the master naming
    only what it holds)."""
    gen = asset.published_generation
    if gen is None:
        return None
    if presentation.startswith(f"{MOBILE}-"):
        lang = presentation.removeprefix(f"{MOBILE}-")
        caption = languages.caption_tag(lang)
        audio = tuple(f"{gen}/{r.name}/" for r in _audio(asset, MOBILE) if r.name == f"{MAIN_AUDIO}-{lang}")
        captions = tuple(
            _folder(t) for t in subtitle_tracks(asset, MOBILE) if not _chinese(t) and t.language == caption
        )
        return (audio + captions) or None
    variants = _variants(asset, presentation)
    if not variants:
        return None
    own_sound = [r for r in _audio(asset, presentation) if r.name == MAIN_AUDIO]
    captions = tuple(_folder(t) for t in subtitle_tracks(asset, presentation) if _chinese(t))
    return tuple(f"{gen}/{r.name}/" for r in variants + own_sound) + captions


def poster_key(session: Session, asset_id: str) -> str:
    asset = _ready(session, asset_id)
    if asset.poster_key is None:
        raise NotFound("delivery.no_poster", asset_id=asset_id, kind=_kind(asset))
    return asset.poster_key


def document_key(session: Session, asset_id: str) -> str:
    """The stored PDF of a ready document asset (courseware handouts that sites cache)."""
    asset = _ready(session, asset_id)
    if asset.kind is not AssetKind.DOCUMENT:
        raise NotFound("delivery.not_document", asset_id=asset_id, kind=_kind(asset))
    return asset.source_key


def generation_key(asset_id: str, generation: str, path: str) -> str:
    """The storage key of a file of one generation. No database query: generations are random,
    written once and deleted when superseded, so a missing key is simply a 404."""
    try:
        return keys.generation_file(asset_id, generation, path)
    except ValueError:
        raise NotFound("delivery.no_hls_file") from None
