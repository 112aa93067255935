"""A film's extra audio tracks attached by its producer (a dubbed Tibetan or Cantonese version): kept
as uploaded, one per language, and read by the next transcode or remake (workers.reburn) as extra
inputs of its one ffmpeg run. A replaced or removed file is retired (ingest.retention): the retention
sweep deletes it after the grace, once no transcode under way may still read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.ingest.models import Asset, AssetKind, AssetStatus, LanguageTrack
from mediasrv.ingest.retention import retire, unretire
from mediasrv.ingest.service import get_asset
from mediasrv.ingest.spool import SpooledUpload
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, MediaError, MediaProcessingError, NotFound
from mediasrv.kit.i18n import Text
from mediasrv.media import languages
from mediasrv.media.probe import probe
from mediasrv.storage import ObjectStore, keys

# Queued or being transcoded: a run that has started has read its tracks already.
_BUSY = (AssetStatus.UPLOADED, AssetStatus.PROCESSING)


def film(session: Session, asset_id: str, *, caller: Caller, removing: bool = False) -> Asset:
    """The caller's film whose tracks may change now; `removing`: the refusal speaks of removing one."""
    asset = get_asset(session, asset_id, caller=caller)
    if asset.kind is not AssetKind.VIDEO and asset.status not in _BUSY:
        key = "ingest.audio_track_remove_needs_film" if removing else "ingest.audio_track_needs_film"
        raise MediaError(key, kind=Text(f"delivery.kind.{asset.kind.value}"))
    if asset.status in _BUSY:
        raise Conflict("ingest.audio_track_busy")
    return asset


def checked_audio(upload: SpooledUpload) -> None:
    """Probe the file like an upload (the same refusals) and insist on a sound track; blocking."""
    if probe(upload.path).audio is None:
        raise MediaProcessingError("media.audio_track_not_audio")


def attach(
    session: Session, store: ObjectStore, asset: Asset, language: str, upload: SpooledUpload
) -> tuple[LanguageTrack, bool]:
    """Keep the file as the film's track in `language` (replacing one of that language); the row and
    whether it is new. The caller asks for a remake when the film is ready."""
    key = keys.audio_track(asset.id, language, upload.sha256)
    unretire(session, [key])  # the same file once more: named again
    upload.keep(store, key, "application/octet-stream")
    row = session.get(LanguageTrack, (asset.id, language))
    created = row is None
    if row is None:
        row = LanguageTrack(asset_id=asset.id, language=language)
        session.add(row)
    # A replaced file is retired, not deleted: deleting it before the commit could leave the row
    # naming nothing if the commit failed, and a remake under way may be reading it.
    if row.source_key and row.source_key != key:
        retire(session, asset.id, [row.source_key])
    row.source_key, row.filename = key, upload.filename
    row.size_bytes, row.sha256 = upload.size, upload.sha256
    session.flush()
    return row, created


def listed(session: Session, asset_id: str) -> list[LanguageTrack]:
    query = select(LanguageTrack).where(LanguageTrack.asset_id == asset_id)
    return list(session.scalars(query.order_by(LanguageTrack.language)))


def remove(session: Session, asset: Asset, language: str) -> None:
    """Forget the film's track in `language` (its file is retired, as in attach)."""
    row = session.get(LanguageTrack, (asset.id, language))
    if row is None:
        raise NotFound("ingest.no_audio_track", language=languages.name(language))
    retire(session, asset.id, [row.source_key])
    session.delete(row)
    session.flush()
