"""Upload through the API: streaming, hashing, dedup, refusals that leave nothing behind, access."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.jobs import TRANSCODE
from mediasrv.kit.errors import StorageUnavailable
from mediasrv.storage import ObjectStore, keys
from tests.fixtures import RecordingDispatcher
from tests.mediafactory import make_media, make_not_media, make_picture
from workers import pipeline


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media") / "党员教育 第1集.mp4", seconds=2)


ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}


def post(client: TestClient, headers: dict[str, str], path: Path, **data: str) -> dict[str, object]:
    with path.open("rb") as f:
        r = client.post("/api/v1/assets", headers=headers, files={"file": (path.name, f)}, data=data)
    return {**r.json(), "http": r.status_code}


def nothing_left(db: Database, store: ObjectStore, settings: Settings) -> None:
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Asset)) == 0
    assert list(store.list("sources/")) == []
    assert not any(settings.spool_dir.iterdir()), "spool files left behind"


def test_upload_stores_source_by_hash_and_enqueues_after_commit(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    db: Database,
    dispatcher: RecordingDispatcher,
    settings: Settings,
) -> None:
    body = post(client, producer, film, title="党员教育 第1集：初心")
    assert body["http"] == 201
    sha = hashlib.sha256(film.read_bytes()).hexdigest()
    assert body["sha256"] == sha
    assert body["filename"] == "党员教育 第1集.mp4"
    assert body["title"] == "党员教育 第1集：初心"
    assert body["status"] == "uploaded" and body["kind"] == "pending" and body["progress"] == 0
    info = store.stat(keys.source(sha))
    assert info is not None and info.size == film.stat().st_size
    assert dispatcher.sent == [(TRANSCODE, (body["id"],))]
    with db.session_scope() as s:
        assert s.get(Asset, body["id"]) is not None  # committed before the task was sent
    assert not any(settings.spool_dir.iterdir())


def test_same_bytes_again_give_the_existing_asset(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    first = post(client, producer, film)
    copy = tmp_path / "renamed copy.mp4"
    copy.write_bytes(film.read_bytes())
    again = post(client, producer, copy)
    assert (first["http"], again["http"]) == (201, 200)
    assert again["id"] == first["id"]
    assert len(list(store.list("sources/"))) == 1
    assert len(dispatcher.sent) == 1


def test_title_defaults_to_file_name(client: TestClient, producer: dict[str, str], film: Path) -> None:
    assert post(client, producer, film)["title"] == "党员教育 第1集"


def test_empty_file_is_refused_and_nothing_kept(
    client: TestClient,
    producer: dict[str, str],
    tmp_path: Path,
    db: Database,
    store: ObjectStore,
    settings: Settings,
) -> None:
    """Issue 17: an empty upload read `'empty.mp4' is empty (0 bytes)` whatever the caller's language."""
    empty = tmp_path / "空.mp4"
    empty.write_bytes(b"")
    body = post(client, {**producer, **ZH}, empty)
    assert (body["http"], body["error"], body["code"]) == (400, "empty_upload", "ingest.empty")
    assert body["message"] == "“空.mp4”是空文件（0 字节）。请检查导出是否完成，然后重新上传。"
    assert post(client, producer, empty)["message"] == body["message"]  # Chinese unless asked otherwise
    body = post(client, {**producer, **EN}, empty)
    assert body["message"] == "'空.mp4' is empty (0 bytes): check the export and upload it again."
    nothing_left(db, store, settings)


def test_a_renamed_text_file_is_refused_in_the_caller_s_language(
    client: TestClient,
    producer: dict[str, str],
    tmp_path: Path,
    db: Database,
    store: ObjectStore,
    settings: Settings,
) -> None:
    """Issue 17: a text document renamed to .mp4 is refused naming the file, what it is and what to upload."""
    notes = make_not_media(tmp_path / "会议记录.mp4")
    body = post(client, {**producer, **ZH}, notes)
    assert (body["http"], body["code"]) == (415, "ingest.not_media")
    assert body["params"] == {"filename": "会议记录.mp4", "looks_like": "ingest.looks.text"}
    assert body["message"] == (
        "“会议记录.mp4”不是影片、音频或 PDF（看起来是纯文本）。请上传影片（MP4、MOV、MKV、MPEG-TS、AVI 等）、"
        "音频讲座（MP3、M4A、WAV 等）或 PDF 讲义。"
    )
    body = post(client, {**producer, **EN}, notes)
    assert str(body["message"]).startswith(
        "'会议记录.mp4' is not a film, an audio recording or a PDF (it looks like plain text). Upload a film"
    )
    nothing_left(db, store, settings)


@pytest.mark.parametrize(
    ("maker", "name", "looks_like"),
    [(make_not_media, "notes.mp4", "纯文本"), (make_picture, "photo.png", "PNG 图片")],
)
def test_non_media_is_refused_with_what_it_looks_like(
    client: TestClient,
    producer: dict[str, str],
    tmp_path: Path,
    db: Database,
    store: ObjectStore,
    settings: Settings,
    maker: object,
    name: str,
    looks_like: str,
) -> None:
    path = maker(tmp_path / name)  # type: ignore[operator]
    body = post(client, producer, path)
    assert body["http"] == 415
    assert name in str(body["message"]) and looks_like in str(body["message"])
    assert "PDF" in str(body["message"])  # says what would be accepted
    nothing_left(db, store, settings)


def test_over_the_size_limit_is_refused_while_streaming(
    tmp_path: Path,
    film: Path,
    dispatcher: RecordingDispatcher,
) -> None:
    from mediasrv.accounts.auth import Role
    from mediasrv.app import create_app
    from tests.fixtures import make_token, migrated

    settings = Settings(data_dir=migrated(tmp_path / "var"), max_upload_bytes=1000)
    with TestClient(create_app(settings, dispatcher=dispatcher)) as client:
        db: Database = client.app.state.db  # type: ignore[attr-defined]
        headers = make_token(db, Role.PRODUCER)
        body = post(client, headers, film)
        assert body["http"] == 413
        assert "上限" in str(body["message"]) and "1000 B" in str(body["message"])
        # A client that lies about (or omits) the length is stopped by the streaming count.
        with film.open("rb") as f:
            content = f.read()
        r = client.post(
            "/api/v1/assets", headers={**headers, "Content-Length": "10"}, files={"file": ("x.mp4", content)}
        )
        assert r.status_code in (400, 413)
        nothing_left(db, client.app.state.store, settings)  # type: ignore[attr-defined]
    assert dispatcher.sent == []


def test_malformed_requests_get_clear_errors(client: TestClient, producer: dict[str, str]) -> None:
    r = client.post("/api/v1/assets", headers=producer, data={"title": "no file"})
    assert r.status_code == 400 and r.json()["code"] == "ingest.not_multipart"  # a form without a file part
    assert r.json()["message"] == "请以 multipart/form-data 方式发送，文件放在名为 file 的字段里。"
    r = client.post("/api/v1/assets", headers={**producer, "Content-Type": "application/json"}, content=b"{}")
    assert r.status_code == 400 and r.json()["code"] == "ingest.not_multipart"
    assert "multipart/form-data" in r.json()["message"]


def test_access_to_assets(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    film: Path,
) -> None:
    asset_id = post(client, producer, film)["id"]
    assert client.get(f"/api/v1/assets/{asset_id}").status_code == 401
    assert (
        client.get(f"/api/v1/assets/{asset_id}", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get(f"/api/v1/assets/{asset_id}", headers=site).status_code == 403
    assert client.get(f"/api/v1/assets/{asset_id}", headers=other_producer).status_code == 403
    assert client.get(f"/api/v1/assets/{asset_id}", headers=producer).json()["id"] == asset_id
    assert client.get(f"/api/v1/assets/{asset_id}", headers=admin).status_code == 200
    assert client.get("/api/v1/assets/0123", headers=admin).status_code == 404
    assert client.get("/api/v1/assets", headers=other_producer).json()["total"] == 0
    assert client.get("/api/v1/assets", headers=admin).json()["total"] == 1
    source = client.get(f"/api/v1/assets/{asset_id}/source", headers=producer)
    assert source.status_code == 200 and source.content == film.read_bytes()
    part = client.get(f"/api/v1/assets/{asset_id}/source", headers={**producer, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == film.read_bytes()[:10]


# --- the same bytes from another department ---------------------------------------------------


@pytest.fixture(scope="module")
def small_film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(
        tmp_path_factory.mktemp("small") / "第一部门的片子.mp4", seconds=2, width=160, height=90
    )


def playable(client: TestClient, headers: dict[str, str], asset_id: str) -> dict[str, bytes]:
    """Every playlist, segment and poster of the asset as a player fetches them, by URL below the asset."""
    got: dict[str, bytes] = {}

    def fetch(path: str) -> str:
        r = client.get(f"/hls/{asset_id}/{path}", headers=headers)
        assert r.status_code == 200 and r.content, f"{path}: {r.status_code} {r.text[:200]}"
        got[path] = r.content
        return r.text

    for presentation in ("master", "iptv"):
        for variant in uris(fetch(f"{presentation}.m3u8")):
            folder = variant.rsplit("/", 1)[0]
            for segment in uris(fetch(variant)):
                got[f"{folder}/{segment}"] = client.get(
                    f"/hls/{asset_id}/{folder}/{segment}", headers=headers
                ).content
    fetch("poster.jpg")
    return got


def uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def without_generation(files: dict[str, bytes]) -> dict[str, bytes]:
    """Media files by their path inside a generation (the part two copies of the outputs share)."""
    return {path.split("/", 1)[1]: data for path, data in files.items() if path.count("/") == 2}


def test_another_departments_same_bytes_make_its_own_asset_that_plays_on_its_own(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    small_film: Path,
    ctx: pipeline.Context,
    store: ObjectStore,
    db: Database,
    dispatcher: RecordingDispatcher,
    tmp_path: Path,
) -> None:
    first = post(client, producer, small_film, title="第一部门的标题")
    first_id = str(first["id"])
    assert pipeline.process_asset(ctx, first_id) is AssetStatus.READY
    copy = tmp_path / "合作部门.mp4"
    copy.write_bytes(small_film.read_bytes())
    with copy.open("rb") as f:
        r = client.post("/api/v1/assets", headers=other_producer, files={"file": (copy.name, f)})
    # An asset of its own: nothing in the answer names the first department's.
    assert r.status_code == 201, r.text
    theirs = r.json()
    theirs_id = theirs["id"]
    assert theirs_id != first_id
    for secret in (first_id, "第一部门", small_film.stem):
        assert secret not in r.text
    assert (theirs["filename"], theirs["title"]) == ("合作部门.mp4", "合作部门")
    # Ready at once with copies of the outputs: no second transcode.
    assert theirs["status"] == "ready" and theirs["kind"] == "video"
    ours = client.get(f"/api/v1/assets/{first_id}", headers=producer).json()
    assert (
        theirs["renditions"] == ours["renditions"] and theirs["duration_seconds"] == ours["duration_seconds"]
    )
    assert dispatcher.sent == [(TRANSCODE, (first_id,))]
    assert len(list(store.list("sources/"))) == 1, "one stored copy of the source"
    # Each department sees only its own.
    assert [a["id"] for a in client.get("/api/v1/assets", headers=other_producer).json()["items"]] == [
        theirs_id
    ]
    assert [a["id"] for a in client.get("/api/v1/assets", headers=producer).json()["items"]] == [first_id]
    assert client.get(f"/api/v1/assets/{first_id}", headers=other_producer).status_code in (403, 404)
    assert client.get(f"/api/v1/assets/{theirs_id}", headers=producer).status_code in (403, 404)
    source = client.get(f"/api/v1/assets/{theirs_id}/source", headers=other_producer)
    assert source.content == small_film.read_bytes()
    assert "%E5%90%88%E4%BD%9C%E9%83%A8%E9%97%A8.mp4" in source.headers["content-disposition"]
    # Both play the same media, and nothing the second department plays names the first's asset.
    first_plays = playable(client, producer, first_id)
    second_plays = playable(client, other_producer, theirs_id)
    assert without_generation(second_plays) == without_generation(first_plays)
    assert not any(first_id.encode() in data for data in second_plays.values())
    # Processing the first asset again (which deletes its old generation) and then removing all of
    # its outputs leave the second department's playback exactly as it was.
    with db.session_scope() as s:
        s.get_one(Asset, first_id).status = AssetStatus.UPLOADED
    assert pipeline.process_asset(ctx, first_id) is AssetStatus.READY
    store.delete_prefix(f"hls/{first_id}/")
    assert playable(client, other_producer, theirs_id) == second_plays


def test_another_departments_asset_not_ready_yet_means_a_transcode_of_its_own(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    small_film: Path,
    ctx: pipeline.Context,
    dispatcher: RecordingDispatcher,
) -> None:
    first = str(post(client, producer, small_film)["id"])
    second = post(client, other_producer, small_film)
    assert second["http"] == 201 and second["id"] != first and second["status"] == "uploaded"
    assert dispatcher.sent == [(TRANSCODE, (first,)), (TRANSCODE, (second["id"],))]
    # The same department sending the bytes again gets its own asset back, as before.
    assert post(client, other_producer, small_film)["id"] == second["id"]
    for asset_id in (first, str(second["id"])):
        assert pipeline.process_asset(ctx, asset_id) is AssetStatus.READY
    playable(client, producer, first)
    playable(client, other_producer, str(second["id"]))


def test_copying_the_outputs_failing_falls_back_to_a_transcode_and_leaves_nothing(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    small_film: Path,
    ctx: pipeline.Context,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = str(post(client, producer, small_film)["id"])
    pipeline.process_asset(ctx, first)
    real_copy = store.copy
    calls = []

    def copy_then_fail(source: str, key: str) -> None:
        calls.append(key)
        if len(calls) > 2:
            raise StorageUnavailable("storage.s3_unreachable", url="http://s3.test", detail="mid-copy")
        real_copy(source, key)

    with monkeypatch.context() as m:
        m.setattr(store, "copy", copy_then_fail)
        second = post(client, other_producer, small_film)
    assert second["http"] == 201 and second["status"] == "uploaded" and second["renditions"] == []
    assert len(calls) > 2
    assert list(store.list(f"hls/{second['id']}/")) == [], "the partial copies were removed"
    assert dispatcher.sent[-1] == (TRANSCODE, (second["id"],))
    assert pipeline.process_asset(ctx, str(second["id"])) is AssetStatus.READY
    playable(client, other_producer, str(second["id"]))
