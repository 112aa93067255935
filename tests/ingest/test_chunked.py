"""A long film's transcode in pieces (workers.chunked), the piece tasks' bodies called directly:
handed out, run by any worker, a failed chunk retried alone, joined into one published presentation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest.models import AssetStatus, TranscodePiece
from mediasrv.jobs import TRANSCODE_PIECE
from mediasrv.media import runner
from mediasrv.media.hls import master_playlist
from mediasrv.storage import ObjectStore, keys
from tests.fixtures import RecordingDispatcher
from tests.ingest.test_pipeline import load, upload
from tests.mediafactory import hlscheck, make_media
from workers import chunked, pipeline


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # An 18 s film is "long" here, cut into 6 s chunks (the smallest: one segment).
    return settings.model_copy(update={"chunk_threshold_seconds": 10.0, "chunk_seconds": 6.0})


def piece_of(args: list[str]) -> str:
    """Which piece an ffmpeg command line runs, by the files it writes or reads."""
    line = " ".join(args)
    if "ffconcat" in line:
        return "join"
    if "/audio/" in line:
        return "audio"
    return next(
        a.rsplit("/", 1)[1].removesuffix(".ts") for a in args if a.endswith(".ts") and "/chunks/" in a
    )


@pytest.fixture
def ffmpeg_runs(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], set[str]]:
    """Count ffmpeg runs per piece; a piece named in the returned set fails its next run."""
    runs: Counter[str] = Counter()
    fail_next: set[str] = set()
    real = runner.run_ffmpeg

    def counting(args: list[str], **kwargs: Any) -> None:
        piece = piece_of(args)
        runs[piece] += 1
        if piece in fail_next:
            fail_next.discard(piece)
            raise runner.TranscodeFailed(
                "media.transcode_failed", returncode=1, stderr_tail="", detail="boom"
            )
        real(args, **kwargs)

    monkeypatch.setattr(chunked, "run_ffmpeg", counting)
    return runs, fail_next


def pieces_sent(dispatcher: RecordingDispatcher) -> list[tuple[str, ...]]:
    return [args for task, args in dispatcher.sent if task == TRANSCODE_PIECE]


def test_a_long_film_is_cut_joined_and_a_failed_chunk_alone_is_retried(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    ffmpeg_runs: tuple[Counter[str], set[str]],
    tmp_path: Path,
) -> None:
    runs, fail_next = ffmpeg_runs
    ctx = replace(ctx, dispatcher=dispatcher)
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=18, width=320, height=240))
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.PROCESSING
    sent = pieces_sent(dispatcher)
    generation = load(db, asset_id).generation
    assert sent == [(asset_id, generation, p) for p in ("audio", "00000", "00001", "00002")]

    fail_next.add("00001")
    assert chunked.process_piece(ctx, *sent[0]) is None  # audio
    assert chunked.process_piece(ctx, *sent[1]) is None
    with pytest.raises(chunked.PieceFailed):  # the task retries this piece, and only it
        chunked.process_piece(ctx, *sent[2])
    assert chunked.process_piece(ctx, *sent[3]) is None  # not all done: no join yet
    assert load(db, asset_id).status is AssetStatus.PROCESSING
    assert chunked.process_piece(ctx, *sent[2]) is AssetStatus.READY  # the retry; its worker joins
    assert runs == {"audio": 1, "00000": 1, "00001": 2, "00002": 1, "join": 1}

    asset = load(db, asset_id)
    assert (asset.status, asset.progress, asset.published_generation) == (AssetStatus.READY, 100, generation)
    assert asset.duration_seconds == pytest.approx(18, abs=0.2)
    assert asset.poster_key is not None
    assert not list(store.list(keys.work_prefix(asset_id))), "the pieces were left in the store"
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(TranscodePiece)) == 0
    # The presentation as published passes the authoring checks, all segments probed.
    out = tmp_path / "published"
    prefix = keys.generation_prefix(asset_id, generation or "")
    for obj in store.list(prefix):
        (out / obj.key.removeprefix(prefix)).parent.mkdir(parents=True, exist_ok=True)
        store.get_file(obj.key, out / obj.key.removeprefix(prefix))
    (out / "master.m3u8").write_text(
        master_playlist([r.variant(f"{r.name}/index.m3u8") for r in asset.renditions])
    )
    for r in asset.renditions:
        assert r.segment_count == 3 and r.duration_seconds == pytest.approx(18, abs=0.1)
    hlscheck(out / "master.m3u8", "--segments", "100")
    # A piece delivered again after the end changes nothing.
    assert chunked.process_piece(ctx, *sent[1]) is None
    assert runs["00000"] == 1


def test_a_chunk_that_keeps_failing_fails_the_film(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    dispatcher: RecordingDispatcher,
    ffmpeg_runs: tuple[Counter[str], set[str]],
    tmp_path: Path,
) -> None:
    runs, fail_next = ffmpeg_runs
    ctx = replace(ctx, dispatcher=dispatcher)
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=18, width=320, height=240))
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.PROCESSING
    chunk = pieces_sent(dispatcher)[2]
    for _ in range(ctx.settings.max_attempts - 1):
        fail_next.add("00001")
        with pytest.raises(chunked.PieceFailed):
            chunked.process_piece(ctx, *chunk)
    fail_next.add("00001")
    assert chunked.process_piece(ctx, *chunk) is AssetStatus.FAILED
    asset = load(db, asset_id)
    assert asset.status is AssetStatus.FAILED and asset.error_key == "media.transcode_failed"
    assert runs == {"00001": ctx.settings.max_attempts}
    # The other pieces find the film failed and do nothing.
    for piece in pieces_sent(dispatcher):
        assert chunked.process_piece(ctx, *piece) is None
    assert runs == {"00001": ctx.settings.max_attempts}


def test_without_a_dispatcher_or_under_the_threshold_a_film_is_one_run(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    short = upload(client, producer, make_media(tmp_path / "short.mp4", seconds=3, width=320, height=240))
    assert pipeline.process_asset(replace(ctx, dispatcher=dispatcher), short) is AssetStatus.READY
    assert pieces_sent(dispatcher) == []
