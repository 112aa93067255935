"""Caption tracks of a programme's film: add (checked), list, delete; what publication and search
read of them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mediasrv.audit.service import Action, record
from mediasrv.captions.models import Caption, CaptionSource
from mediasrv.catalog import service as catalog
from mediasrv.catalog.models import Programme
from mediasrv.ingest.models import Asset, AssetKind
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, NotFound
from mediasrv.media import subtitles
from mediasrv.media.subtitles import Cue

MAX_CAPTION_BYTES = 5 * 1024 * 1024  # a three-hour film's SRT is ~300 KB


def _film(programme: Programme) -> Asset:
    """The programme's film (or audio lecture), probed: captions are checked against its length."""
    asset = programme.asset
    if asset is None or asset.kind not in (AssetKind.VIDEO, AssetKind.AUDIO):
        raise Conflict("captions.no_film", programme_id=programme.id)
    if asset.duration_seconds is None:
        raise Conflict("captions.film_not_probed", asset_id=asset.id)
    return asset


def touch(session: Session, asset_id: str) -> None:
    """Every programme playing this asset has new captions: its search entry and sites' manifests."""
    ids = session.scalars(select(Programme.id).where(Programme.asset_id == asset_id))
    catalog.touch(session, ids)


def _languages(session: Session, asset_id: str) -> list[str]:
    return sorted(session.scalars(select(Caption.language).where(Caption.asset_id == asset_id)))


def add_caption(
    session: Session,
    *,
    actor: Caller,
    programme_id: str,
    data: bytes,
    filename: str,
    language: str,
    label: str | None = None,
    burn_in: bool | None = None,
) -> tuple[Caption, bool]:
    """Check a caption file and keep it as the film's track in `language` (replacing the one there).
    burn_in: burn this language into the set-top box pictures (True; another language stops being
    burned), stop (False), or keep what the replaced track had (None). Also returns whether the
    IPTV pictures must be made again (what is burned in changed)."""
    programme = catalog.editable_programme(session, actor=actor, programme_id=programme_id)
    asset = _film(programme)
    tag = subtitles.check_language(language, filename=filename)
    cues = subtitles.parse(data, filename=filename, duration=asset.duration_seconds)
    before = _languages(session, asset.id)
    burned = burned_language(session, asset.id)
    if burn_in is None:
        burn_in = burned == tag
    if burn_in:
        session.execute(update(Caption).where(Caption.asset_id == asset.id).values(burn_in=False))
    session.execute(delete(Caption).where(Caption.asset_id == asset.id, Caption.language == tag))
    caption = Caption(
        asset_id=asset.id,
        language=tag,
        label=(label or "").strip()[:64] or subtitles.language_label(tag),
        source=CaptionSource.UPLOAD,
        filename=filename[:255],
        cue_count=len(cues),
        vtt=subtitles.to_webvtt(cues),
        burn_in=burn_in,
        created_by_user_id=actor.user_id,
    )
    session.add(caption)
    session.flush()
    _audit(session, actor, programme, before, _languages(session, asset.id))
    touch(session, asset.id)
    # A new text for the burned language, or a new burned language (or none any more).
    return caption, burn_in or burned == tag


def burned_language(session: Session, asset_id: str) -> str | None:
    """The language burned into the asset's set-top box pictures, if any."""
    query = select(Caption.language).where(Caption.asset_id == asset_id, Caption.burn_in.is_(True))
    return session.scalar(query.limit(1))


def burned(session: Session, asset_id: str) -> Caption | None:
    """The caption track burned into the asset's set-top box pictures, if any."""
    query = select(Caption).where(Caption.asset_id == asset_id, Caption.burn_in.is_(True))
    return session.scalar(query.limit(1))


def delete_caption(session: Session, *, actor: Caller, programme_id: str, language: str) -> tuple[str, bool]:
    """Remove the film's track in `language`; the asset whose subtitles must be published again,
    and whether its set-top box pictures must be made again (the track was burned into them)."""
    programme = catalog.editable_programme(session, actor=actor, programme_id=programme_id)
    asset = _film(programme)
    tag = subtitles.language_tag(language) or language
    caption = session.scalar(select(Caption).where(Caption.asset_id == asset.id, Caption.language == tag))
    if caption is None:
        raise NotFound("captions.no_caption", language=language[:32])
    before = _languages(session, asset.id)
    was_burned = caption.burn_in
    session.delete(caption)
    session.flush()
    _audit(session, actor, programme, before, _languages(session, asset.id))
    touch(session, asset.id)
    return asset.id, was_burned


def _audit(
    session: Session, actor: Caller, programme: Programme, before: list[str], after: list[str]
) -> None:
    record(
        session,
        actor,
        Action.PROGRAMME_UPDATE,
        "programme",
        programme.id,
        in_region=programme.region,
        captions={"before": before, "after": after},
    )


def list_captions(session: Session, *, caller: Caller, programme_id: str) -> list[Caption]:
    programme = catalog.visible_programme(session, programme_id, caller=caller)
    if programme.asset_id is None:
        return []
    return captions_of(session, programme.asset_id)


def captions_of(session: Session, asset_id: str) -> list[Caption]:
    return list(
        session.scalars(select(Caption).where(Caption.asset_id == asset_id).order_by(Caption.language))
    )


def replace_embedded(
    session: Session, asset_id: str, generation: str, tracks: Sequence[tuple[str, str, list[Cue]]]
) -> None:
    """The upload's own subtitle streams ((language, stream name, cues) each) as extracted by this
    generation's transcode: they replace earlier embedded tracks; a producer's file in the same
    language wins over a stream."""
    session.execute(
        delete(Caption).where(Caption.asset_id == asset_id, Caption.source == CaptionSource.EMBEDDED)
    )
    taken = set(_languages(session, asset_id))
    for language, name, cues in tracks:
        if language in taken or not cues:
            continue
        taken.add(language)
        session.add(
            Caption(
                asset_id=asset_id,
                language=language,
                label=subtitles.language_label(language),
                source=CaptionSource.EMBEDDED,
                filename=name,
                generation=generation,
                cue_count=len(cues),
                vtt=subtitles.to_webvtt(cues),
            )
        )
    session.flush()
    touch(session, asset_id)


@dataclass(frozen=True)
class Snapshot:
    """What a subtitle publication is made of: the tracks and which one is the default."""

    tracks: tuple[tuple[str, str, str], ...]  # (language, label, vtt) by language
    default: str | None  # the language matching the programme's, when there is such a track

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(repr((self.tracks, self.default)).encode())
        return h.hexdigest()


def programme_language(session: Session, asset_id: str) -> str:
    """The caption tag of the language of the (first) programme playing this asset; zh-Hans if none."""
    wanted = session.scalar(
        select(Programme.language)
        .where(Programme.asset_id == asset_id)
        .order_by(Programme.created_at)
        .limit(1)
    )
    return subtitles.language_tag(wanted or "zh") or "zh-Hans"


def snapshot(session: Session, asset_id: str) -> Snapshot:
    tracks = tuple((c.language, c.label, c.vtt) for c in captions_of(session, asset_id))
    tag = programme_language(session, asset_id)
    return Snapshot(tracks, tag if tag in {t[0] for t in tracks} else None)


def caption_cues(session: Session, asset_id: str) -> list[tuple[str, Cue]]:
    """Every cue of the asset's tracks, with its language (what search indexes)."""
    return [(c.language, cue) for c in captions_of(session, asset_id) for cue in subtitles.from_webvtt(c.vtt)]
