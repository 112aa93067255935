"""The worker with language tracks: the upload's extra stream and a producer's dub become renditions,
delivery lists them; changed captions re-make only the set-top box renditions, atomically."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import m3u8
import pytest
from fastapi.testclient import TestClient

from mediasrv.db import Database, utcnow
from mediasrv.delivery import retention, service
from mediasrv.ingest.models import Asset, AssetStatus, LanguageTrack
from mediasrv.jobs import REMAKE, REMAKE_ALL
from mediasrv.media.plan import BurnIn
from mediasrv.storage import ObjectStore
from tests.fixtures import RecordingDispatcher
from tests.ingest.test_pipeline import load, upload
from tests.mediafactory import make_dub, make_dubbed, make_media
from workers import pipeline, reburn


def attach(db: Database, store: ObjectStore, asset_id: str, path: Path, language: str) -> None:
    key = f"audio-tracks/{asset_id}/{language}"
    store.put_file(key, path)
    data = path.read_bytes()
    with db.session_scope() as s:
        s.add(
            LanguageTrack(
                asset_id=asset_id,
                language=language,
                source_key=key,
                filename=path.name,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )


def swept(ctx: pipeline.Context, *, grace: bool = True) -> int:
    """The retention sweep, run once the grace is over (or now, grace=False)."""
    seconds = ctx.settings.retired_grace_seconds
    now = utcnow() + timedelta(seconds=seconds + 1 if grace else 0)
    return retention.collect_retired(ctx.db, ctx.store, grace_seconds=seconds, now=now)


def files(db: Database, asset_id: str) -> dict[str, str]:
    """Published files by path within the generation -> SHA-256."""
    with db.session_scope() as s:
        return {f.path.split("/", 1)[1]: f.sha256 for f in s.get_one(Asset, asset_id).files}


@pytest.fixture
def dubbed_asset(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
) -> str:
    asset_id = upload(
        client, producer, make_dubbed(tmp_path / "film.mp4", seconds=4, languages=("chi", "tib"))
    )
    attach(db, store, asset_id, make_dub(tmp_path / "dub.m4a", seconds=3.5), "ug")
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    return asset_id


def test_language_tracks_are_published_and_listed(db: Database, dubbed_asset: str) -> None:
    asset = load(db, dubbed_asset)
    languages = {r.name: r.language for r in asset.renditions}
    assert {
        k: languages[k] for k in ("iptv", "iptv-bo", "iptv-sd-ug", "mobile-audio", "mobile-audio-ug")
    } == {
        "iptv": "zh",
        "iptv-bo": "bo",
        "iptv-sd-ug": "ug",
        "mobile-audio": "zh",
        "mobile-audio-ug": "ug",
    }
    with db.session_scope() as s:
        master = m3u8.loads(service.master_playlist(s, dubbed_asset, "master"))
        boxes = m3u8.loads(service.master_playlist(s, dubbed_asset, "iptv-sd-bo"))
        plain = m3u8.loads(service.master_playlist(s, dubbed_asset, "iptv"))
    assert [(m.language, m.default) for m in master.media] == [("zh", "YES"), ("bo", "NO"), ("ug", "NO")]
    assert all(p.stream_info.audio == "aud" for p in master.playlists)
    assert [p.uri.split("/")[-2] for p in boxes.playlists] == ["iptv-sd-bo"] and not boxes.media
    assert [p.uri.split("/")[-2] for p in plain.playlists] == ["iptv"]
    # The manifest of the mobile presentation carries the language renditions' files too.
    with db.session_scope() as s:
        asset = s.get_one(Asset, dubbed_asset)
        listed = {r.name for r in service.presentation_renditions(asset, "master")}
    assert {"mobile-audio", "mobile-audio-bo", "mobile-audio-ug"} <= listed


def test_changed_captions_remake_only_the_iptv_renditions(
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    dubbed_asset: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, old = files(db, dubbed_asset), load(db, dubbed_asset).published_generation
    captions = tmp_path / "zh.vtt"
    captions.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n今天开会\n", encoding="utf-8")
    monkeypatch.setattr(pipeline, "captions_to_burn", lambda *_: BurnIn(captions, "zh"))

    assert reburn.reburn_iptv(ctx, dubbed_asset) is True
    asset, after = load(db, dubbed_asset), files(db, dubbed_asset)
    assert asset.status is AssetStatus.READY and asset.published_generation != old
    assert set(after) == set(before)
    changed = {path.split("/")[0] for path in after if after[path] != before[path]}
    assert changed == {"iptv", "iptv-sd", "iptv-bo", "iptv-ug", "iptv-sd-bo", "iptv-sd-ug"}
    # Every row points at the new generation; the old one stays for the players reading it, until the
    # retention sweep after the grace.
    gen = asset.published_generation or ""
    stored = {o.key for o in store.list(f"hls/{dubbed_asset}/")}
    assert stored == {
        f"hls/{dubbed_asset}/{g}/{path}" for g, listed in ((gen, after), (old, before)) for path in listed
    }
    assert swept(ctx) == 1
    stored = {o.key for o in store.list(f"hls/{dubbed_asset}/")}
    assert stored == {f"hls/{dubbed_asset}/{gen}/{path}" for path in after}
    assert all(f"/{gen}/" in r.playlist_key for r in asset.renditions)
    assert asset.poster_key == f"hls/{dubbed_asset}/{gen}/poster.jpg"
    assert len(asset.renditions) == len(load(db, dubbed_asset).renditions)


def test_a_reburn_overtaken_by_a_new_transcode_publishes_nothing(
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    dubbed_asset: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = load(db, dubbed_asset).published_generation

    def overtaken(*_: object) -> None:
        with db.session_scope() as s:  # a new upload of the film starts transcoding meanwhile
            s.get_one(Asset, dubbed_asset).status = AssetStatus.PROCESSING

    monkeypatch.setattr(pipeline, "captions_to_burn", overtaken)
    assert reburn.reburn_iptv(ctx, dubbed_asset) is False
    assert load(db, dubbed_asset).published_generation == before
    assert {o.key.split("/")[2] for o in store.list(f"hls/{dubbed_asset}/")} == {before}


def test_a_new_language_remakes_every_rendition_while_the_film_stays_ready(
    ctx: pipeline.Context, db: Database, store: ObjectStore, dubbed_asset: str, tmp_path: Path
) -> None:
    before = load(db, dubbed_asset)
    attach(db, store, dubbed_asset, make_dub(tmp_path / "kk.m4a", seconds=4), "kk")
    assert reburn.remake(ctx, dubbed_asset, iptv_only=False) is True
    asset = load(db, dubbed_asset)
    gen = asset.published_generation or ""
    assert asset.status is AssetStatus.READY and gen != before.published_generation
    names = {r.name for r in asset.renditions}
    assert {"iptv-kk", "iptv-sd-kk", "mobile-audio-kk", "iptv-ug", "mobile-240p"} <= names
    assert len(names) == len(before.renditions) + 3
    assert asset.poster_key == f"hls/{dubbed_asset}/{gen}/poster.jpg"
    assert {o.key.split("/")[2] for o in store.list(f"hls/{dubbed_asset}/")} == {
        gen,
        before.published_generation,
    }
    assert swept(ctx) == 1
    stored = {o.key for o in store.list(f"hls/{dubbed_asset}/")}
    assert stored == {f"hls/{dubbed_asset}/{gen}/{path}" for path in files(db, dubbed_asset)}


def put_track(client: TestClient, headers: dict[str, str], asset_id: str, language: str, path: Path) -> Any:
    with path.open("rb") as f:
        return client.put(
            f"/api/v1/assets/{asset_id}/audio-tracks/{language}?lang=zh",
            headers=headers,
            files={"file": (path.name, f)},
        )


def test_producers_attach_and_remove_tracks_through_the_api(
    client: TestClient,
    producer: dict[str, str],
    dispatcher: RecordingDispatcher,
    dubbed_asset: str,
    tmp_path: Path,
) -> None:
    dub = make_dub(tmp_path / "粤语配音.m4a", seconds=4)
    r = put_track(client, producer, dubbed_asset, "ZH-yue", dub)
    assert r.status_code == 200, r.text
    assert r.json() | {"sha256": ""} == {
        "language": "zh-yue",
        "name": "粤语",
        "filename": "粤语配音.m4a",
        "size_bytes": dub.stat().st_size,
        "sha256": "",
    }
    assert dispatcher.sent[-1] == (REMAKE, (dubbed_asset, REMAKE_ALL))
    listed = client.get(f"/api/v1/assets/{dubbed_asset}/audio-tracks", headers=producer).json()
    assert [t["language"] for t in listed] == ["ug", "zh-yue"]

    r = client.delete(f"/api/v1/assets/{dubbed_asset}/audio-tracks/zh-yue", headers=producer)
    assert r.status_code == 204 and dispatcher.sent[-1] == (REMAKE, (dubbed_asset, REMAKE_ALL))
    r = client.delete(f"/api/v1/assets/{dubbed_asset}/audio-tracks/zh-yue?lang=zh", headers=producer)
    assert r.status_code == 404 and "粤语" in r.json()["message"]


def test_replaced_and_removed_dub_files_are_collected_after_the_grace(
    client: TestClient,
    producer: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    dubbed_asset: str,
    tmp_path: Path,
) -> None:
    def sources() -> set[str]:
        return {o.key for o in store.list(f"audio-tracks/{dubbed_asset}/")}

    uyghur = f"audio-tracks/{dubbed_asset}/ug"
    first, second = make_dub(tmp_path / "粤语.m4a", seconds=4), make_dub(tmp_path / "粤语2.m4a", seconds=3)
    assert put_track(client, producer, dubbed_asset, "zh-yue", first).status_code == 200
    (kept_first,) = sources() - {uyghur}
    assert put_track(client, producer, dubbed_asset, "zh-yue", second).status_code == 200
    (replacing,) = sources() - {uyghur, kept_first}
    # Within the grace the replaced file stays (a remake may be reading it), the current one always.
    assert swept(ctx, grace=False) == 0 and {kept_first, replacing} <= sources()
    # While a transcode is under way, it may have read the tracks before they changed.
    with db.session_scope() as s:
        s.get_one(Asset, dubbed_asset).status = AssetStatus.PROCESSING
    assert swept(ctx) == 0 and kept_first in sources()
    with db.session_scope() as s:
        s.get_one(Asset, dubbed_asset).status = AssetStatus.READY
    assert swept(ctx) == 1 and sources() == {replacing, uyghur}
    # Removed: its file goes too; the other language's stays.
    assert (
        client.delete(f"/api/v1/assets/{dubbed_asset}/audio-tracks/zh-yue", headers=producer).status_code
        == 204
    )
    assert swept(ctx) == 1 and sources() == {uyghur}


def test_tracks_are_refused_in_chinese_when_wrong(
    client: TestClient, producer: dict[str, str], dubbed_asset: str, tmp_path: Path
) -> None:
    dub = make_dub(tmp_path / "dub.m4a", seconds=2)
    r = put_track(client, producer, dubbed_asset, "klingon", dub)
    assert r.status_code == 422 and "无法识别" in r.json()["message"] and "藏语" in r.json()["message"]
    text = tmp_path / "notes.txt"
    text.write_text("这不是录音\n" * 50, encoding="utf-8")
    r = put_track(client, producer, dubbed_asset, "bo", text)
    assert r.status_code == 422 and "无法作为视频或音频读取" in r.json()["message"]
    silent = make_media(tmp_path / "silent.mp4", seconds=1, audio_channels=0)
    r = put_track(client, producer, dubbed_asset, "bo", silent)
    assert r.status_code == 422 and "没有音频" in r.json()["message"]
    lecture = upload(client, producer, make_media(tmp_path / "lecture.m4a", seconds=2))
    r = put_track(client, producer, lecture, "bo", dub)
    assert r.status_code in (400, 409), r.text  # not a film (or not probed yet)


def test_removing_a_track_of_an_audio_recording_is_refused_as_a_removal(
    client: TestClient, producer: dict[str, str], ready_asset: Any
) -> None:
    lecture = ready_asset(producer)  # a ready audio recording: no film, so no tracks
    r = client.delete(f"/api/v1/assets/{lecture}/audio-tracks/bo?lang=zh", headers=producer)
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert "删除" in message and "添加" not in message, message
