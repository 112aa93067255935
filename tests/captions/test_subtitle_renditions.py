"""Captions as subtitle renditions of the mobile ladder: embedded streams extracted at transcode,
files uploaded later published without re-transcoding, and what players (hls.js's parser's peers:
the m3u8 library, ffprobe, hlscheck) see of them."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import m3u8
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.captions import publish
from mediasrv.captions.models import Caption, CaptionSource
from mediasrv.db import Database, utcnow
from mediasrv.delivery import retention
from mediasrv.delivery.manifest.build import file_list
from mediasrv.ingest.models import Asset, AssetFile, AssetStatus
from mediasrv.jobs import CAPTIONS
from mediasrv.storage import ObjectStore, keys
from mediasrv.storage.local import LocalStore
from tests.fixtures import RecordingDispatcher
from tests.mediafactory import _ffmpeg, hlscheck, make_media
from workers import pipeline

SRT = "1\n00:00:00,500 --> 00:00:02,000\n不忘初心\n\n2\n00:00:07,000 --> 00:00:08,500\n牢记使命\n"


def film_with_mov_text(tmp_path: Path) -> Path:
    plain = make_media(tmp_path / "plain.mp4", seconds=9, width=320, height=180)
    srt = tmp_path / "embedded.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\n扎西德勒\n", encoding="utf-8")
    film = tmp_path / "带字幕.mp4"
    _ffmpeg("-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text",
            "-metadata:s:s:0", "language=tib", str(film))  # fmt: skip
    return film


def upload_and_process(client: TestClient, headers: dict[str, str], ctx: pipeline.Context, path: Path) -> str:
    with path.open("rb") as f:
        r = client.post("/api/v1/assets", headers=headers, files={"file": (path.name, f)})
    assert r.status_code == 201, r.text
    asset_id: str = r.json()["id"]
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    return asset_id


def master_list(session: Session, asset: Asset) -> dict[str, Any]:
    """The mobile master's file list as a site would get it."""
    row = file_list(asset, "master", [(f.path, f.size_bytes, f.sha256) for f in asset.files])
    assert row is not None and row.generation == asset.list_version("master")
    return dict(json.loads(row.body))


def first_pts(store: ObjectStore, key: str, tmp_path: Path) -> int:
    seg = tmp_path / "first.ts"
    store.get_file(key, seg)
    # The film's time 0 is its first picture (the sound's AAC priming starts 21 ms earlier).
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time",
         "-of", "json", str(seg)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return round(float(json.loads(out)["streams"][0]["start_time"]) * 90_000)


def test_embedded_mov_text_becomes_a_subtitle_rendition(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, store: ObjectStore,
    tmp_path: Path,
) -> None:  # fmt: skip
    asset_id = upload_and_process(client, producer, ctx, film_with_mov_text(tmp_path))
    with db.session_scope() as s:
        caption = s.scalars(select(Caption).where(Caption.asset_id == asset_id)).one()
        assert (caption.language, caption.source, caption.label) == ("bo", CaptionSource.EMBEDDED, "藏文")
        assert "扎西德勒" in caption.vtt
        asset = s.get_one(Asset, asset_id)
        generation = asset.published_generation or ""
        mobile_key = publish.mobile_playlist_key(asset)
        assert mobile_key is not None

    text = client.get(f"/hls/{asset_id}/master.m3u8", headers=producer).text
    master = m3u8.loads(text)
    subs = [m for m in master.media if m.type == "SUBTITLES"]
    assert [(m.language, m.name, m.group_id, m.autoselect) for m in subs] == [("bo", "藏文", "subs", "YES")]
    assert master.playlists and all(p.stream_info.subtitles == "subs" for p in master.playlists)
    assert "SUBTITLES" not in client.get(f"/hls/{asset_id}/iptv.m3u8", headers=producer).text

    media = m3u8.loads(client.get(f"/hls/{asset_id}/{subs[0].uri}", headers=producer).text)
    video = m3u8.loads(b"".join(store.read(mobile_key)).decode())
    assert [s.duration for s in media.segments] == [s.duration for s in video.segments]
    first = client.get(
        f"/hls/{asset_id}/{subs[0].uri.rsplit('/', 1)[0]}/{media.segments[0].uri}", headers=producer
    )
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/vtt")
    pts = first_pts(store, mobile_key.rsplit("/", 1)[0] + "/" + video.segments[0].uri, tmp_path)
    assert f"X-TIMESTAMP-MAP=MPEGTS:{pts},LOCAL:00:00:00.000" in first.text and "扎西德勒" in first.text

    # The published presentation, as files: ffprobe plays the subtitle rendition (Debian's ffmpeg 5.1
    # opens it from its media playlist; its HLS reader takes subtitle groups of masters from 6.1 on,
    # and names this one while refusing it); hlscheck passes.
    assert isinstance(store, LocalStore)
    root = store.root / keys.asset_prefix(asset_id)
    (root / "master.m3u8").write_text(text, encoding="utf-8")
    probe = subprocess.run(
        ["ffprobe", "-v", "warning", "-allowed_extensions", "m3u8,vtt", "-show_streams", "-show_format",
         "-of", "json", str(root / subs[0].uri)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(probe.stdout)
    assert [(s["codec_type"], s["codec_name"]) for s in found["streams"]] == [("subtitle", "webvtt")]
    assert float(found["format"]["duration"]) == pytest.approx(sum(s.duration for s in video.segments))
    master_file = str(root / "master.m3u8")
    named = subprocess.run(
        ["ffprobe", "-v", "warning", "-show_streams", master_file], capture_output=True, text=True
    )
    assert subs[0].uri in named.stderr  # the master's SUBTITLES rendition, as ffmpeg 5.1 reports it
    hlscheck(root / "master.m3u8", "--segments", "100")
    with db.session_scope() as s:
        paths = set(s.scalars(select(AssetFile.path).where(AssetFile.asset_id == asset_id)))
    assert any(p.startswith(f"{generation}/{publish.FOLDER_PREFIX}") and p.endswith(".vtt") for p in paths)


def test_a_caption_change_maps_cues_to_the_start_measured_at_transcode(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database, store: ObjectStore,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    asset_id = upload_and_process(client, producer, ctx, make_media(tmp_path / "第2集.mp4", seconds=9))
    r = client.post("/api/v1/programmes", headers=producer,
                    json={"title": "使命", "category": "party-spirit", "asset_id": asset_id})  # fmt: skip
    pid = r.json()["id"]
    with db.session_scope() as s:
        mobile = publish.mobile_rendition(s.get_one(Asset, asset_id))
        assert mobile is not None
        key, recorded = mobile.playlist_key, mobile.start_pts
    video = m3u8.loads(b"".join(store.read(key)).decode())
    exact = first_pts(store, key.rsplit("/", 1)[0] + "/" + video.segments[0].uri, tmp_path)
    assert recorded == exact  # measured by the transcode's own ffprobe of the segment

    def first_cue_segment() -> str:
        master = m3u8.loads(client.get(f"/hls/{asset_id}/master.m3u8", headers=producer).text)
        uri = [m.uri for m in master.media if m.type == "SUBTITLES"][-1]
        media = m3u8.loads(client.get(f"/hls/{asset_id}/{uri}", headers=producer).text)
        return client.get(
            f"/hls/{asset_id}/{uri.rsplit('/', 1)[0]}/{media.segments[0].uri}", headers=producer
        ).text

    probed: list[Path] = []

    def probe(segment: Path, **_: object) -> int:
        probed.append(segment)
        return exact

    monkeypatch.setattr(publish.subtitles, "first_pts", probe)
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("zh.srt", SRT.encode())}, data={"language": "zh-Hans"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is True
    assert probed == []  # no segment fetched and probed
    assert f"X-TIMESTAMP-MAP=MPEGTS:{exact},LOCAL:00:00:00.000" in first_cue_segment()

    # A film transcoded before the start was kept: its first segment is probed, as before.
    with db.session_scope() as s:
        for rendition in s.get_one(Asset, asset_id).renditions:
            rendition.start_pts = None
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("bo.srt", SRT.encode())}, data={"language": "bo"})  # fmt: skip
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is True
    assert len(probed) == 1
    assert f"X-TIMESTAMP-MAP=MPEGTS:{exact},LOCAL:00:00:00.000" in first_cue_segment()


def test_uploaded_captions_are_published_without_re_transcoding(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ctx: pipeline.Context, db: Database,
    store: ObjectStore, dispatcher: RecordingDispatcher, tmp_path: Path,
) -> None:  # fmt: skip
    asset_id = upload_and_process(client, producer, ctx, make_media(tmp_path / "第1集.mp4", seconds=9))
    r = client.post("/api/v1/programmes", headers=producer,
                    json={"title": "初心", "category": "party-spirit", "asset_id": asset_id})  # fmt: skip
    pid = r.json()["id"]
    with db.session_scope() as s:
        before = s.get_one(Asset, asset_id)
        generation, renditions = before.published_generation, [r.playlist_key for r in before.renditions]

    def attach(
        language: str, name: str = "第1集.srt", body: bytes = SRT.encode("gb18030")
    ) -> dict[str, object]:
        r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                        files={"file": (name, body)}, data={"language": language})  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json())

    assert attach("zh-Hans")["label"] == "简体中文"
    assert attach("ug")["cue_count"] == 2
    assert [args for task, args in dispatcher.sent if task == CAPTIONS] == [(asset_id,), (asset_id,)]
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is True
    # The second job for the same change finds it published: it leaves the files players are reading.
    with db.session_scope() as s:
        shown = list(s.get_one(Asset, asset_id).subtitles or [])
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is None
    with db.session_scope() as s:
        assert s.get_one(Asset, asset_id).subtitles == shown
    for track in shown:
        assert list(store.list(keys.asset_prefix(asset_id) + track["playlist"].rsplit("/", 1)[0] + "/"))

    master = m3u8.loads(client.get(f"/hls/{asset_id}/master.m3u8", headers=producer).text)
    subs = {m.language: m for m in master.media if m.type == "SUBTITLES"}
    assert set(subs) == {"zh-Hans", "ug"}
    assert (subs["zh-Hans"].default, subs["ug"].default) == ("YES", "NO")  # the programme's language
    assert (subs["zh-Hans"].name, subs["ug"].name) == ("简体中文", "维吾尔文")
    with db.session_scope() as s:
        after = s.get_one(Asset, asset_id)
        assert after.published_generation == generation  # not transcoded again
        assert [r.playlist_key for r in after.renditions] == renditions
        old_folders = {t["playlist"].rsplit("/", 1)[0] for t in after.subtitles or []}
        captioned = master_list(s, after)
        uyghur = file_list(after, "master-ug", [(f.path, f.size_bytes, f.sha256) for f in after.files])
    # Sites' file lists of the mobile master name the Chinese subtitle files, each other language's
    # its own list (for the sites that chose it); set-top boxes' name none.
    assert uyghur is not None and uyghur.generation == after.list_version("master-ug")
    vtt_folders = [
        {f["path"].rsplit("/", 1)[0] for f in listed["files"] if f["path"].endswith(".vtt")}
        for listed in (captioned, json.loads(uyghur.body))
    ]
    assert vtt_folders[0] | vtt_folders[1] == old_folders
    assert [{folder.rpartition("_")[2] for folder in f} for f in vtt_folders] == [{"zh-Hans"}, {"ug"}]

    # Removing one language republishes the rest. A phone mid-film on the old master still gets the
    # old set's later segments; the retention sweep deletes them after the grace, never the current set.
    old_segments = [
        f"{folder}/{seg.uri}"
        for folder in old_folders
        for seg in m3u8.loads(
            client.get(f"/hls/{asset_id}/{folder}/index.m3u8", headers=producer).text
        ).segments
    ]
    assert client.delete(f"/api/v1/programmes/{pid}/captions/ug", headers=producer).status_code == 204
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is True
    text = client.get(f"/hls/{asset_id}/master.m3u8", headers=producer).text
    assert [m.language for m in m3u8.loads(text).media] == ["zh-Hans"]
    assert old_segments and all(
        client.get(f"/hls/{asset_id}/{path}", headers=producer).status_code == 200 for path in old_segments
    )
    grace = ctx.settings.retired_grace_seconds
    assert retention.collect_retired(db, store, grace_seconds=grace) == 0
    later = utcnow() + timedelta(seconds=grace + 1)
    assert retention.collect_retired(db, store, grace_seconds=grace, now=later) == len(old_folders)
    for folder in old_folders:
        assert not list(store.list(keys.asset_prefix(asset_id) + folder + "/"))
    assert client.get(f"/hls/{asset_id}/{old_segments[-1]}", headers=producer).status_code == 404
    current = m3u8.loads(text).media[0].uri
    assert client.get(f"/hls/{asset_id}/{current}", headers=producer).status_code == 200
    with db.session_scope() as s:
        assert all(store.stat(keys.asset_prefix(asset_id) + f.path) for f in s.get_one(Asset, asset_id).files)
    with db.session_scope() as s:
        after = s.get_one(Asset, asset_id)
        fewer = master_list(s, after)
        iptv = file_list(after, "iptv", [(f.path, f.size_bytes, f.sha256) for f in after.files])
        assert iptv is not None and b".vtt" not in iptv.body
    assert fewer["generation"] == captioned["generation"] == generation
    vtt = {f["path"].rsplit("/", 1)[0] for f in fewer["files"] if f["path"].endswith(".vtt")}
    assert len(vtt) == 1 and not vtt & old_folders
    listed = client.get(f"/api/v1/programmes/{pid}/captions", headers=producer).json()
    assert [(c["language"], c["source"], c["filename"]) for c in listed] == [
        ("zh-Hans", "upload", "第1集.srt")
    ]

    # Refusals name the file and the line, in Chinese.
    bad = SRT.replace("00:00:07,000 --> 00:00:08,500", "00:00:07,000 --> 00:00:06,500").encode()
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("坏.srt", bad)}, data={"language": "bo"})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["message"] == "字幕文件 坏.srt 第 6 行：结束时间早于开始时间，请检查时间轴后重新上传。"
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("a.srt", SRT.encode())}, data={"language": "xx"})  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "media.captions.bad_language"
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("长.srt", SRT.replace("00:00:08,500", "00:01:08,500").encode())},
                    data={"language": "bo"})  # fmt: skip
    assert r.status_code == 422 and "超出了影片的长度" in r.json()["message"]
