"""An offline site: a bundle exported with `mediasrv site-bundle export`, carried over, imported with
`mediasrv-site import`, and played from `mediasrv-site serve` as a set-top box would."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import BIN, Stack, ffprobe_url, free_port
from tests.mediafactory import hlscheck, make_media

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e-bundle") / "var").start()
    try:
        yield s
    finally:
        s.stop()


def run(stack: Stack, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command), *args], env=stack.env, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_bundle_carried_to_an_offline_site_plays_from_its_lan(stack: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "党课.mp4", seconds=8, width=320, height=180)
    asset = stack.wait(stack.upload(film)["id"])
    assert asset["status"] == "ready", asset["error"]
    api, admin = stack.url + "/api/v1", stack.admin
    stack.publish(asset["id"], "学习二十大 第一讲", "party-spirit")
    site = httpx.post(
        f"{api}/sites", headers=admin, json={"code": "sg-07", "name": "山沟村", "device_profile": "iptv"}
    ).json()

    usb = tmp_path / "usb"
    exported = run(stack, "mediasrv", "site-bundle", "export", "--site", "sg-07", str(usb))
    assert exported.returncode == 0, exported.stderr
    key = httpx.get(f"{api}/sites/manifest-key").json()["public_key"]
    assert exported.stdout.strip().splitlines()[-1] == key

    cache = tmp_path / "mediasrv-site"
    imported = run(stack, "mediasrv-site", "import", str(usb), "--dir", str(cache), "--public-key", key)
    assert imported.returncode == 0, imported.stderr
    token = httpx.post(f"{api}/tokens", headers=admin, json={"name": "agent", "site_id": site["id"]}).json()
    served = httpx.get(
        f"{api}/sites/{site['id']}/manifest",
        headers={"Authorization": f"Bearer {token['token']}"},
        timeout=30,
    )
    assert (cache / "manifest.json").read_bytes() == served.content  # the state a network sync reaches

    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        origin = subprocess.Popen(
            [
                str(BIN / "mediasrv-site"),
                "serve",
                "--dir",
                str(cache),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=stack.env,
            stdout=out,
            stderr=out,
        )
    try:
        local = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                playlist = httpx.get(f"{local}/playlist.m3u8", timeout=5)
                break
            except httpx.TransportError:
                assert origin.poll() is None, log.read_text()
                time.sleep(0.1)
        else:
            raise AssertionError("mediasrv-site serve did not come up")
        lines = playlist.text.splitlines()
        assert lines[0] == f'#EXTM3U url-tvg="{local}/epg.xml"' and lines[1].endswith(",本站频道")
        assert lines[2] == f"{local}/channel.m3u8" and lines[3].endswith(",学习二十大 第一讲")
        first = lines[4]
        assert first.startswith(f"{local}/files/{asset['id']}/")
        hlscheck(first)
        streams = ffprobe_url(first)
        assert {s["codec_type"] for s in streams} == {"video", "audio"}
    finally:
        origin.terminate()
        origin.wait(timeout=30)
