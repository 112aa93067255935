"""Resumable uploads (tus 1.0): chunks, offsets, who may continue, limits, and the same keeping as POST."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import httpx2
import pytest
import requests
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from tusclient.client import TusClient
from tusclient.exceptions import TusUploadFailed
from tusclient.request import TusRequest
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader import Uploader

from mediasrv.accounts.auth import Role
from mediasrv.config import Settings
from mediasrv.db import utcnow
from mediasrv.ingest import tus
from mediasrv.ingest.models import AssetStatus, ResumableUpload
from mediasrv.jobs import TRANSCODE
from mediasrv.kit.errors import StorageUnavailable
from mediasrv.storage import ObjectStore, keys
from tests.fixtures import RecordingDispatcher, make_token
from tests.mediafactory import make_media, make_not_media
from tests.servers import free_port
from workers import pipeline

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
    info = store.stat(keys.source(sha))
    assert info is not None and info.size == len(data)
    assert dispatcher.sent == [(TRANSCODE, (asset_id,))]
    assert list(store.list("uploads/")) == [], "the received file is not kept once stored"
    assert not settings.spool_dir.exists() or not any(settings.spool_dir.iterdir())
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
    assert stale.json()["code"] == "ingest.tus_offset_mismatch"
    assert stale.json()["message"] == (
        "服务器已收到这次上传的 1000 字节，而不是 0 字节：请用 HEAD 询问，再从 Upload-Offset 处继续。"
    )
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "1000"  # unchanged
    wrong_type = client.patch(
        url,
        headers={**producer, **TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "1000"},
        content=data[1000:2000],
    )
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (415, "wrong_content_type")
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
    assert r.status_code == 413 and r.json()["code"] == "ingest.too_large"
    assert "上限" in r.json()["message"] and "请把影片分段" in r.json()["message"]
    url = create(client, producer, film, size=100)
    over = patch(client, producer, url, 0, b"\0" * 101)
    assert over.status_code == 413 and over.json()["code"] == "ingest.tus_past_the_end"
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "0"


def test_not_media_is_refused_with_its_name_and_nothing_is_left(
    client: TestClient, producer: dict[str, str], tmp_path: Path, settings: Settings, store: ObjectStore
) -> None:
    notes = make_not_media(tmp_path / "会议记录.mp4")
    url = create(client, producer, notes)
    r = patch(client, producer, url, 0, notes.read_bytes())
    assert r.status_code == 415
    assert r.json()["message"].startswith("“会议记录.mp4”不是影片、音频或 PDF（看起来是纯文本）")
    assert client.head(url, headers={**producer, **TUS}).status_code == 404
    assert list(store.list("uploads/")) == []
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
    client: TestClient, producer: dict[str, str], film: Path, store: ObjectStore
) -> None:
    r = client.post("/api/v1/uploads", headers={**producer, "Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    url = create(client, producer, film)
    assert patch(client, producer, url, 0, b"x" * 10).status_code == 204
    assert [i.key for i in store.list("uploads/")] == [f"uploads/{url.rsplit('/', 1)[1]}/piece-{0:015d}"]
    assert client.delete(url, headers={**producer, **TUS}).status_code == 204
    assert client.head(url, headers={**producer, **TUS}).status_code == 404
    assert list(store.list("uploads/")) == []


def test_abandoned_uploads_are_swept_after_a_day(
    client: TestClient, app: FastAPI, producer: dict[str, str], film: Path, store: ObjectStore
) -> None:
    old = create(client, producer, film)
    assert patch(client, producer, old, 0, b"x" * 10).status_code == 204
    old_id = old.rsplit("/", 1)[1]
    assert list(store.list(keys.upload_prefix(old_id)))
    day_ago = utcnow() - timedelta(seconds=tus.ABANDONED_SECONDS + 60)
    with app.state.db.session_scope() as s:
        s.execute(update(ResumableUpload).values(updated_at=day_ago))
    fresh = create(client, producer, film)  # creating sweeps
    assert client.head(old, headers={**producer, **TUS}).status_code == 404
    assert client.head(fresh, headers={**producer, **TUS}).status_code == 200
    assert list(store.list(keys.upload_prefix(old_id))) == []


def test_storage_down_at_the_end_keeps_the_bytes_and_an_empty_patch_finishes(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*_args: object, **_kwargs: object) -> None:
        raise StorageUnavailable("storage.s3_unreachable", url="http://s3.test", detail="ConnectError")

    url = create(client, producer, film)
    data = film.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(store, "copy", down)  # the received file to the asset's source
        r = patch(client, producer, url, 0, data)
        assert r.status_code == 503 and r.headers["Retry-After"]
        head = client.head(url, headers={**producer, **TUS})
        assert head.status_code == 503 and "Upload-Asset-Id" not in head.headers
    assert dispatcher.sent == []
    finished = patch(client, producer, url, len(data), b"")  # what the page does after its backoff
    assert finished.status_code == 204, finished.text
    assert dispatcher.sent == [(TRANSCODE, (finished.headers["Upload-Asset-Id"],))]


def test_a_head_after_storage_came_back_finishes_what_a_tus_client_thinks_is_done(
    client: TestClient,
    producer: dict[str, str],
    film: Path,
    store: ObjectStore,
    dispatcher: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tuspy and tus-js stop when HEAD says offset == length: that HEAD must make the asset, or the
    upload would lie in the store until the sweep removes it."""

    def down(*_args: object, **_kwargs: object) -> None:
        raise StorageUnavailable("storage.s3_unreachable", url="http://s3.test", detail="ConnectError")

    url = create(client, producer, film)
    data = film.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(store, "copy", down)
        assert patch(client, producer, url, 0, data).status_code == 503
    head = client.head(url, headers={**producer, **TUS})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(len(data))
    assert dispatcher.sent == [(TRANSCODE, (head.headers["Upload-Asset-Id"],))]
    again = client.head(url, headers={**producer, **TUS})  # asked again: the same asset, made once
    assert again.headers["Upload-Asset-Id"] == head.headers["Upload-Asset-Id"] and len(dispatcher.sent) == 1


# --- a real tus client (tuspy) against a real server on loopback ------------------------------


@dataclass
class Live:
    url: str
    headers: dict[str, str]


def serve(app: ASGIApp, db_of: FastAPI) -> Iterator[Live]:
    """uvicorn on a loopback port, serving `app` (the mediasrv app `db_of`, or something in front)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            thread.join(0.05)
        yield Live(f"http://127.0.0.1:{port}", make_token(db_of.state.db, Role.PRODUCER))
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def live(app: FastAPI) -> Iterator[Live]:
    yield from serve(app, app)


@pytest.fixture
def behind_a_patch_blocking_proxy(app: FastAPI) -> Iterator[Live]:
    """The server behind a proxy that refuses PATCH (as some corporate and county proxies do)."""

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "PATCH":
            await PlainTextResponse("PATCH is blocked by policy", status_code=405)(scope, receive, send)
            return
        await app(scope, receive, send)

    yield from serve(proxy, app)


class OverridingRequest(TusRequest):
    """tus-js-client's `overridePatchMethod`, which tuspy lacks: each PATCH goes out as a POST
    carrying X-HTTP-Method-Override: PATCH. Everything else is tuspy's own."""

    def perform(self) -> None:
        chunk = self.file.read(self._content_length)
        headers = {**self._request_headers, "X-HTTP-Method-Override": "PATCH"}
        resp = requests.post(self._url, data=chunk, headers=headers, timeout=60)
        self.status_code = resp.status_code
        self.response_content = resp.content
        self.response_headers = {k.lower(): v for k, v in resp.headers.items()}


class OverridingUploader(Uploader):
    def _do_request(self) -> None:
        self.request = OverridingRequest(self)
        self.request.perform()
        if not 200 <= self.request.status_code < 300:
            raise TusUploadFailed("", self.request.status_code, self.request.response_content)


class Held(io.BytesIO):
    """The file's bytes for tuspy, which opens a `file_path` anew for every chunk without closing
    it, and closes a `file_stream` after fingerprinting it, then reads it again."""

    def close(self) -> None:
        pass


def held(path: Path) -> Held:
    return Held(path.read_bytes())


def uploaded_asset(live: Live, uploader: Uploader) -> dict[str, object]:
    asset_id = uploader.request.response_headers["upload-asset-id"]
    asset: dict[str, object] = httpx.get(f"{live.url}/api/v1/assets/{asset_id}", headers=live.headers).json()
    return asset


def test_tuspy_uploads_in_chunks_through_a_real_server(live: Live, film: Path) -> None:
    client = TusClient(f"{live.url}/api/v1/uploads", headers=live.headers)
    uploader = client.uploader(
        file_stream=held(film), chunk_size=64 * 1024, metadata={"filename": film.name, "title": "初心"}
    )
    uploader.upload()
    asset = uploaded_asset(live, uploader)
    sha = hashlib.sha256(film.read_bytes()).hexdigest()
    assert (asset["sha256"], asset["filename"], asset["title"]) == (sha, film.name, "初心")


def test_tuspy_with_method_override_uploads_through_a_proxy_that_blocks_patch(
    behind_a_patch_blocking_proxy: Live, film: Path
) -> None:
    live = behind_a_patch_blocking_proxy
    client = TusClient(f"{live.url}/api/v1/uploads", headers=live.headers)
    plain = client.uploader(file_stream=held(film), chunk_size=64 * 1024, metadata={"filename": film.name})
    with pytest.raises(TusUploadFailed):  # the proxy does block PATCH
        plain.upload()
    uploader = OverridingUploader(
        file_stream=held(film), client=client, chunk_size=64 * 1024, metadata={"filename": film.name}
    )
    uploader.upload()
    assert uploader.offset == film.stat().st_size
    asset = uploaded_asset(live, uploader)
    assert asset["sha256"] == hashlib.sha256(film.read_bytes()).hexdigest()
    # Cancelling works the same way (tus termination through POST).
    other = OverridingUploader(
        file_stream=held(film), client=client, chunk_size=1000, metadata={"filename": "x.mp4"}
    )
    other.upload(stop_at=1000)
    gone = requests.post(
        other.url, headers={**live.headers, **TUS, "X-HTTP-Method-Override": "DELETE"}, timeout=30
    )
    assert gone.status_code == 204
    assert requests.head(other.url, headers={**live.headers, **TUS}, timeout=30).status_code == 404


def test_tuspy_resumes_an_interrupted_upload_where_the_server_stopped(
    live: Live, film: Path, tmp_path: Path
) -> None:
    urls = FileStorage(str(tmp_path / "tus-urls.json"))  # what tuspy keeps between runs
    client = TusClient(f"{live.url}/api/v1/uploads", headers=live.headers)
    first = client.uploader(
        file_stream=held(film),
        chunk_size=64 * 1024,
        metadata={"filename": film.name},
        store_url=True,
        url_storage=urls,
    )
    first.upload(stop_at=2 * 64 * 1024)  # the laptop closes after two chunks
    urls.close()
    urls = FileStorage(str(tmp_path / "tus-urls.json"))
    # Later, a new client finds the upload's URL by the file's fingerprint and asks the server (HEAD)
    # how far it got.
    client = TusClient(f"{live.url}/api/v1/uploads", headers=live.headers)
    second = client.uploader(file_stream=held(film), chunk_size=64 * 1024, store_url=True, url_storage=urls)
    assert (second.url, second.offset) == (first.url, 2 * 64 * 1024)
    second.upload()
    urls.close()
    asset = uploaded_asset(live, second)
    assert asset["sha256"] == hashlib.sha256(film.read_bytes()).hexdigest()


def test_405_lists_every_method_of_the_path(client: TestClient, producer: dict[str, str], film: Path) -> None:
    url = create(client, producer, film)
    for method in ("PUT", "GET", "POST"):
        r = client.request(method, url, headers={**producer, **TUS})
        assert r.status_code == 405, method
        assert r.headers["Allow"] == "DELETE, HEAD, PATCH"
        assert r.json()["code"] == "ingest.tus_method_not_allowed_override"
        assert r.json()["message"] == (
            f"这个地址不接受 {method} 请求，只接受 DELETE, HEAD, PATCH（也可以用 POST，并在 "
            "X-HTTP-Method-Override 请求头中写明其中一种方法）。"
        )
    r = client.post(url, headers={**producer, **TUS, "X-HTTP-Method-Override": "PUT"})
    assert r.status_code == 405 and r.headers["Allow"] == "DELETE, HEAD, PATCH"
    r = client.get("/api/v1/uploads", headers=producer)
    assert r.status_code == 405 and r.headers["Allow"] == "OPTIONS, POST"
    # Only a POST is overridden: a GET never becomes a DELETE.
    r = client.get(url, headers={**producer, **TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 405
    assert client.head(url, headers={**producer, **TUS}).status_code == 200


def test_method_override_on_post_acts_as_patch_head_and_delete(
    client: TestClient, producer: dict[str, str], film: Path
) -> None:
    url = create(client, producer, film)
    data = film.read_bytes()

    def post(method: str, **headers: str) -> httpx2.Response:
        return client.post(url, headers={**producer, **TUS, "X-HTTP-Method-Override": method, **headers})

    r = client.post(
        url,
        headers={**producer, **BYTES, "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0"},
        content=data[:1000],
    )
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "1000"
    head = post("head")
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "1000" and head.content == b""
    assert post("DELETE").status_code == 204
    assert client.head(url, headers={**producer, **TUS}).status_code == 404


# --- the bytes in object storage, the state in the database: nothing held by one process -------

MiB = 1024 * 1024


def big(film: Path, size: int) -> bytes:
    """A film's real first bytes (it sniffs as media), then deterministic filler up to `size`."""
    data = bytearray(film.read_bytes())
    counter = 0
    while len(data) < size:
        data += hashlib.sha256(str(counter).encode()).digest() * 1024
        counter += 1
    return bytes(data[:size])


def upload_of(app: FastAPI, url: str) -> ResumableUpload:
    with app.state.db.session_scope() as s:
        row = s.get(ResumableUpload, url.rsplit("/", 1)[1])
        assert row is not None
        s.expunge(row)
        return row


def test_parts_fill_from_pieces_left_by_earlier_patches_and_the_source_is_exact(
    client: TestClient,
    app: FastAPI,
    producer: dict[str, str],
    film: Path,
    tmp_path: Path,
    store: ObjectStore,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "upload_part_bytes", 5 * MiB)
    data = big(film, 11 * MiB + 12345)  # two whole parts and a short last one
    path = tmp_path / "长片.mp4"
    path.write_bytes(data)
    url = create(client, producer, path)
    upload_id = url.rsplit("/", 1)[1]
    # PATCHes that end anywhere: within a part (a piece is left), across a part's end, exactly at one.
    ends = [700_000, 1_900_000, 5 * MiB - 1, 5 * MiB + 3, 7 * MiB, 10 * MiB, len(data)]
    start = 0
    for end in ends[:-1]:
        assert patch(client, producer, url, start, data[start:end]).headers["Upload-Offset"] == str(end)
        row = upload_of(app, url)
        assert row.received == end and len(row.etags) == end // (5 * MiB)
        pieces = [i.key for i in store.list(keys.upload_prefix(upload_id)) if "/piece-" in i.key]
        assert pieces == [keys.upload_piece(upload_id, p) for p in row.pieces], "used pieces are deleted"
        assert row.lock_token is None, "each PATCH lets the upload go"
        start = end
    last = patch(client, producer, url, start, data[start:])
    assert last.status_code == 204, last.text
    asset = client.get(f"/api/v1/assets/{last.headers['Upload-Asset-Id']}", headers=producer).json()
    assert (asset["sha256"], asset["size_bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert b"".join(store.read(keys.source(asset["sha256"]))) == data
    assert list(store.list("uploads/")) == []


def test_a_patch_past_the_end_is_refused_whole_even_after_it_stored_a_part(
    client: TestClient,
    app: FastAPI,
    producer: dict[str, str],
    film: Path,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "upload_part_bytes", 5 * MiB)
    data = big(film, 6 * MiB)
    path = tmp_path / "片.mp4"
    path.write_bytes(data)
    url = create(client, producer, path)
    assert patch(client, producer, url, 0, data[:1000]).status_code == 204

    def chunked() -> Iterator[bytes]:  # no Content-Length: the end is found while receiving
        body = data[1000:] + b"over"
        for i in range(0, len(body), MiB):
            yield body[i : i + MiB]

    over = client.patch(url, headers={**producer, **BYTES, "Upload-Offset": "1000"}, content=chunked())
    assert over.status_code == 413 and over.json()["code"] == "ingest.tus_past_the_end"
    row = upload_of(app, url)
    assert (row.received, row.etags, row.pieces) == (1000, [], [0])
    assert client.head(url, headers={**producer, **TUS}).headers["Upload-Offset"] == "1000"
    asset_id = send_rest(client, producer, url, data, 1000)
    sha = client.get(f"/api/v1/assets/{asset_id}", headers=producer).json()["sha256"]
    assert sha == hashlib.sha256(data).hexdigest()


def test_one_request_at_a_time_sends_bytes_and_a_dead_ones_hold_lapses(
    client: TestClient, app: FastAPI, producer: dict[str, str], film: Path
) -> None:
    url = create(client, producer, film)
    data = film.read_bytes()
    upload_id = url.rsplit("/", 1)[1]
    # Another request (in this process or another) holds the upload.
    with app.state.db.session_scope() as s:
        s.execute(
            update(ResumableUpload)
            .where(ResumableUpload.id == upload_id)
            .values(lock_token="b" * 32, locked_until=utcnow() + timedelta(seconds=60))
        )
    busy = patch(client, producer, url, 0, data[:1000])
    assert busy.status_code == 409 and busy.json()["code"] == "ingest.tus_busy"
    assert client.delete(url, headers={**producer, **TUS}).status_code == 409
    # Its process died: once the lease lapses, the upload goes on here.
    with app.state.db.session_scope() as s:
        s.execute(
            update(ResumableUpload)
            .where(ResumableUpload.id == upload_id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert patch(client, producer, url, 0, data[:1000]).status_code == 204
    assert send_rest(client, producer, url, data, 1000)


def test_a_patch_broken_off_keeps_what_arrived(live: Live, film: Path, store: ObjectStore) -> None:
    data = film.read_bytes()
    created = httpx.post(
        f"{live.url}/api/v1/uploads",
        headers={
            **live.headers,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {b64('a.mp4')}",
        },
    )
    url = live.url + created.headers["Location"]
    head = {**live.headers, **BYTES, "Upload-Offset": "0", "Content-Length": str(len(data))}
    with socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])), timeout=30) as sock:
        request = f"PATCH {created.headers['Location']} HTTP/1.1\r\nHost: test\r\n"
        sock.sendall((request + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode())
        sock.sendall(data[:100_000])
        time.sleep(0.5)  # the bytes reach the server before the line drops
    deadline = time.monotonic() + 10
    while (offset := httpx.head(url, headers={**live.headers, **TUS}).headers["Upload-Offset"]) == "0":
        assert time.monotonic() < deadline, "the bytes that arrived were not kept"
        time.sleep(0.1)
    assert offset == "100000"
    upload_id = created.headers["Location"].rsplit("/", 1)[1]
    assert [i.key for i in store.list(keys.upload_prefix(upload_id))] == [keys.upload_piece(upload_id, 0)]
    rest = httpx.patch(
        url, headers={**live.headers, **BYTES, "Upload-Offset": offset}, content=data[100_000:]
    )
    assert rest.status_code == 204, rest.text
    asset = httpx.get(f"{live.url}/api/v1/assets/{rest.headers['Upload-Asset-Id']}", headers=live.headers)
    assert asset.json()["sha256"] == hashlib.sha256(data).hexdigest()
