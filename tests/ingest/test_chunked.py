"""A long film's transcode in pieces (workers.chunked), the piece tasks' bodies called directly:
handed out, run by any worker, a failed chunk retried alone, joined into one published presentation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import m3u8
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from mediasrv.captions.models import Caption, CaptionSource
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest.models import AssetStatus, TranscodePiece
from mediasrv.jobs import TRANSCODE_PIECE
from mediasrv.media import runner
from mediasrv.media.hls import master_playlist
from mediasrv.storage import ObjectStore, keys
from tests.captions.test_subtitle_renditions import film_with_mov_text
from tests.fixtures import RecordingDispatcher
from tests.ingest.test_language_tracks import attach
from tests.ingest.test_pipeline import load, upload
from tests.media.test_audio_tracks import ffprobe_streams
from tests.media.test_burn_in import BAND, changed_share, frame
from tests.media.test_chunks import JOINT_CUES
from tests.mediafactory import hlscheck, make_dub, make_media
from workers import chunked, pipeline, reburn


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


def published(store: ObjectStore, asset_id: str, generation: str, out: Path) -> Path:
    """The generation's files as stored, under out."""
    prefix = keys.generation_prefix(asset_id, generation)
    for obj in store.list(prefix):
        (out / obj.key.removeprefix(prefix)).parent.mkdir(parents=True, exist_ok=True)
        store.get_file(obj.key, out / obj.key.removeprefix(prefix))
    return out


def test_a_long_film_gets_its_dub_and_burned_captions_and_its_iptv_pictures_remade(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    ctx = replace(ctx, dispatcher=dispatcher)
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=18, width=640, height=360))
    attach(db, store, asset_id, make_dub(tmp_path / "dub.m4a", seconds=17.5), "ug")
    with db.session_scope() as s:
        s.add(
            Caption(asset_id=asset_id, language="zh-Hans", label="简体中文", source=CaptionSource.UPLOAD,
                    filename="zh.vtt", cue_count=1, vtt=JOINT_CUES, burn_in=True)
        )  # fmt: skip
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.PROCESSING
    sent = pieces_sent(dispatcher)
    # The pieces burn what the film asked for when it was handed out, whatever changes meanwhile.
    with db.session_scope() as s:
        s.execute(update(Caption).where(Caption.asset_id == asset_id).values(burn_in=False))
    assert [chunked.process_piece(ctx, *piece) for piece in sent] == [None, None, None, AssetStatus.READY]

    asset = load(db, asset_id)
    languages = {r.name: r.language for r in asset.renditions}
    assert languages == {
        "iptv": "",
        "iptv-sd": "",
        "mobile-360p": "",
        "iptv-ug": "ug",
        "iptv-sd-ug": "ug",
        "mobile-audio": "",
        "mobile-audio-ug": "ug",
    }
    out = published(store, asset_id, asset.published_generation or "", tmp_path / "chunked")
    for name in ("iptv", "iptv-sd-ug"):
        path = out / f"master-{name}.m3u8"
        path.write_text(
            master_playlist([r.variant(f"{r.name}/index.m3u8") for r in asset.renditions if r.name == name])
        )
        assert [p.uri for p in m3u8.load(str(path)).playlists] == [f"{name}/index.m3u8"]
        hlscheck(path, "--segments", "100")
    streams = ffprobe_streams(out / "iptv-ug" / "seg_00001.ts")
    assert [s["codec_type"] for s in streams] == ["video", "audio"]
    for r in asset.renditions:
        assert r.segment_count == (
            4 if r.name.startswith("mobile-audio") else 3
        ) and r.duration_seconds == pytest.approx(18, abs=0.1)

    # Captions changed (none burned now): the IPTV pictures are made again in one run, the dub kept.
    assert reburn.reburn_iptv(ctx, asset_id) is True
    asset = load(db, asset_id)
    clean = published(store, asset_id, asset.published_generation or "", tmp_path / "clean")
    assert {r.name for r in asset.renditions} == set(languages)
    assert [s["codec_type"] for s in ffprobe_streams(clean / "iptv-ug" / "seg_00001.ts")] == [
        "video",
        "audio",
    ]
    for name in ("iptv", "iptv-sd-ug"):
        burned, plain = frame(out, name, 6.5), frame(clean, name, 6.5)
        w, h = plain.size
        top = round(h * (1 - BAND))
        assert changed_share(plain, burned, (0, 0, w, top)) < 0.001
        assert changed_share(plain, burned, (0, top, w, h)) > 0.01, "no caption after the joint"
    assert (clean / "mobile-audio-ug" / "index.m3u8").read_bytes() == (
        out / "mobile-audio-ug" / "index.m3u8"
    ).read_bytes()


def test_a_long_film_s_own_subtitle_stream_becomes_its_captions(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    settings = ctx.settings.model_copy(update={"chunk_threshold_seconds": 5.0})
    ctx = replace(ctx, dispatcher=dispatcher, settings=settings)
    asset_id = upload(client, producer, film_with_mov_text(tmp_path))  # 9 s: two chunks here
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.PROCESSING
    assert [chunked.process_piece(ctx, *piece) for piece in pieces_sent(dispatcher)][-1] is AssetStatus.READY
    with db.session_scope() as s:
        caption = s.scalars(select(Caption).where(Caption.asset_id == asset_id)).one()
        assert (caption.language, caption.source) == ("bo", CaptionSource.EMBEDDED)
    subtitles = load(db, asset_id).subtitles or []
    assert [t["language"] for t in subtitles] == ["bo"]
