"""Debian's VLC opens a site's channel list from the link an administrator gives its box, with no
header at all, and plays the first programme from the real server stack: the list must be served as
an M3U (audio/x-mpegurl, which VLC's playlist module reads; the HLS type went to its HLS module, which
found nothing to play) and open without an Authorization header (a box and VLC send none)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.vlc import play

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e-vlc") / "var").start()
    try:
        yield s
    finally:
        s.stop()


def test_vlc_plays_the_first_programme_of_a_sites_channel_list(stack: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "党员教育.mp4", seconds=6, width=320, height=180)
    asset = stack.wait(stack.upload(film)["id"])
    assert asset["status"] == "ready", asset["error"]
    stack.publish(asset["id"], "党员教育 第1集", "party-spirit")
    site = stack.api("POST", "/sites", json={"code": "xt-vlc", "name": "西塘村", "device_profile": "iptv"})
    stack.api("POST", "/tokens", json={"name": "set-top box", "site_id": site["id"]})
    link = stack.api("GET", f"/sites/{site['id']}/channel-list")["url"]
    assert link.startswith(f"{stack.url}/api/v1/sites/{site['id']}/playlist.m3u8?key=")

    listed = httpx.get(link, timeout=30)  # as VLC will: no header
    assert listed.status_code == 200 and listed.headers["content-type"] == "audio/x-mpegurl"
    first = next(line for line in listed.text.splitlines() if line.startswith("http"))
    assert first.endswith(f"/hls/{asset['id']}/iptv.m3u8")

    played = play(link)
    assert played.opened(link) and played.opened(first), played.log[-4000:]
    # VLC's HLS module fetched the programme's segments from this server and decoded them.
    assert played.segments and all(url.startswith(first.rsplit("/", 1)[0]) for url in played.segments)
    assert all(url.endswith(".ts") for url in played.segments)
    assert played.decoders == {"video", "audio"}, played.log[-4000:]
    # The server served them: 200s for segments under the signed prefix (the access log hides it).
    served = re.findall(rf"GET /s/…/hls/{asset['id']}/\S+\.ts 200", stack.log_tail("server", 400_000))
    assert len(served) >= len(played.segments), stack.log_tail("server")
