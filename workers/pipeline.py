"""probe -> transcode -> publish, for one asset. Idempotent and safe to run twice at once.

A run first claims the asset with a conditional UPDATE (a lease). Outputs go under a fresh generation
prefix (storage.keys.generation_prefix), which nothing points at until the final commit flips
`published_generation` to it; a retried run gets a new generation and so starts clean, and the leftovers
of earlier runs are deleted after the flip. The lease is renewed while ffmpeg makes progress; when
a worker dies, the lease expires and `sweep` re-enqueues the asset.

The worker's job, here above the domains it joins: it takes ingest's asset, media's tools and
storage, and tells catalog and study what a new generation changes (the STUDY epoch when a study list
holds the asset), which no module of ingest may import.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Update, delete, or_, select, update
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.captions import publish as captions_publish
from mediasrv.captions import service as captions
from mediasrv.catalog.models import Programme
from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.ingest.models import (
    NO_FAILURE,
    Asset,
    AssetFile,
    AssetKind,
    AssetStatus,
    LanguageTrack,
    Rendition,
    TranscodePiece,
    failure,
)
from mediasrv.ingest.retention import retained_generations, retire_generation
from mediasrv.ingest.sniff import Sniffed, sniff
from mediasrv.jobs import TRANSCODE, TRANSCODE_PIECE, Dispatcher
from mediasrv.kit.errors import MediaError, MediaProcessingError, StorageUnavailable
from mediasrv.kit.i18n import Text
from mediasrv.media import subtitles
from mediasrv.media.chunks import chunks_for
from mediasrv.media.hls import VariantInfo, finish_renditions
from mediasrv.media.plan import AudioTrack, BurnIn, TranscodePlan, build_plan, upload_tracks
from mediasrv.media.probe import MediaInfo, probe
from mediasrv.media.profiles import Group, RenditionSpec
from mediasrv.media.runner import run_ffmpeg
from mediasrv.protocol.hashing import file_sha256
from mediasrv.storage import ObjectStore, content_type_for, keys
from mediasrv.study.models import StudyListItem

log = logging.getLogger("mediasrv.ingest.pipeline")  # the name its log lines had under mediasrv.ingest

_PROGRESS_EVERY = 1.0  # seconds between progress/lease writes
_DOWNLOADED, _ENCODED = 2.0, 95.0  # progress percent at the end of each stage


class LeaseLost(Exception):
    """Another worker owns this asset now (our lease expired and it was re-claimed)."""


@dataclass(frozen=True)
class Context:
    db: Database
    store: ObjectStore
    settings: Settings
    worker_id: str = f"{socket.gethostname()}:{os.getpid()}"
    # Sends a long film's pieces to other workers; without one, every film is transcoded in one run.
    dispatcher: Dispatcher | None = None


def process_asset(ctx: Context, asset_id: str) -> AssetStatus | None:
    """Run the whole job for one asset. Returns its final status, or None when there was nothing to do.

    Raises StorageUnavailable (after releasing the lease) so the caller can retry later.
    """
    generation = claim(ctx, asset_id)
    if generation is None:
        return None
    workdir = ctx.settings.work_dir / f"{asset_id}-{generation}"
    try:
        return _run(ctx, asset_id, generation, workdir)
    except LeaseLost:
        log.warning("asset %s: lease lost to another worker; leaving it", asset_id)
        return None
    except StorageUnavailable:
        release(ctx, asset_id, generation)
        raise
    except MediaProcessingError as exc:
        fail(ctx, asset_id, exc, generation=generation)
        return AssetStatus.FAILED
    except Exception as exc:
        log.exception("asset %s: unexpected error", asset_id)
        unexpected = MediaProcessingError(
            "ingest.processing_unexpected", error=f"{type(exc).__name__}: {exc}"
        )
        fail(ctx, asset_id, unexpected, generation=generation)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def claim(ctx: Context, asset_id: str) -> str | None:
    """Take the lease on an asset that needs work; None when it is done, failed or leased by another."""
    now = utcnow()
    generation = uuid.uuid4().hex[:12]
    with ctx.db.session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.status in (AssetStatus.READY, AssetStatus.FAILED):
            return None
        if asset.attempts >= ctx.settings.max_attempts:
            reason = asset.cause() or Text("ingest.worker_stopped")
            gave_up = MediaProcessingError("ingest.gave_up", attempts=asset.attempts, reason=reason)
            asset.status = AssetStatus.FAILED
            for column, value in failure(gave_up).items():
                setattr(asset, column, value)
            asset.lease_owner = asset.lease_expires_at = None
            return None
        claimed = _update(
            session,
            update(Asset)
            .where(
                Asset.id == asset_id,
                Asset.status.in_([AssetStatus.UPLOADED, AssetStatus.PROCESSING]),
                or_(Asset.lease_expires_at.is_(None), Asset.lease_expires_at < now),
            )
            .values(
                status=AssetStatus.PROCESSING,
                lease_owner=ctx.worker_id,
                lease_expires_at=now + timedelta(seconds=ctx.settings.lease_seconds),
                generation=generation,
                attempts=Asset.attempts + 1,
                progress=0.0,
                **NO_FAILURE,
                processing_started_at=now,
                processing_seconds=None,
            ),
        )
        return generation if claimed == 1 else None


def _update(session: Session, statement: Update) -> int:
    """Run a conditional UPDATE; the row count says whether its condition held."""
    result = cast(CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False)))
    return result.rowcount


def report_progress(ctx: Context, asset_id: str, generation: str, percent: float) -> None:
    """Store progress and renew the lease; raise LeaseLost if the asset was re-claimed meanwhile."""
    renewed_until = utcnow() + timedelta(seconds=ctx.settings.lease_seconds)
    with ctx.db.session_scope() as session:
        changed = _update(
            session,
            update(Asset)
            .where(
                Asset.id == asset_id, Asset.generation == generation, Asset.status == AssetStatus.PROCESSING
            )
            .values(progress=percent, lease_expires_at=renewed_until),
        )
    if changed != 1:
        raise LeaseLost(asset_id)


def release(ctx: Context, asset_id: str, generation: str) -> None:
    """Give the lease back after a transient failure; the attempt does not count against the asset."""
    with ctx.db.session_scope() as session:
        _update(
            session,
            update(Asset)
            .where(Asset.id == asset_id, Asset.generation == generation)
            .values(
                status=AssetStatus.UPLOADED,
                lease_owner=None,
                lease_expires_at=None,
                attempts=Asset.attempts - 1,
            ),
        )


def fail(ctx: Context, asset_id: str, reason: MediaError, *, generation: str | None = None) -> None:
    """Mark an asset failed with a reason a producer can act on (only if we still own it, when given):
    kept as its message's key and parameters, shown in each reader's language (Asset.reason)."""
    query = update(Asset).where(Asset.id == asset_id, Asset.status != AssetStatus.READY)
    if generation is not None:
        query = query.where(Asset.generation == generation)
    with ctx.db.session_scope() as session:
        started = session.scalar(select(Asset.processing_started_at).where(Asset.id == asset_id))
        _update(
            session,
            query.values(
                status=AssetStatus.FAILED,
                **failure(reason),
                lease_owner=None,
                lease_expires_at=None,
                processing_seconds=_seconds_since(started),
            ),
        )


def _seconds_since(started: datetime | None) -> float | None:
    return None if started is None else max(0.0, (utcnow() - started).total_seconds())


def _run(ctx: Context, asset_id: str, generation: str, workdir: Path) -> AssetStatus:
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        source_key, filename = asset.source_key, asset.filename
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / ("source" + Path(filename).suffix.lower()[:8])
    ctx.store.get_file(source_key, source)
    report_progress(ctx, asset_id, generation, _DOWNLOADED)

    with source.open("rb") as f:
        if sniff(f.read(4096)) is Sniffed.PDF:
            _publish_document(ctx, asset_id, generation, source)
            return AssetStatus.READY

    info = probe(source)
    kind = AssetKind.VIDEO if info.video is not None else AssetKind.AUDIO
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        asset.kind, asset.duration_seconds, asset.source_info = kind, info.duration, info.as_dict()
    if (
        ctx.dispatcher is not None
        and info.video is not None
        and info.duration > ctx.settings.chunk_threshold_seconds
    ):
        # What a single run reads before it starts, read once for every piece: a dub that is
        # not sound fails the film now, and a caption change meanwhile cannot reach only some
        # chunks (it asks for a remake, which waits for this run).
        (workdir / "in").mkdir()
        tracks = language_tracks(ctx, asset_id, info, workdir / "in")
        burn_in = captions_to_burn(ctx, asset_id, workdir / "in")
        extract_captions(ctx, asset_id, generation, source, info, workdir)
        hand_out_pieces(ctx, ctx.dispatcher, asset_id, generation, info, tracks=tracks, burn_in=burn_in)
        return AssetStatus.PROCESSING

    outdir = workdir / "out"
    plan = plan_for(ctx, asset_id, source, info, workdir)
    last = [0.0]

    def on_progress(percent: float) -> None:
        if time.monotonic() - last[0] >= _PROGRESS_EVERY:
            last[0] = time.monotonic()
            report_progress(ctx, asset_id, generation, _DOWNLOADED + percent * (_ENCODED - _DOWNLOADED) / 100)

    run_ffmpeg(
        plan.args,
        duration=info.duration,
        on_progress=on_progress,
        stall_timeout=ctx.settings.transcode_stall_seconds,
    )
    extract_captions(ctx, asset_id, generation, source, info, workdir)
    publish_outputs(ctx, asset_id, generation, info, outdir, plan.renditions, plan.poster)
    return AssetStatus.READY


def plan_for(
    ctx: Context, asset_id: str, source: Path, info: MediaInfo, workdir: Path, *, iptv_only: bool = False
) -> TranscodePlan:
    """The ffmpeg run that makes a film's renditions into workdir/out (only the set-top boxes' with
    iptv_only), with its language tracks and burned-in captions as they are now."""
    return build_plan(
        source,
        info,
        workdir / "out",
        preset=ctx.settings.x264_preset,
        tracks=language_tracks(ctx, asset_id, info, workdir),
        burn_in=captions_to_burn(ctx, asset_id, workdir),
        iptv_only=iptv_only,
    )


def captions_to_burn(ctx: Context, asset_id: str, workdir: Path) -> BurnIn | None:
    """The captions a film asks to have burned into its set-top box pictures, written into workdir
    for libass; None for clean pictures."""
    with ctx.db.session_scope() as session:
        caption = captions.burned(session, asset_id)
        if caption is None:
            return None
        language, vtt = caption.language, caption.vtt
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"burn-{language}.vtt"
    path.write_text(vtt, encoding="utf-8")
    return BurnIn(path, language)


def language_tracks(ctx: Context, asset_id: str, info: MediaInfo, workdir: Path) -> list[AudioTrack]:
    """A film's extra languages: the upload's tagged extra audio streams, then the producer's
    attached files (downloaded into workdir and probed like an upload); an attached file replaces
    the upload's stream of the same language. None for recordings (renditions_for takes none)."""
    if info.video is None:
        return []
    query = select(LanguageTrack).where(LanguageTrack.asset_id == asset_id).order_by(LanguageTrack.language)
    with ctx.db.session_scope() as session:
        attached = [(row.language, row.source_key, row.filename) for row in session.scalars(query)]
    given = {lang for lang, _, _ in attached}
    tracks = [t for t in upload_tracks(info) if t.language not in given]
    for lang, key, filename in attached:
        path = workdir / f"audio-{lang}{Path(filename).suffix.lower()[:8]}"
        ctx.store.get_file(key, path)
        found = probe(path)
        if found.audio is None:
            raise MediaProcessingError("media.audio_track_not_audio")
        tracks.append(AudioTrack(lang, path=path, format_name=found.format_name))
    return tracks


def publish_outputs(
    ctx: Context,
    asset_id: str,
    generation: str,
    info: MediaInfo,
    outdir: Path,
    specs: list[RenditionSpec],
    poster: Path | None,
) -> None:
    """Finish and measure the renditions written under outdir, store them, and publish the generation."""
    variants = finish_renditions(outdir, specs)
    poster = poster if poster is not None and poster.exists() else None
    subtitle_set = _subtitle_set(ctx, asset_id, generation, outdir, specs, variants)
    files = _upload_tree(ctx.store, outdir, asset_id, generation)
    report_progress(ctx, asset_id, generation, 99.0)
    groups = {spec.name: list(spec.groups) for spec in specs}
    _finish(
        ctx,
        asset_id,
        generation,
        info,
        variants,
        groups,
        files=files,
        poster_key=keys.generation_file(asset_id, generation, poster.relative_to(outdir).as_posix())
        if poster
        else None,
        subtitle_set=subtitle_set,
    )


def extract_captions(
    ctx: Context, asset_id: str, generation: str, source: Path, info: MediaInfo, workdir: Path
) -> None:
    """The upload's own text subtitle streams (mov_text, subrip, ass) become caption tracks, tagged
    with the stream's language, else the programme's. A stream that cannot be read is left out: the
    film is still good."""
    streams = subtitles.subtitle_streams(source, info.format_name)
    if not streams:
        with ctx.db.session_scope() as session:
            captions.replace_embedded(session, asset_id, generation, [])
        return
    with ctx.db.session_scope() as session:
        fallback = captions.programme_language(session, asset_id)
    tracks = []
    for stream in streams:
        try:
            cues = subtitles.extract_stream(
                source,
                info.format_name,
                stream,
                workdir / f"stream-{stream.index}.vtt",
                duration=info.duration,
            )
        except MediaError as exc:
            log.warning("asset %s: subtitle stream %d left out: %s", asset_id, stream.index, exc.message)
            continue
        tracks.append((stream.language or fallback, f"#{stream.index + 1}", cues))
    with ctx.db.session_scope() as session:
        captions.replace_embedded(session, asset_id, generation, tracks)


def _subtitle_set(
    ctx: Context,
    asset_id: str,
    generation: str,
    outdir: Path,
    specs: list[RenditionSpec],
    variants: list[VariantInfo],
) -> tuple[str | None, list[dict[str, Any]]]:
    """The captions as subtitle renditions beside the mobile ladder just written (version, tracks)."""
    mobile = next((spec for spec in specs if Group.MOBILE in spec.groups), None)
    if mobile is None:
        return None, []
    with ctx.db.session_scope() as session:
        snap = captions.snapshot(session, asset_id)
    playlist = outdir / mobile.name / "index.m3u8"
    measured = next(v for v in variants if v.name == mobile.name)
    pts = measured.start_pts
    if pts is None:  # ffprobe named no start: probe as before
        first = next(
            line
            for line in playlist.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        )
        pts = subtitles.first_pts(playlist.parent / first)
    return captions_publish.write_set(outdir, generation, snap, playlist=playlist, pts=pts)


def hand_out_pieces(
    ctx: Context,
    dispatcher: Dispatcher,
    asset_id: str,
    generation: str,
    info: MediaInfo,
    *,
    tracks: Sequence[AudioTrack] = (),
    burn_in: BurnIn | None = None,
) -> None:
    """Cut a long film into pieces (its audio, chunks of its video) for separate workers; the one
    that finishes the last piece joins them (workers.chunked). The lease then runs for the whole
    job's time limit: the pieces may wait in the queue, and a piece's own retries and Celery's
    redelivery of a dead worker's piece recover what a re-run of the whole film would.

    The film's language tracks (their order) and burned captions go into the work folder
    (PieceInputs) for the pieces to read, so every piece makes the same presentation."""
    PieceInputs([t.language for t in tracks], burn_in.language if burn_in else None).store(
        ctx.store, asset_id, generation, burn_in.path if burn_in else None
    )
    pieces = [
        AUDIO_PIECE,
        *(chunk_piece(c.index) for c in chunks_for(info.duration, ctx.settings.chunk_seconds)),
    ]
    with ctx.db.session_scope() as session:
        session.add_all(
            TranscodePiece(asset_id=asset_id, generation=generation, piece=p, attempts=0, done=False)
            for p in [*pieces, JOIN_PIECE]
        )
        changed = _update(
            session,
            update(Asset)
            .where(
                Asset.id == asset_id, Asset.generation == generation, Asset.status == AssetStatus.PROCESSING
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=ctx.settings.transcode_time_limit_seconds)),
        )
        if changed != 1:
            raise LeaseLost(asset_id)
    for piece in pieces:
        dispatcher.send(TRANSCODE_PIECE, asset_id, generation, piece)
    log.info("asset %s: %d pieces handed out (generation %s)", asset_id, len(pieces), generation)


AUDIO_PIECE, JOIN_PIECE = "audio", "join"
_INPUTS, _BURN = "in/inputs.json", "in/burn.vtt"  # a chunked run's inputs, in its work folder


@dataclass(frozen=True)
class PieceInputs:
    """What a chunked run's pieces read besides the upload, as its transcode found it."""

    languages: list[str]  # the extra audio tracks' languages, in track order
    burn_language: str | None  # captions burned into the IPTV pictures

    def store(self, store: ObjectStore, asset_id: str, generation: str, burn: Path | None) -> None:
        if burn is not None:
            store.put_file(keys.work_file(asset_id, generation, _BURN), burn)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "inputs.json"
            path.write_text(json.dumps(asdict(self)), encoding="utf-8")
            store.put_file(keys.work_file(asset_id, generation, _INPUTS), path)

    @classmethod
    def load(cls, store: ObjectStore, asset_id: str, generation: str, workdir: Path) -> PieceInputs:
        """Read them into workdir/in (a join finds them there already)."""
        path = workdir / _INPUTS
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(keys.work_file(asset_id, generation, _INPUTS), path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(list(data["languages"]), data["burn_language"])

    def burn_in(self, store: ObjectStore, asset_id: str, generation: str, workdir: Path) -> BurnIn | None:
        if self.burn_language is None:
            return None
        path = workdir / _BURN
        store.get_file(keys.work_file(asset_id, generation, _BURN), path)
        return BurnIn(path, self.burn_language)


def chunk_piece(index: int) -> str:
    return f"{index:05d}"


def _upload_tree(
    store: ObjectStore, root: Path, asset_id: str, generation: str
) -> list[tuple[str, int, str]]:
    """Put every file under root into the generation's folder, check that all of them are there at
    full size, and return (relative path, size, SHA-256) of each, for the sites' caching manifests."""
    files = sorted(p for p in root.rglob("*") if p.is_file())

    def put(path: Path) -> tuple[str, int, str]:
        rel = path.relative_to(root).as_posix()
        store.put_file(
            keys.generation_file(asset_id, generation, rel), path, content_type=content_type_for(rel)
        )
        return rel, path.stat().st_size, file_sha256(path)

    with ThreadPoolExecutor(max_workers=4) as pool:
        described = list(pool.map(put, files))  # list() re-raises the first upload error
    stored = {info.key: info.size for info in store.list(keys.generation_prefix(asset_id, generation))}
    missing = [
        rel
        for rel, size, _ in described
        if stored.get(keys.generation_file(asset_id, generation, rel)) != size
    ]
    if missing:
        raise StorageUnavailable("ingest.outputs_incomplete", count=len(missing))
    return described


def _finish(
    ctx: Context,
    asset_id: str,
    generation: str,
    info: MediaInfo,
    variants: list[VariantInfo],
    groups: dict[str, list[str]],
    *,
    files: list[tuple[str, int, str]],
    poster_key: str | None,
    subtitle_set: tuple[str | None, list[dict[str, Any]]] = (None, []),
) -> None:
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        if asset.generation != generation or asset.status is not AssetStatus.PROCESSING:
            raise LeaseLost(asset_id)
        if asset.published_generation != generation:
            retire_generation(session, asset_id, asset.published_generation)  # players may be reading it
        asset.renditions.clear()
        asset.files.clear()
        session.flush()  # the unique (asset, name) rows of an earlier generation go first
        # A chunked run's bookkeeping, this generation's and any abandoned one's, is done with.
        session.execute(delete(TranscodePiece).where(TranscodePiece.asset_id == asset_id))
        asset.files.extend(
            AssetFile(path=f"{generation}/{rel}", size_bytes=size, sha256=sha) for rel, size, sha in files
        )
        asset.renditions.extend(
            Rendition.of(
                v, groups=groups[v.name], playlist_key=keys.generation_file(asset_id, generation, v.playlist)
            )
            for v in variants
        )
        asset.subtitles, asset.subtitles_version = subtitle_set[1] or None, subtitle_set[0]
        _mark_ready(session, asset, generation, poster_key=poster_key)
    _delete_other_generations(ctx, asset_id, keep=generation)


def _mark_ready(session: Session, asset: Asset, generation: str, *, poster_key: str | None) -> None:
    # A new generation has new files: manifests of sites holding this asset must list them.
    epochs.bump(session, epochs.MANIFESTS)
    # Its duration, by which "watched fully" is judged, may differ too: kept compliance summaries
    # are stale if a study list holds it (not for every upload, or each would cost a recompute).
    on_a_list = (
        select(StudyListItem.id)
        .join(Programme, Programme.id == StudyListItem.programme_id)
        .where(Programme.asset_id == asset.id)
        .limit(1)
    )
    if session.scalar(on_a_list) is not None:
        epochs.bump(session, epochs.STUDY)
    asset.status, asset.progress = AssetStatus.READY, 100.0
    asset.error = asset.error_key = asset.error_params = None
    asset.published_generation, asset.poster_key = generation, poster_key
    asset.lease_owner = asset.lease_expires_at = None
    asset.processing_seconds = _seconds_since(asset.processing_started_at)


def _publish_document(ctx: Context, asset_id: str, generation: str, source: Path) -> None:
    """PDF courseware is kept as uploaded; a truncated PDF (no %%EOF at the end) is refused."""
    with source.open("rb") as f:
        f.seek(max(0, source.stat().st_size - 2048))
        if b"%%EOF" not in f.read():
            raise MediaProcessingError("ingest.pdf_incomplete")
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        if asset.generation != generation:
            raise LeaseLost(asset_id)
        asset.kind = AssetKind.DOCUMENT
        asset.files.clear()
        session.flush()
        asset.files.append(AssetFile(path="source", size_bytes=asset.size_bytes, sha256=asset.sha256))
        _mark_ready(session, asset, generation, poster_key=None)


def _delete_other_generations(ctx: Context, asset_id: str, *, keep: str) -> None:
    """Remove outputs of abandoned runs, not the retired generations players may still be reading
    (the retention sweep deletes those after the grace); failures only leave garbage, so they are logged."""
    store = ctx.store
    with ctx.db.session_scope() as session:
        retained = retained_generations(session, asset_id)
    try:
        stale = {keys.generation_path(info.key)[0] for info in store.list(keys.asset_prefix(asset_id))}
        for generation in stale - retained - {keep}:
            store.delete_prefix(keys.generation_prefix(asset_id, generation))
        store.delete_prefix(keys.work_prefix(asset_id))  # a chunked run's pieces, this one's or abandoned
    except StorageUnavailable:
        log.warning("asset %s: could not remove old outputs; they are unreferenced", asset_id)


def sweep(ctx: Context, dispatcher: Dispatcher) -> list[str]:
    """Re-enqueue assets whose worker vanished (lease expired) or whose enqueue never happened."""
    now = utcnow()
    stuck_upload = now - timedelta(seconds=2 * ctx.settings.sweep_interval_seconds)
    with ctx.db.session_scope() as session:
        ids = list(
            session.scalars(
                select(Asset.id).where(
                    or_(
                        (Asset.status == AssetStatus.PROCESSING) & (Asset.lease_expires_at < now),
                        (Asset.status == AssetStatus.UPLOADED) & (Asset.updated_at < stuck_upload),
                    )
                )
            )
        )
    for asset_id in ids:
        dispatcher.send(TRANSCODE, asset_id)
    if ids:
        log.info("sweep re-enqueued %d assets: %s", len(ids), ", ".join(ids))
    return ids
