"""A long film's pieces, each run by whichever worker takes it (the pieces handed out by
pipeline.hand_out_pieces): a chunk of video or the whole film's audio, then, by the worker that
finishes the last piece, the join that publishes one presentation (mediasrv.media.chunks says how).

Pieces pass between workers through the object store (keys.work_prefix). Each piece counts its own
attempts: a failed chunk is retried alone (the task raises PieceFailed and Celery retries it), and
only a piece that failed max_attempts times fails the asset. The join is claimed with a conditional
UPDATE on its row's attempts, so two pieces finishing at once do not both run it.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mediasrv.db import utcnow
from mediasrv.ingest.models import Asset, AssetStatus, TranscodePiece
from mediasrv.kit.errors import MediaProcessingError, StorageUnavailable
from mediasrv.media import chunks
from mediasrv.media.probe import MediaInfo, probe
from mediasrv.media.profiles import renditions_for
from mediasrv.media.runner import run_ffmpeg
from mediasrv.storage import keys
from workers.pipeline import (
    _DOWNLOADED,
    _ENCODED,
    _PROGRESS_EVERY,
    AUDIO_PIECE,
    JOIN_PIECE,
    Context,
    LeaseLost,
    PieceInputs,
    _update,
    fail,
    language_tracks,
    publish_outputs,
)

log = logging.getLogger("mediasrv.ingest.pipeline")


class PieceFailed(Exception):
    """This piece failed and has attempts left: retry this piece alone, later."""

    def __init__(self, asset_id: str, piece: str, cause: BaseException) -> None:
        super().__init__(f"asset {asset_id} piece {piece}: {cause}")
        self.cause = cause


def process_piece(ctx: Context, asset_id: str, generation: str, piece: str) -> AssetStatus | None:
    """Run one piece (if not done yet), then the join if every piece is done. Returns READY when this
    call published the asset, FAILED when it failed it, None otherwise. Raises PieceFailed to have
    the piece retried, StorageUnavailable when storage is down (also retried, not counted)."""
    attempts = _start(ctx, asset_id, generation, piece)
    if attempts is None:
        return None
    workdir = ctx.settings.work_dir / f"{asset_id}-{generation}-{piece}"
    stage = piece  # which row's attempts a failure counts against
    try:
        if attempts > 0:
            _run_piece(ctx, asset_id, generation, piece, workdir)
        stage = JOIN_PIECE
        return _join_if_complete(ctx, asset_id, generation, workdir)
    except LeaseLost:
        log.warning(
            "asset %s: generation %s is no longer current; piece %s left", asset_id, generation, piece
        )
        return None
    except StorageUnavailable:
        raise
    except Exception as exc:
        attempts = _attempts(ctx, asset_id, generation, stage)
        if attempts < ctx.settings.max_attempts:
            log.warning(
                "asset %s: piece %s failed (attempt %d); it will be retried",
                asset_id,
                stage,
                attempts,
                exc_info=True,
            )
            raise PieceFailed(asset_id, stage, exc) from exc
        reason = (
            exc
            if isinstance(exc, MediaProcessingError)
            else MediaProcessingError("ingest.processing_unexpected", error=f"{type(exc).__name__}: {exc}")
        )
        fail(ctx, asset_id, reason, generation=generation)
        return AssetStatus.FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _current(session: Session, asset_id: str, generation: str) -> bool:
    return (
        session.scalar(
            select(Asset.id).where(
                Asset.id == asset_id, Asset.generation == generation, Asset.status == AssetStatus.PROCESSING
            )
        )
        is not None
    )


def _start(ctx: Context, asset_id: str, generation: str, piece: str) -> int | None:
    """Count an attempt of an unfinished piece of the current generation: its attempt number, 0 when
    the piece is done already (only the join may be left), None when there is nothing to do."""
    with ctx.db.session_scope() as session:
        if not _current(session, asset_id, generation):
            return None
        row = session.get(TranscodePiece, (asset_id, generation, piece))
        if row is None or piece == JOIN_PIECE:
            return None
        if row.done:
            return 0
        row.attempts += 1
        return row.attempts


def _attempts(ctx: Context, asset_id: str, generation: str, piece: str) -> int:
    with ctx.db.session_scope() as session:
        row = session.get(TranscodePiece, (asset_id, generation, piece))
        return 0 if row is None else row.attempts


def _all_done(session: Session, asset_id: str, generation: str) -> bool:
    left = session.scalar(
        select(func.count())
        .select_from(TranscodePiece)
        .where(
            TranscodePiece.asset_id == asset_id,
            TranscodePiece.generation == generation,
            TranscodePiece.piece != JOIN_PIECE,
            TranscodePiece.done.is_(False),
        )
    )
    return left == 0


def _source(ctx: Context, asset_id: str, workdir: Path) -> tuple[Path, MediaInfo]:
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        source_key, filename = asset.source_key, asset.filename
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / ("source" + Path(filename).suffix.lower()[:8])
    ctx.store.get_file(source_key, source)
    return source, probe(source)


def _renew(ctx: Context, asset_id: str, generation: str) -> None:
    """Keep the lease at least lease_seconds ahead (never shorten what hand_out_pieces gave)."""
    until = utcnow() + timedelta(seconds=ctx.settings.lease_seconds)
    with ctx.db.session_scope() as session:
        if not _current(session, asset_id, generation):
            raise LeaseLost(asset_id)
        _update(
            session,
            update(Asset)
            .where(Asset.id == asset_id, Asset.generation == generation, Asset.lease_expires_at < until)
            .values(lease_expires_at=until),
        )


def _run_piece(ctx: Context, asset_id: str, generation: str, piece: str, workdir: Path) -> None:
    source, info = _source(ctx, asset_id, workdir)
    inputs = PieceInputs.load(ctx.store, asset_id, generation, workdir)
    if piece == AUDIO_PIECE:
        tracks = language_tracks(ctx, asset_id, info, workdir / "in")
        if [t.language for t in tracks] != inputs.languages:
            # Refused while the film is being transcoded (ingest.tracks._BUSY): never expected.
            raise RuntimeError(f"language tracks changed during the transcode: {inputs.languages}")
        args, duration = chunks.audio_args(source, info, workdir, tracks), info.duration
    else:
        chunk = chunks.chunks_for(info.duration, ctx.settings.chunk_seconds)[int(piece)]
        burn_in = inputs.burn_in(ctx.store, asset_id, generation, workdir)
        args = chunks.chunk_args(
            source, info, workdir, chunk, preset=ctx.settings.x264_preset, burn_in=burn_in
        )
        duration = chunk.length or max(0.001, info.duration - chunk.start)
    last = [time.monotonic()]

    def on_progress(_: float) -> None:
        if time.monotonic() - last[0] >= _PROGRESS_EVERY:
            last[0] = time.monotonic()
            _renew(ctx, asset_id, generation)

    run_ffmpeg(
        args, duration=duration, on_progress=on_progress, stall_timeout=ctx.settings.transcode_stall_seconds
    )
    source.unlink()
    for path in sorted(p for p in workdir.rglob("*") if p.is_file() and p.suffix != ".ffconcat"):
        rel = path.relative_to(workdir).as_posix()
        if not rel.startswith("in/"):  # the piece's inputs (dubs, captions) are not its outputs
            ctx.store.put_file(keys.work_file(asset_id, generation, rel), path)
    with ctx.db.session_scope() as session:
        if not _current(session, asset_id, generation):
            raise LeaseLost(asset_id)
        row = session.get_one(TranscodePiece, (asset_id, generation, piece))
        row.done = True
        session.flush()
        states = list(
            session.scalars(
                select(TranscodePiece.done).where(
                    TranscodePiece.asset_id == asset_id,
                    TranscodePiece.generation == generation,
                    TranscodePiece.piece != JOIN_PIECE,
                )
            )
        )
        percent = _DOWNLOADED + sum(states) / max(len(states), 1) * (_ENCODED - _DOWNLOADED)
        _update(
            session,
            update(Asset)
            .where(Asset.id == asset_id, Asset.generation == generation, Asset.progress < percent)
            .values(progress=percent),
        )


def _join_if_complete(ctx: Context, asset_id: str, generation: str, workdir: Path) -> AssetStatus | None:
    with ctx.db.session_scope() as session:
        if not _all_done(session, asset_id, generation):
            return None
        join = session.get_one(TranscodePiece, (asset_id, generation, JOIN_PIECE))
        claimed = _update(
            session,
            update(TranscodePiece)
            .where(
                TranscodePiece.asset_id == asset_id,
                TranscodePiece.generation == generation,
                TranscodePiece.piece == JOIN_PIECE,
                TranscodePiece.attempts == join.attempts,
            )
            .values(attempts=TranscodePiece.attempts + 1),
        )
    if claimed != 1:
        return None  # another worker's piece finished at the same moment and joins
    # A join claimed by a worker that died is claimed again (attempts moved on) by the next piece
    # task Celery redelivers; once published, the asset is no longer PROCESSING and nothing runs.
    with ctx.db.session_scope() as session:
        info = MediaInfo.from_dict(session.get_one(Asset, asset_id).source_info or {})
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    prefix = keys.work_prefix(asset_id, generation)
    for obj in ctx.store.list(prefix):
        target = workdir / obj.key.removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        ctx.store.get_file(obj.key, target)
    outdir = workdir / "out"
    pieces = chunks.chunks_for(info.duration, ctx.settings.chunk_seconds)
    languages = PieceInputs.load(ctx.store, asset_id, generation, workdir).languages
    run_ffmpeg(
        chunks.join_args(info, workdir, outdir, pieces, languages),
        duration=info.duration,
        stall_timeout=ctx.settings.transcode_stall_seconds,
    )
    poster = chunks.poster_file(workdir)
    if poster.exists():
        shutil.move(poster, outdir / poster.name)
    specs = renditions_for(info, languages)
    publish_outputs(ctx, asset_id, generation, info, outdir, specs, outdir / poster.name)
    return AssetStatus.READY
