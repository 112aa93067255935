"""The job body called directly: probe -> transcode -> publish, failures, leases, idempotence, sweep."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from mediasrv.db import Database, utcnow
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus
from mediasrv.jobs import TRANSCODE
from mediasrv.storage import ObjectStore
from mediasrv.storage.keys import generation_prefix
from tests.fixtures import RecordingDispatcher
from tests.mediafactory import make_media, make_playlist_trap, make_truncated
from workers import pipeline


def upload(client: TestClient, headers: dict[str, str], path: Path) -> str:
    with path.open("rb") as f:
        r = client.post("/api/v1/assets", headers=headers, files={"file": (path.name, f)})
    assert r.status_code == 201, r.text
    asset_id: str = r.json()["id"]
    return asset_id


def load(db: Database, asset_id: str) -> Asset:
    with db.session_scope() as s:
        asset = s.get_one(Asset, asset_id)
        _ = asset.renditions  # load before the session closes
        return asset


def test_video_is_published_with_every_rendition(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=3, width=640, height=360))
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    asset = load(db, asset_id)
    assert (asset.status, asset.kind, asset.progress, asset.error) == (
        AssetStatus.READY,
        AssetKind.VIDEO,
        100,
        None,
    )
    assert asset.duration_seconds == pytest.approx(3, abs=0.2)
    assert asset.source_info is not None and asset.source_info["video"]["width"] == 640
    names = {r.name for r in asset.renditions}
    assert {"iptv", "iptv-sd", "mobile-360p"} <= names
    assert not any(n in names for n in ("mobile-540p", "mobile-720p")), "upscaled a 360p source"
    prefix = generation_prefix(asset_id, asset.published_generation or "")
    keys = {o.key for o in store.list(f"hls/{asset_id}/")}
    assert all(k.startswith(prefix) for k in keys), "outputs of another generation remain"
    for r in asset.renditions:
        assert r.playlist_key in keys
        assert sum(k.startswith(r.playlist_key.rsplit("/", 1)[0] + "/seg_") for k in keys) == r.segment_count
    assert asset.poster_key in keys
    assert asset.lease_owner is None and asset.attempts == 1
    # Every published file is recorded with its size and SHA-256, as stored (for the sites' manifests).
    with db.session_scope() as s:
        files = {f.path: (f.size_bytes, f.sha256) for f in s.get_one(Asset, asset_id).files}
    assert {f"hls/{asset_id}/{path}" for path in files} == keys
    for path, (size, sha) in files.items():
        data = b"".join(store.read(f"hls/{asset_id}/{path}"))
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha)
    # The job is idempotent: running it again changes nothing.
    assert pipeline.process_asset(ctx, asset_id) is None
    assert load(db, asset_id).published_generation == asset.published_generation


def test_audio_only_gets_audio_renditions(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, tmp_path: Path
) -> None:
    asset_id = upload(client, producer, make_media(tmp_path / "讲座.m4a", seconds=3))
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    asset = load(db, asset_id)
    assert asset.kind is AssetKind.AUDIO and asset.poster_key is None
    assert all(r.width == 0 and r.codecs == "mp4a.40.2" for r in asset.renditions)
    assert {g for r in asset.renditions for g in r.groups} == {"iptv", "iptv-sd", "mobile"}


ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}


def reason(client: TestClient, headers: dict[str, str], asset_id: str) -> str:
    said: str = client.get(f"/api/v1/assets/{asset_id}", headers=headers).json()["error"]
    return said


def test_a_damaged_film_fails_with_a_reason_in_the_reader_s_language(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    """Issue 17: a damaged film read `转码失败：The file could not be read... moov atom not found`."""
    film = make_media(tmp_path / "whole.mp4", seconds=3)
    asset_id = upload(client, producer, make_truncated(film, tmp_path / "坏片.mp4"))  # no moov atom
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.FAILED
    asset = load(db, asset_id)
    assert asset.status is AssetStatus.FAILED and asset.error_key == "media.unreadable"
    assert asset.error_params == {"detail": "moov atom not found"}  # ffmpeg's words: a detail, kept as is
    assert asset.error == (  # English for the logs
        "The file could not be read as video or audio (ffprobe: moov atom not found). "
        "It may be truncated or damaged: export it again and re-upload."
    )
    assert list(store.list(f"hls/{asset_id}/")) == []
    zh = (
        "“坏片.mp4”无法处理：文件无法作为视频或音频读取，可能不完整或已损坏。请重新导出后再上传。"
        "（ffprobe：moov atom not found）"
    )
    assert reason(client, {**producer, **ZH}, asset_id) == reason(client, producer, asset_id) == zh
    assert reason(client, {**producer, **EN}, asset_id) == f"'坏片.mp4' could not be processed: {asset.error}"
    listed = client.get("/api/v1/assets?status=failed", headers={**producer, **EN}).json()["items"]
    assert [a["error"] for a in listed] == [f"'坏片.mp4' could not be processed: {asset.error}"]

    # Given up later (the reason kept, nested in another message): still in the reader's language.
    with db.session_scope() as s:
        s.execute(
            update(Asset)
            .where(Asset.id == asset_id)
            .values(status=AssetStatus.UPLOADED, attempts=ctx.settings.max_attempts)
        )
    assert pipeline.claim(ctx, asset_id) is None
    assert reason(client, producer, asset_id) == zh.replace("无法处理：", "无法处理：尝试 3 次后放弃：")
    assert reason(client, {**producer, **EN}, asset_id) == (
        f"'坏片.mp4' could not be processed: Gave up after 3 attempts: {asset.error}"
    )


def test_a_reason_kept_before_the_catalogue_is_shown_as_it_was(
    client: TestClient, producer: dict[str, str], db: Database, tmp_path: Path
) -> None:
    """Rows failed before migration 0009 have only the English text: shown, naming the file."""
    asset_id = upload(client, producer, make_media(tmp_path / "旧片.mp4", seconds=1))
    with db.session_scope() as s:
        s.execute(
            update(Asset).where(Asset.id == asset_id).values(status=AssetStatus.FAILED, error="It broke.")
        )
    assert reason(client, producer, asset_id) == "“旧片.mp4”无法处理：It broke."
    with db.session_scope() as s:  # a key this version's catalogues do not have: the English, no 500
        s.execute(
            update(Asset).where(Asset.id == asset_id).values(error_key="media.gone_in_v2", error_params={})
        )
    assert reason(client, producer, asset_id) == "“旧片.mp4”无法处理：It broke."


def test_pdf_is_kept_as_a_document_and_a_cut_pdf_fails(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    (tmp_path / "讲义.pdf").write_bytes(pdf)
    (tmp_path / "cut.pdf").write_bytes(pdf[:20])
    good = upload(client, producer, tmp_path / "讲义.pdf")
    cut = upload(client, producer, tmp_path / "cut.pdf")
    assert pipeline.process_asset(ctx, good) is AssetStatus.READY
    assert load(db, good).kind is AssetKind.DOCUMENT
    with db.session_scope() as s:
        files = [(f.path, f.size_bytes, f.sha256) for f in s.get_one(Asset, good).files]
    assert files == [("source", len(pdf), hashlib.sha256(pdf).hexdigest())]
    assert pipeline.process_asset(ctx, cut) is AssetStatus.FAILED
    assert "incomplete" in (load(db, cut).error or "")


def test_a_leased_asset_is_not_taken_twice_and_an_expired_lease_is(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=2))
    first = pipeline.claim(ctx, asset_id)
    assert first is not None
    assert pipeline.claim(ctx, asset_id) is None  # a redelivered message while the lease is live
    # The first worker dies after writing part of its outputs; its lease runs out.
    store.put_file(f"hls/{asset_id}/{first}/iptv/seg_00000.ts", tmp_path / "film.mp4")
    with db.session_scope() as s:
        s.execute(
            update(Asset).where(Asset.id == asset_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    asset = load(db, asset_id)
    assert asset.attempts == 2 and asset.published_generation not in (None, first)
    assert not any(first in o.key for o in store.list(f"hls/{asset_id}/")), "half-written outputs left behind"
    with pytest.raises(pipeline.LeaseLost):  # the dead worker, if it came back, could not publish
        pipeline.report_progress(ctx, asset_id, first, 50.0)


def test_an_asset_that_keeps_killing_workers_ends_failed(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, tmp_path: Path
) -> None:
    asset_id = upload(client, producer, make_media(tmp_path / "film.mp4", seconds=1))
    with db.session_scope() as s:
        s.execute(update(Asset).where(Asset.id == asset_id).values(attempts=ctx.settings.max_attempts))
    assert pipeline.process_asset(ctx, asset_id) is None
    asset = load(db, asset_id)
    assert asset.status is AssetStatus.FAILED and "Gave up after 3 attempts" in (asset.error or "")
    assert asset.error_key == "ingest.gave_up"
    assert (
        reason(client, producer, asset_id)
        == "“film.mp4”无法处理：尝试 3 次后放弃：每次处理它的工作进程都中途停止了。"
    )


def test_sweep_re_enqueues_expired_leases_and_lost_enqueues(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, tmp_path: Path
) -> None:
    leased = upload(client, producer, make_media(tmp_path / "a.mp4", seconds=1))
    forgotten = upload(client, producer, make_media(tmp_path / "b.mp4", seconds=1, width=160, height=120))
    fresh = upload(client, producer, make_media(tmp_path / "c.mp4", seconds=1, width=176, height=144))
    assert pipeline.claim(ctx, leased) is not None
    dispatcher = RecordingDispatcher()
    assert pipeline.sweep(ctx, dispatcher) == []  # live lease, recent uploads: nothing to do
    past = utcnow() - timedelta(hours=1)
    with db.session_scope() as s:
        s.execute(update(Asset).where(Asset.id == leased).values(lease_expires_at=past))
        s.execute(update(Asset).where(Asset.id == forgotten).values(updated_at=past))
    assert sorted(pipeline.sweep(ctx, dispatcher)) == sorted([leased, forgotten])
    assert sorted(a for _, (a,) in dispatcher.sent) == sorted([leased, forgotten])
    assert all(task == TRANSCODE for task, _ in dispatcher.sent)
    assert fresh not in {a for _, (a,) in dispatcher.sent}


def test_retry_of_a_failed_asset_is_for_admins(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ctx: pipeline.Context,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    film = make_media(tmp_path / "whole.mp4", seconds=2)
    asset_id = upload(client, producer, make_truncated(film, tmp_path / "cut.mp4"))
    not_failed = client.post(f"/api/v1/assets/{asset_id}/retry", headers=admin)
    assert (not_failed.status_code, not_failed.json()["error"]) == (409, "conflict")  # not failed yet
    pipeline.process_asset(ctx, asset_id)
    assert client.post(f"/api/v1/assets/{asset_id}/retry", headers=producer).status_code == 403
    r = client.post(f"/api/v1/assets/{asset_id}/retry", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "uploaded" and r.json()["attempts"] == 0
    assert dispatcher.sent[-1] == (TRANSCODE, (asset_id,))


@pytest.mark.parametrize(
    ("kind", "what"),
    [("hls", "HLS playlist (M3U8) that refers to other files"), ("ffconcat", "concat list")],
)
def test_a_playlist_posing_as_mp3_never_publishes_the_workers_files(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
    kind: str,
    what: str,
) -> None:
    # A secret on the worker's disk, and "lectures" that are an ID3 tag followed by a playlist naming it.
    secret = make_media(tmp_path / "secret" / "secret.ts", seconds=3, video=False)
    target = secret if kind == "hls" else "secret.ts"  # ffconcat's safe mode follows plain names only
    seen = make_playlist_trap(tmp_path / "讲座.mp3", target, kind=kind)
    with seen.open("rb") as f:
        r = client.post("/api/v1/assets", headers=producer, files={"file": (seen.name, f)})
    # The sniffer sees past a short tag: refused at once, saying what the file is.
    assert r.status_code == 415, r.text
    assert "藏在 MP3 标签后面的" in r.json()["message"] and "讲座.mp3" in r.json()["message"]
    assert list(store.list("")) == []

    # A tag longer than the sniffer's first bytes hides it; the worker's probe refuses it instead.
    hidden = make_playlist_trap(tmp_path / "讲座2.mp3", target, kind=kind, tag_bytes=8000)
    asset_id = upload(client, producer, hidden)
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.FAILED
    asset = load(db, asset_id)
    assert asset.error is not None and what in asset.error and "MP4" in asset.error
    assert asset.renditions == [] and asset.published_generation is None
    # Nothing but the upload itself reached storage.
    assert [o.key for o in store.list("")] == [asset.source_key]
    assert (
        reason(client, {**producer, **EN}, asset_id) == f"'讲座2.mp3' could not be processed: {asset.error}"
    )
