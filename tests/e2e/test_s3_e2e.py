"""The same job on a real S3 server (weed mini): publish, play, and lose nothing when storage goes away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediasrv.storage import open_store
from tests.e2e.conftest import production
from tests.e2e.stack import Stack, ffprobe_url
from tests.mediafactory import hlscheck, make_media
from tests.s3server import S3Server

pytestmark = [pytest.mark.e2e, pytest.mark.s3]
BUCKETS = {"sqlite": "mediasrv-e2e", "postgresql+redis": "mediasrv-e2e-pg"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql+redis"])
def s3_stack(
    request: pytest.FixtureRequest, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """S3 beside the embedded database and broker, and in the full production kind of set-up."""
    env = {} if request.param == "sqlite" else production(request, storage=False).env
    env["storage_url"] = s3_server.url(BUCKETS[request.param])
    stack = Stack(tmp_path_factory.mktemp("s3e2e") / "var", **env).start()
    try:
        yield stack
    finally:
        stack.stop()


def test_published_from_s3_and_played_over_http(s3_stack: Stack, s3_server: S3Server, tmp_path: Path) -> None:
    asset = s3_stack.wait(s3_stack.upload(make_media(tmp_path / "s3 film.mp4", seconds=6))["id"])
    assert asset["status"] == "ready", asset["error"]
    hlscheck(s3_stack.play(asset)["master"])
    hlscheck(s3_stack.play(asset)["iptv"])
    assert {s["codec_type"] for s in ffprobe_url(s3_stack.play(asset)["iptv_sd"])} == {
        "video",
        "audio",
    }
    keys = [o.key for o in open_store(s3_stack.env["MEDIASRV_STORAGE_URL"]).list(f"hls/{asset['id']}/")]
    assert keys and all(k.split("/")[2] == keys[0].split("/")[2] for k in keys), "one generation in S3"


def test_storage_outage_during_upload_keeps_nothing(
    s3_stack: Stack, s3_server: S3Server, tmp_path: Path
) -> None:
    film = make_media(tmp_path / "outage.mp4", seconds=2)
    before = httpx.get(s3_stack.url + "/api/v1/assets", headers=s3_stack.headers, timeout=30).json()["total"]
    s3_server.stop()
    try:
        with film.open("rb") as f:
            r = httpx.post(
                s3_stack.url + "/api/v1/assets",
                headers=s3_stack.headers,
                files={"file": (film.name, f)},
                timeout=120,
            )
    finally:
        s3_server.start()
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json()["code"] == "storage.s3_unreachable"
    assert r.json()["message"].startswith("文件存储暂时无法使用，请稍后再试")
    after = httpx.get(s3_stack.url + "/api/v1/assets", headers=s3_stack.headers, timeout=30).json()["total"]
    assert after == before, "a catalog row points at a missing object"
    assert not any((s3_stack.data_dir / "spool").iterdir())
    assert s3_stack.wait(s3_stack.upload(film)["id"])["status"] == "ready"  # the same upload, once it is back


def test_storage_outage_during_publish_is_retried(
    s3_stack: Stack, s3_server: S3Server, tmp_path: Path
) -> None:
    asset_id = s3_stack.upload(make_media(tmp_path / "long.mp4", seconds=30, width=640, height=360))["id"]
    s3_stack.wait(asset_id, until=("processing",), min_progress=10)
    s3_server.stop()  # ffmpeg keeps going; storing its outputs fails
    try:
        released = s3_stack.wait(asset_id, until=("uploaded",))  # the job gave its lease back to retry
    finally:
        s3_server.start()
    assert released["attempts"] == 0 and released["error"] is None
    asset = s3_stack.wait(asset_id, timeout=300)
    assert asset["status"] == "ready", asset["error"]
    hlscheck(s3_stack.play(asset)["master"])
