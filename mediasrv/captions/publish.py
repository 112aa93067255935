"""Subtitle renditions: each caption track as segmented WebVTT beside the mobile ladder of the
published generation, declared in the mobile master (Asset.subtitles).

Made in two places: by the transcode, from its own outputs, in the commit that publishes a new
generation (workers.pipeline); and here, when captions change later (`republish`), from the stored
renditions, without re-transcoding. A set lives in folders named by a fresh version
(<generation>/sub_<version>_<language>/), uploaded before the commit that points the asset at it,
so players and sites see the old set or the new one, never half of one; the old folders are retired
in the commit of the flip (ingest.retention), as superseded generations are: a phone mid-film on the
old master keeps its caption segments until the retention sweep deletes them after the grace.

X-TIMESTAMP-MAP needs the first PTS of the mobile ladder: the transcode measures it once and keeps it
on the rendition rows (start_pts); only renditions made before that are probed again here.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from mediasrv import epochs
from mediasrv.captions import service
from mediasrv.captions.service import Snapshot
from mediasrv.db import Database
from mediasrv.ingest.models import Asset, AssetFile, AssetStatus, Rendition
from mediasrv.ingest.retention import retire, unretire
from mediasrv.kit.errors import StorageUnavailable
from mediasrv.media import subtitles
from mediasrv.media.hls import SubtitleTrack
from mediasrv.media.profiles import Group
from mediasrv.protocol.hashing import file_sha256
from mediasrv.storage import ObjectStore, content_type_for, keys

log = logging.getLogger("mediasrv.captions")

FOLDER_PREFIX = "sub_"
_ATTEMPTS = 3  # captions changed while a set was being made: make it again, at most this often


def folder(version: str, language: str) -> str:
    return f"{FOLDER_PREFIX}{version}_{language}"


def write_set(
    root: Path, generation: str, snap: Snapshot, *, playlist: Path, pts: int
) -> tuple[str | None, list[dict[str, Any]]]:
    """Write the snapshot's tracks under `root` (the generation's folder), cut like the mobile
    rendition whose media playlist is given, whose first segment starts at `pts` (90 kHz). Returns the
    set's version (None when there are no tracks) and the tracks as Asset.subtitles keeps them."""
    if not snap.tracks:
        return None, []
    durations, target = subtitles.segment_durations(playlist)
    version = set_version(generation, snap)
    tracks: list[dict[str, Any]] = []
    for language, label, vtt in snap.tracks:
        name = folder(version, language)
        subtitles.write_track(root / name, subtitles.from_webvtt(vtt), durations, target, pts)
        track = SubtitleTrack(
            language=language,
            name=label,
            default=language == snap.default,
            playlist=f"{generation}/{name}/index.m3u8",
        )
        tracks.append(asdict(track))
    return version, tracks


def set_version(generation: str, snap: Snapshot) -> str:
    """A subtitle set's version: the same captions on the same generation make the same set (same
    folders, same bytes), so two jobs for one change agree, and the second finds it published."""
    return hashlib.sha256(f"{generation}:{snap.fingerprint}".encode()).hexdigest()[:12]


def mobile_rendition(asset: Asset) -> Rendition | None:
    """The asset's first mobile rendition (all are cut alike)."""
    return next((r for r in asset.renditions if Group.MOBILE.value in r.groups), None)


def mobile_playlist_key(asset: Asset) -> str | None:
    """The stored media playlist of the asset's first mobile rendition."""
    mobile = mobile_rendition(asset)
    return mobile.playlist_key if mobile else None


def republish(db: Database, store: ObjectStore, asset_id: str, *, work_dir: Path) -> bool | None:
    """Publish the asset's current captions as its subtitle set. True when published; False when the
    asset is not ready yet (the transcode will publish them; try later); None when there is nothing
    to do (gone, no mobile ladder, or the set already shows these captions)."""
    for _ in range(_ATTEMPTS):
        with db.session_scope() as session:
            asset = session.scalar(
                select(Asset).where(Asset.id == asset_id).options(selectinload(Asset.renditions))
            )
            if asset is None:
                return None
            if asset.status in (AssetStatus.UPLOADED, AssetStatus.PROCESSING):
                return False
            if asset.status is not AssetStatus.READY or asset.published_generation is None:
                return None  # failed: a retry's transcode publishes the captions with its generation
            generation, mobile = asset.published_generation, mobile_rendition(asset)
            snap = service.snapshot(session, asset_id)
            old = list(asset.subtitles or [])
            published = asset.subtitles_version
        if mobile is None:
            return None
        if snap.tracks and published == set_version(generation, snap):
            # Already showing these captions (a job for the same change ran first): replacing the set
            # would delete files a player is reading for nothing.
            return None
        work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work_dir, prefix=f"captions-{asset_id}-") as tmp:
            root = Path(tmp)
            version, tracks = _made(store, root, generation, mobile.playlist_key, mobile.start_pts, snap)
            if _same(old, tracks):
                return None
            _unretire(db, asset_id, tracks)
            files = _upload(store, root, asset_id, generation)
            if _commit(db, asset_id, generation, snap, version, tracks, files):
                return True  # the old set was retired in that commit
            # Captions changed meanwhile: start over. This set's folders go with the sweep (which
            # never deletes what the asset names, should another job have published the same set).
            with db.session_scope() as session:
                retire(session, asset_id, _folders(asset_id, tracks))
    log.warning("asset %s: captions kept changing; their publication is left to the next change", asset_id)
    return None


def _same(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    # Nothing published and nothing to publish (a delete of the last track publishes an empty set).
    return not old and not new


def _made(
    store: ObjectStore,
    root: Path,
    generation: str,
    playlist_key: str,
    start_pts: int | None,
    snap: Snapshot,
) -> tuple[str | None, list[dict[str, Any]]]:
    if not snap.tracks:
        return None, []
    playlist = root / "video.m3u8"
    playlist.write_bytes(b"".join(store.read(playlist_key)))
    if start_pts is None:  # a rendition made before the transcode kept it: probe its first segment
        first = next(
            line
            for line in playlist.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        )
        segment = root / "first.ts"
        store.get_file(playlist_key.rsplit("/", 1)[0] + "/" + first, segment)  # beside its playlist
        start_pts = subtitles.first_pts(segment)
        segment.unlink()
    out = root / "out"
    version, tracks = write_set(out, generation, snap, playlist=playlist, pts=start_pts)
    playlist.unlink()
    return version, tracks


def _upload(store: ObjectStore, root: Path, asset_id: str, generation: str) -> list[tuple[str, int, str]]:
    out = root / "out"
    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.exists() else []
    described = []
    for path in files:
        rel = path.relative_to(out).as_posix()
        key = keys.generation_file(asset_id, generation, rel)
        info = store.put_file(key, path, content_type=content_type_for(rel))
        if info.size != path.stat().st_size:
            raise StorageUnavailable("ingest.outputs_incomplete", count=1)
        described.append((f"{generation}/{rel}", path.stat().st_size, file_sha256(path)))
    return described


def _commit(
    db: Database,
    asset_id: str,
    generation: str,
    snap: Snapshot,
    version: str | None,
    tracks: list[dict[str, Any]],
    files: list[tuple[str, int, str]],
) -> bool:
    """Point the asset at the new set, if it still publishes `generation` and its captions are still
    those of `snap`; False otherwise (nothing changed)."""
    with db.session_scope() as session:
        asset = session.scalar(
            select(Asset)
            .where(Asset.id == asset_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if asset is None or asset.published_generation != generation:
            return False
        if service.snapshot(session, asset_id).fingerprint != snap.fingerprint:
            return False
        set_subtitles(session, asset, version, tracks, files)
    return True


def set_subtitles(
    session: Session,
    asset: Asset,
    version: str | None,
    tracks: list[dict[str, Any]],
    files: list[tuple[str, int, str]],
) -> None:
    """Replace the asset's subtitle files and tracks (in the caller's transaction); the folders of the
    set replaced are retired (players may be reading them)."""
    new = set(_folders(asset.id, tracks))
    retire(session, asset.id, set(_folders(asset.id, asset.subtitles or [])) - new)
    gen = asset.published_generation or ""
    session.execute(
        delete(AssetFile).where(
            AssetFile.asset_id == asset.id, AssetFile.path.like(f"{gen}/{FOLDER_PREFIX}%")
        )
    )
    session.add_all(AssetFile(asset_id=asset.id, path=p, size_bytes=n, sha256=h) for p, n, h in files)
    asset.subtitles, asset.subtitles_version = (tracks or None), version
    epochs.bump(session, epochs.MANIFESTS)  # the mobile master and its file list changed


def _folders(asset_id: str, tracks: list[dict[str, Any]]) -> list[str]:
    """The stored folders (key prefixes) of a set's tracks."""
    return [keys.asset_prefix(asset_id) + str(t["playlist"]).rsplit("/", 1)[0] + "/" for t in tracks]


def _unretire(db: Database, asset_id: str, tracks: list[dict[str, Any]]) -> None:
    """Before uploading a set that was published once already (the same captions again: the same
    folders), take its folders out of retirement, under the asset's row lock as the sweep takes it,
    so the sweep does not delete the files about to be published again."""
    folders = _folders(asset_id, tracks)
    if not folders:
        return
    with db.session_scope() as session:
        session.scalar(select(Asset.id).where(Asset.id == asset_id).with_for_update())
        unretire(session, folders)
