"""Resumable uploads (tus 1.0): chunks, offsets, who may continue, limits, and the same keeping as POST."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from mediasrv.config import Settings
from mediasrv.errors import StorageUnavailable
from mediasrv.ingest import pipeline, tus
from mediasrv.ingest.models import AssetStatus
from mediasrv.jobs import TRANSCODE
from mediasrv.storage import ObjectStore, source_key
from tests.fixtures import RecordingDispatcher
from tests.mediafactory import make_media, make_not_media

TUS = {"Tus-Resumable": "1.0.0"}
BYTES = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media") / "党员教育 第2集.mp4", seconds=2)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(
    client: TestClient, headers: dict[str, str], path: Path, size: int | None = None, **meta: str
) -> str:
    metadata = ",".join(f"{k} {b64(v)}" for k, v in {"filename": path.name, **meta}.items())
    length = path.stat().st_size if size is None else size
    r = client.post(
        "/api/v1/uploads",
        headers={**headers, **TUS, "Upload-Length": str(length), "Upload-Metadata": metadata},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Upload-Offset"] == "0"
    location: str = r.headers["Location"]
    assert location.startswith("/api/v1/uploads/")
    return location


def patch(client: TestClient, headers: dict[str, str], url: str, offset: int, data: bytes) -> httpx2.Response:
    return client.patch(url, headers={**headers, **BYTES, "Upload-Offset": str(offset)}, content=data)


def send_all(
    client: TestClient, headers: dict[str, str], url: str, data: bytes, chunk: int = 64 * 1024
) -> str:
    """Send every byte in chunks; the asset id of the last answer."""
    for start in range(0, len(data), chunk):
        r = client.patch(
            url,
            headers={**headers, **BYTES, "Upload-Offset": str(start)},
            content=data[start : start + chunk],
        )
        assert r.status_code == 204, r.text
        assert r.headers["Upload-Offset"] == str(min(start + chunk, len(data)))
    asset_id: str = r.headers["Upload-Asset-Id"]
    return asset_id


def test_options_tell_the_version_extensions_and_limit(
    client: TestClient, producer: dict[str, str], settings: Settings
) -> None:
    r = client.options("/api/v1/uploads", headers=producer)
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "termination"}
    assert r.headers["Tus-Max-Size"] == str(settings.max_upload_bytes)


def test_upload_in_chunks_makes_the_asset_and_enqueues_the_transcode(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    settings: Settings,
) -> None:
    url = create(client, producer, film, title="党员教育 第2集：担当")
    data = film.read_bytes()
    assert len(data) > 3 * 64 * 1024, "the film should take several chunks"
    asset_id = send_all(client, producer, url, data)
    asset = client.get(f"/api/v1/assets/{asset_id}", headers=producer).json()
    sha = hashlib.sha256(data).hexdigest()
    assert (asset["sha256"], asset["filename"], asset["title"]) == (sha, film.name, "党员教育 第2集：担当")
    assert asset["status"] == "uploaded"
    info = store.stat(source_key(sha))
    assert info is not None and info.size == len(data)
    assert dispatcher.sent == [(TRANSCODE, (asset_id,))]
    assert not list(settings.spool_dir.glob("*.part")), "the partial file is kept once stored"
    assert not list(settings.spool_dir.glob("upload-*"))
    # A client that lost the last answer asks again and learns the asset, without sending anything.
    head = client.head(url, headers={**producer, **TUS})
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, str(len(data)))
    assert head.headers["Upload-Asset-Id"] == asset_id
    again = patch(client, producer, url, len(data), b"")
    assert again.status_code == 204 and again.headers["Upload-Asset-Id"] == asset_id
    assert len(dispatcher.sent) == 1


def test_head_after_a_partial_patch_gives_the_offset_and_a_wrong_offset_is_refused(
    client: TestClient, producer: dict[str, str], film: Path
) -> None:
    url = create(client, producer, film)
    data = film.read_bytes()
    assert patch(client, producer, url, 0, data[:1000]).status_code == 204
    head = client.head(url, headers={**producer, **TUS})
    assert head.status_code == 200
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("1000", str(len(data)))
    assert head.headers["Cache-Control"] == "no-store"
    stale = client.patch(url, headers={**producer, **BYTES, "Upload-Offset": "0"}, content=data[:1000])
    assert stale.status_code == 409
    assert "1000" in stale.json()["message"]
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "1000"  # unchanged
    wrong_type = client.patch(
        url,
        headers={**producer, **TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "1000"},
        content=data[1000:2000],
    )
    assert wrong_type.status_code == 415
    assert "application/offset+octet-stream" in wrong_type.json()["message"]
    assert send_rest(client, producer, url, data, 1000)


def send_rest(client: TestClient, headers: dict[str, str], url: str, data: bytes, offset: int) -> str:
    r = client.patch(url, headers={**headers, **BYTES, "Upload-Offset": str(offset)}, content=data[offset:])
    assert r.status_code == 204, r.text
    asset_id: str = r.headers["Upload-Asset-Id"]
    return asset_id


def test_only_the_creator_or_an_admin_may_continue(
    client: TestClient,
    producer: dict[str, str],
    colleague: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    film: Path,
) -> None:
    url = create(client, producer, film)
    data = film.read_bytes()
    assert patch(client, producer, url, 0, data[:500]).status_code == 204
    for stranger in (other_producer, colleague):
        assert client.head(url, headers={**stranger, **TUS}).status_code == 404
        r = patch(client, stranger, url, 500, data[500:])
        assert r.status_code == 404
        assert client.delete(url, headers={**stranger, **TUS}).status_code == 404
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "500"
    assert send_rest(client, admin, url, data, 500)


def test_too_large_is_refused_before_any_byte_and_past_the_end_too(
    client: TestClient, producer: dict[str, str], film: Path, settings: Settings
) -> None:
    r = client.post(
        "/api/v1/uploads",
        headers={**producer, **TUS, "Upload-Length": str(settings.max_upload_bytes + 1)},
    )
    assert r.status_code == 413
    assert "limit" in r.json()["message"]
    url = create(client, producer, film, size=100)
    over = patch(client, producer, url, 0, b"\0" * 101)
    assert over.status_code == 413
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "0"


def test_not_media_is_refused_with_its_name_and_nothing_is_left(
    client: TestClient, producer: dict[str, str], tmp_path: Path, settings: Settings, store: ObjectStore
) -> None:
    notes = make_not_media(tmp_path / "会议记录.mp4")
    url = create(client, producer, notes)
    r = patch(client, producer, url, 0, notes.read_bytes())
    assert r.status_code == 415
    assert "'会议记录.mp4' is not a film" in r.json()["message"]
    assert client.head(url, headers={**producer, **TUS}).status_code == 404
    assert not any(settings.spool_dir.iterdir())
    assert list(store.list("sources/")) == []


def test_the_same_bytes_give_the_existing_asset(
    client: TestClient, producer: dict[str, str], film: Path, dispatcher: RecordingDispatcher
) -> None:
    with film.open("rb") as f:
        posted = client.post("/api/v1/assets", headers=producer, files={"file": (film.name, f)}).json()
    url = create(client, producer, film)
    assert send_rest(client, producer, url, film.read_bytes(), 0) == posted["id"]
    assert len(dispatcher.sent) == 1


def test_another_departments_same_bytes_give_an_asset_of_its_own(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    film: Path,
    ctx: pipeline.Context,
    dispatcher: RecordingDispatcher,
) -> None:
    url = create(client, producer, film, title="第一部门的标题")
    first = send_rest(client, producer, url, film.read_bytes(), 0)
    assert pipeline.process_asset(ctx, first) is AssetStatus.READY
    theirs_url = create(client, other_producer, film, filename="合作部门.mp4")
    last = patch(client, other_producer, theirs_url, 0, film.read_bytes())
    assert last.status_code == 204
    theirs = last.headers["Upload-Asset-Id"]
    assert theirs != first and first not in str(last.headers) and first not in last.text
    head = client.head(theirs_url, headers={**other_producer, **TUS})
    assert head.headers["Upload-Asset-Id"] == theirs
    asset = client.get(f"/api/v1/assets/{theirs}", headers=other_producer).json()
    assert (asset["filename"], asset["title"], asset["status"]) == ("合作部门.mp4", "合作部门", "ready")
    assert first not in str(asset)
    assert dispatcher.sent == [(TRANSCODE, (first,))], "the outputs were copied, not transcoded again"
    for headers, asset_id in ((producer, first), (other_producer, theirs)):
        master = client.get(f"/hls/{asset_id}/master.m3u8", headers=headers)
        assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text
    assert client.get(f"/api/v1/assets/{first}", headers=other_producer).status_code in (403, 404)


def test_version_is_required_and_cancel_removes_the_bytes(
    client: TestClient, producer: dict[str, str], film: Path, settings: Settings
) -> None:
    r = client.post("/api/v1/uploads", headers={**producer, "Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    url = create(client, producer, film)
    assert patch(client, producer, url, 0, b"x" * 10).status_code == 204
    assert client.delete(url, headers={**producer, **TUS}).status_code == 204
    assert client.head(url, headers={**producer, **TUS}).status_code == 404
    assert not any(settings.spool_dir.iterdir())


def test_abandoned_uploads_are_swept_after_a_day(
    client: TestClient, producer: dict[str, str], film: Path, settings: Settings
) -> None:
    old = create(client, producer, film)
    day_ago = time.time() - tus.ABANDONED_SECONDS - 60
    for path in settings.spool_dir.glob("tus-*"):
        os.utime(path, (day_ago, day_ago))
    fresh = create(client, producer, film)  # creating sweeps
    assert client.head(old, headers={**producer, **TUS}).status_code == 404
    assert client.head(fresh, headers={**producer, **TUS}).status_code == 200


def test_storage_down_at_the_end_keeps_the_bytes_and_an_empty_patch_finishes(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*_args: object, **_kwargs: object) -> None:
        raise StorageUnavailable("object storage is down")

    url = create(client, producer, film)
    data = film.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(store, "put_file", down)
        r = patch(client, producer, url, 0, data)
        assert r.status_code == 503 and r.headers["Retry-After"]
    head = client.head(url, headers={**producer, **TUS})
    assert head.headers["Upload-Offset"] == str(len(data)) and "Upload-Asset-Id" not in head.headers
    assert dispatcher.sent == []
    finished = patch(client, producer, url, len(data), b"")  # what the page does after its backoff
    assert finished.status_code == 204, finished.text
    assert dispatcher.sent == [(TRANSCODE, (finished.headers["Upload-Asset-Id"],))]
