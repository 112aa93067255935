"""The site's own channel played by Debian's real players from `mediasrv-site serve`, with no
central server at all (the cache is what a sync left): GStreamer's playbin and VLC each play the
live channel for over 30 s across programme boundaries without an error, and hlscheck finds nothing
wrong with it but what makes it live (no VOD type, no ENDLIST)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from mediasrv.agent.layout import Layout
from mediasrv.agent.viewing import queue_path
from tests.agent.channelsite import Film, build, encode
from tests.e2e.stack import BIN, free_port
from tests.mediafactory import HLSCHECK
from tests.servers import unavailable
from tests.vlc import play

pytestmark = pytest.mark.e2e

PLAY_SECONDS = 35  # the films are 6 and 8 s long: several programme changes inside it


@dataclass(frozen=True)
class Origin:
    url: str
    layout: Layout
    log: Path


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    work = tmp_path_factory.mktemp("channel")
    real = {"p1": work / "p1", "p2": work / "p2"}
    films = [
        Film("p1", "党的二十大精神", encode(real["p1"], 6, hue=0), required=True),
        Film("p2", "乡村振兴战略", encode(real["p2"], 8, hue=120)),
    ]
    # No blocks: the filler loops all day, so a programme changes every few seconds whenever it runs.
    schedule = {"timezone": "Asia/Shanghai", "blocks": [], "filler": ["p1", "p2"], "card": None}
    layout = build(work / "site", films, schedule, real=real)
    port = free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        served = subprocess.Popen(
            [
                str(BIN / "mediasrv-site"),
                "serve",
                "--dir",
                str(layout.root),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/channel.m3u8", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert served.poll() is None, log.read_text()
            time.sleep(0.1)
        else:
            raise AssertionError("mediasrv-site serve did not come up:\n" + log.read_text())
        yield Origin(url, layout, log)
    finally:
        served.terminate()
        served.wait(timeout=30)


def counted(layout: Layout) -> set[str]:
    """The programmes the viewing journal counts (each segment once a day and player)."""
    lines = queue_path(layout).read_text().splitlines() if queue_path(layout).exists() else []
    return {json.loads(line)["programme_id"] for line in lines}


def served(origin: Origin, since: int) -> list[str]:
    """The programmes of the segments the origin served since byte `since` of its access log."""
    text = origin.log.read_bytes()[since:].decode(errors="replace")
    return re.findall(r'"GET /files/a-(\w+)/g1/iptv/seg_\d+\.ts HTTP/1\.1" 20[06]', text)


def changes(programmes: list[str]) -> int:
    return sum(1 for a, b in pairwise(programmes) if a != b)


def test_gstreamer_plays_the_channel_across_programme_boundaries(origin: Origin) -> None:
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        unavailable(
            "GStreamer", "real-player", FileNotFoundError("gst-launch-1.0: install gstreamer1.0-tools")
        )
    before = origin.log.stat().st_size
    player = subprocess.Popen(
        [gst, "playbin", f"uri={origin.url}/channel.m3u8",
         "video-sink=fakesink sync=true", "audio-sink=fakesink sync=true"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env={**os.environ, "GST_DEBUG": "*:1"},
    )  # fmt: skip
    time.sleep(PLAY_SECONDS)
    still_playing = player.poll() is None
    player.send_signal(signal.SIGINT)
    try:
        output, _ = player.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        player.kill()
        output, _ = player.communicate()
    assert still_playing, f"gst-launch-1.0 stopped early:\n{output[-4000:]}"
    assert "ERROR" not in output, output[-4000:]
    programmes = served(origin, before)
    assert changes(programmes) >= 2, programmes
    assert counted(origin.layout) == {"p1", "p2"}  # as viewing, like on-demand


def test_vlc_plays_the_channel_across_programme_boundaries(origin: Origin) -> None:
    before = origin.log.stat().st_size
    result = play(f"{origin.url}/channel.m3u8", seconds=PLAY_SECONDS)
    assert result.decoders == {"video", "audio"}
    errors = [line for line in result.log.splitlines() if " error: " in line and "adaptive" in line]
    assert not errors, "\n".join(errors)
    fetched = [u.split("/files/a-")[1].split("/")[0] for u in result.segments]
    assert changes(fetched) >= 2, fetched
    assert changes(served(origin, before)) >= 2


def test_hlscheck_finds_nothing_but_that_the_channel_is_live(origin: Origin) -> None:
    r = subprocess.run(
        [str(BIN / "python"), str(HLSCHECK), f"{origin.url}/channel.m3u8", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    problems = set(json.loads(r.stdout)["problems"])
    assert problems == {"channel.m3u8: no EXT-X-PLAYLIST-TYPE:VOD (8.6)", "channel.m3u8: no EXT-X-ENDLIST"}, (
        r.stdout
    )
