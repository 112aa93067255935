"""Upload -> real Celery worker -> HLS over HTTP, read by ffprobe and checked by hlscheck."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediasrv.accounts import service
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from tests.e2e.conftest import Tier
from tests.e2e.stack import BIN, Stack, ffprobe_url, interlaced_frames
from tests.mediafactory import hlscheck, make_media, make_truncated

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tier: Tier, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e") / "var", **tier.env).start()
    try:
        yield s
    finally:
        s.stop()


def streams_of(stack: Stack, asset: dict[str, Any], presentation: str) -> list[dict[str, Any]]:
    url = stack.play(asset)[presentation]
    hlscheck(url)
    return ffprobe_url(url)


def check_film(stack: Stack, asset: dict[str, Any]) -> list[dict[str, Any]]:
    """Every presentation passes hlscheck; every variant is H.264 25 fps with AAC 48 kHz stereo."""
    assert asset["status"] == "ready", asset["error"]
    assert asset["kind"] == "video"
    mobile = streams_of(stack, asset, "master")
    for presentation in ("iptv", "iptv_sd"):
        streams = streams_of(stack, asset, presentation)
        assert [s["codec_type"] for s in streams] in (["video", "audio"], ["audio", "video"]), (
            "one muxed variant"
        )
        assert interlaced_frames(stack.play(asset)[presentation]) == 0
    video = [s for s in mobile if s["codec_type"] == "video"]
    audio = [s for s in mobile if s["codec_type"] == "audio"]
    assert video and len(audio) == len(video), "every variant carries muxed audio"
    assert {(s["codec_name"], s["r_frame_rate"]) for s in video} == {("h264", "25/1")}
    assert {(s["codec_name"], s["sample_rate"], s["channels"]) for s in audio} == {("aac", "48000", 2)}
    return video


Check = Callable[[Stack, dict[str, Any]], None]


def progressive(stack: Stack, asset: dict[str, Any]) -> None:
    video = check_film(stack, asset)
    assert {(s["width"], s["height"]) for s in video} == {(640, 360)}, "one rung, never upscaled"
    assert asset["source"]["video"]["interlaced"] is False


def interlaced(stack: Stack, asset: dict[str, Any]) -> None:
    check_film(stack, asset)
    assert asset["source"]["video"]["interlaced"] is True
    assert asset["source"]["video"]["codec"] == "mpeg2video"


def rotated(stack: Stack, asset: dict[str, Any]) -> None:
    video = check_film(stack, asset)
    assert (asset["source"]["video"]["width"], asset["source"]["video"]["height"]) == (360, 640)
    assert {(s["width"], s["height"]) for s in video} == {(360, 640)}, "portrait kept upright"


def no_audio(stack: Stack, asset: dict[str, Any]) -> None:
    check_film(stack, asset)  # a silent track was added
    assert asset["source"]["audio"] is None


def surround(stack: Stack, asset: dict[str, Any]) -> None:
    check_film(stack, asset)  # downmixed to stereo
    assert asset["source"]["audio"]["channels"] == 6


def variable_rate(stack: Stack, asset: dict[str, Any]) -> None:
    check_film(stack, asset)  # 25/1 constant


def audio_only(stack: Stack, asset: dict[str, Any]) -> None:
    assert asset["status"] == "ready" and asset["kind"] == "audio"
    assert asset["links"]["poster"] is None
    for presentation in ("master", "iptv"):
        streams = streams_of(stack, asset, presentation)
        assert streams and {(s["codec_type"], s["codec_name"], s["sample_rate"]) for s in streams} == {
            ("audio", "aac", "48000")
        }


def broken(stack: Stack, asset: dict[str, Any]) -> None:
    assert asset["status"] == "failed"
    assert "无法处理：文件无法作为视频或音频读取，可能不完整或已损坏。请重新导出后再上传。" in asset["error"]


def document(stack: Stack, asset: dict[str, Any]) -> None:
    assert asset["status"] == "ready" and asset["kind"] == "document"
    assert asset["links"]["master"] is None


def make_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return path


CASES: dict[str, tuple[Callable[[Path], Path], Check]] = {
    "progressive": (
        lambda d: make_media(d / "党员教育 第1集.mp4", seconds=8, width=640, height=360),
        progressive,
    ),
    "interlaced-mpeg2-ts": (
        lambda d: make_media(d / "archive.ts", seconds=6, width=720, height=576, interlaced=True),
        interlaced,
    ),
    "rotated": (lambda d: make_media(d / "phone.mp4", seconds=4, width=640, height=360, rotate=90), rotated),
    "no-audio": (lambda d: make_media(d / "silent.mp4", seconds=4, audio_channels=0), no_audio),
    "surround-5.1": (lambda d: make_media(d / "surround.mp4", seconds=4, audio_channels=6), surround),
    "variable-frame-rate": (lambda d: make_media(d / "vfr.mp4", seconds=4, vfr=True), variable_rate),
    "audio-only": (lambda d: make_media(d / "讲座.m4a", seconds=8), audio_only),
    "truncated": (lambda d: make_truncated(make_media(d / "whole.mp4", seconds=4), d / "cut.mp4"), broken),
    "pdf": (lambda d: make_pdf(d / "讲义.pdf"), document),
}


@pytest.fixture(scope="module")
def uploaded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Upload every case at once, so the worker processes them while the checks run."""
    media = tmp_path_factory.mktemp("media")
    return {name: stack.upload(make(media))["id"] for name, (make, _) in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_upload_reaches_a_final_state_that_plays(stack: Stack, uploaded: dict[str, str], case: str) -> None:
    asset = stack.wait(uploaded[case])
    CASES[case][1](stack, asset)


def test_cli_upload_shows_progress_plays_and_is_found_once_published(stack: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "党员教育 第2集.mp4", seconds=4, width=480, height=270)
    r = subprocess.run(
        [
            str(BIN / "mediasrv"),
            "upload",
            str(film),
            "--title",
            "初心使命 第2集",
            "--server",
            stack.url,
            "--token",
            stack.token,
            "--category",
            "党史教育",
            "--tags",
            "党课，初心",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    asset_id = r.stdout.strip().splitlines()[-1]
    assert "正在上传 党员教育 第2集.mp4" in r.stderr
    printed = re.search(r"master: (\S+)", r.stderr)
    assert printed and printed[1].endswith(f"/hls/{asset_id}/master.m3u8")
    hlscheck(printed[1])  # the printed link plays as it is, with no credentials besides itself
    asset = stack.asset(asset_id)
    assert asset["title"] == "初心使命 第2集" and asset["status"] == "ready"
    check_film(stack, asset)
    drafted = re.search(r"栏目中生成节目草稿 (\w+)", r.stderr)
    assert drafted, r.stderr
    published = httpx.post(
        f"{stack.url}/api/v1/programmes/{drafted[1]}/publish", headers=stack.admin, timeout=30
    )
    assert published.status_code == 200 and published.json()["tags"] == ["党课", "初心"]
    # The index queue's worker picks the change up: the programme becomes findable, also by pinyin.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = httpx.get(
            f"{stack.url}/api/v1/search", headers=stack.headers, params={"q": "cxsm"}, timeout=30
        )
        if found.json()["total"]:
            break
        time.sleep(0.5)
    assert [h["programme"]["id"] for h in found.json()["hits"]] == [drafted[1]], stack.log_tail("worker")


def test_cli_upload_reports_a_refusal(stack: Stack, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("会议记录\n")
    r = subprocess.run(
        [
            str(BIN / "mediasrv"),
            "upload",
            str(notes),
            "--server",
            stack.url,
            "--token",
            stack.token,
            "--no-programme",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = " ".join(r.stderr.split())  # rich wraps to the terminal width
    # the server's message, as rendered for the operator's language (ingest's text, not the CLI's)
    assert (
        r.returncode == 2
        and "服务器拒绝了请求（HTTP 415）：" in said
        and "notes.txt" in said
        and "Traceback" not in said
    )


def partner_department(stack: Stack) -> dict[str, str]:
    """Headers of a producer of a second department."""
    db = Database(
        stack.env.get("MEDIASRV_DATABASE_URL") or Settings(data_dir=stack.data_dir).resolved_database_url
    )
    with db.session_scope() as s:
        actor = Caller(role=Role.ADMIN, name="e2e setup", via="cli")
        unit = service.create_org_unit(s, actor=actor, name="合作部门")
        _, token = service.create_service_account(
            s, actor=actor, name="e2e-partner", role=Role.PRODUCER, org_unit_id=unit.id
        )
    db.dispose()
    return {"Authorization": f"Bearer {token}"}


def plays_through(url: str) -> None:
    """ffmpeg reads and decodes the whole presentation behind a signed link, as a box would."""
    r = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_the_same_film_from_another_department_is_an_asset_of_its_own_and_both_play(
    stack: Stack, tmp_path: Path
) -> None:
    # Not the bytes of the CLI test's film (4 s, 480x270): the stack is shared, and the same bytes
    # uploaded again in one department are its existing asset (200), not a new one.
    film = make_media(tmp_path / "第一部门的片子.mp4", seconds=5, width=480, height=270)
    first = stack.wait(stack.upload(film, title="第一部门的标题")["id"])
    assert first["status"] == "ready", first["error"]
    partner = partner_department(stack)
    copy = tmp_path / "合作部门.mp4"
    copy.write_bytes(film.read_bytes())
    with copy.open("rb") as f:
        r = httpx.post(
            f"{stack.url}/api/v1/assets", headers=partner, files={"file": (copy.name, f)}, timeout=120
        )
    assert r.status_code == 201, r.text
    for secret in (first["id"], "第一部门"):
        assert secret not in r.text
    theirs = r.json()
    # Its outputs were copied inside object storage (local links, S3 CopyObject): ready at once.
    assert theirs["status"] == "ready" and theirs["renditions"] == first["renditions"]
    for headers, asset_id in ((stack.headers, first["id"]), (partner, theirs["id"])):
        links = httpx.get(
            f"{stack.url}/api/v1/assets/{asset_id}/playback", headers=headers, timeout=30
        ).json()
        master = httpx.get(stack.url + links["master"], timeout=30)
        assert master.status_code == 200
        if asset_id == theirs["id"]:
            assert first["id"] not in master.text
        for presentation in ("master", "iptv"):
            streams = ffprobe_url(stack.url + links[presentation])
            assert {s["codec_type"] for s in streams} == {"video", "audio"}
        plays_through(stack.url + links["iptv"])
    mine = httpx.get(f"{stack.url}/api/v1/assets", headers=partner, timeout=30).json()
    assert [a["id"] for a in mine["items"]] == [theirs["id"]]
