"""The site view in a real browser: a site synced from a real stack with `mediasrv-site sync`, served
by `mediasrv-site serve` on loopback, driven with the keys of a TV remote. Today's required programme
is listed first under 必学 with the verdict 完整; arrows move between programmes, Enter plays one from
the site's own files, Escape comes back to it; with files deleted the verdict says they are missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from mediasrv.agent.layout import Layout
from mediasrv.protocol.china import today_in_china
from tests.e2e.stack import BIN, Stack, free_port
from tests.mediafactory import make_media
from tests.web.conftest import screenshot

pytestmark = pytest.mark.e2e

AGENT = str(BIN / "mediasrv-site")
REQUIRED = "学习<b>二十大</b>精神"  # markup in a title must show as these characters
OPTIONAL = "乡村振兴战略解读"


@dataclass(frozen=True)
class Synced:
    dir: Path  # the site's cache after a complete `mediasrv-site sync`
    required: str  # programme ids
    optional: str
    doc: dict[str, Any]  # its manifest
    files: list[dict[str, Any]]  # what its file lists name


def api(web: Stack, path: str, body: dict[str, Any], headers: dict[str, str], status: int = 201) -> Any:
    r = httpx.post(f"{web.url}/api/v1{path}", headers=headers, json=body, timeout=30)
    assert r.status_code == status, r.text
    return r.json()


def agent(*args: str) -> None:
    r = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def synced(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    tmp = tmp_path_factory.mktemp("site-view")
    film = web.wait(web.upload(make_media(tmp / "党课.mp4", seconds=8, width=320, height=180))["id"])
    assert film["status"] == "ready", film["error"]
    pdf = tmp / "讲义.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% handout\ntrailer<<>>\n%%EOF\n")
    handout = web.wait(web.upload(pdf)["id"])
    assert handout["status"] == "ready", handout["error"]
    ids = []
    for title, category, extra in (
        (REQUIRED, "party-spirit", {"attachment_ids": [handout["id"]]}),
        (OPTIONAL, "agri-tech", {}),
    ):
        body = {"title": title, "category": category, "asset_id": film["id"], **extra}
        pid = api(web, "/programmes", body, web.headers)["id"]
        api(web, f"/programmes/{pid}/publish", {}, web.admin, 200)
        ids.append(pid)
    today = today_in_china().isoformat()
    study = {"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [ids[0]]}
    api(web, f"/study-lists/{api(web, '/study-lists', study, web.admin)['id']}/publish", {}, web.admin, 200)
    site = api(web, "/sites", {"code": "xt-view", "name": "西塘村", "device_profile": "iptv"}, web.admin)
    token = api(web, "/tokens", {"name": "agent", "site_id": site["id"]}, web.admin)["token"]
    cache = tmp / "mediasrv-site"
    agent("init", "--server", web.url, "--token", token, "--dir", str(cache))
    agent("sync", "--dir", str(cache))
    doc = json.loads((cache / "manifest.json").read_bytes())
    return Synced(cache, ids[0], ids[1], doc, Layout(cache).files_of(doc))


@contextmanager
def serving(cache: Path) -> Iterator[str]:
    """`mediasrv-site serve` on a loopback port, as a village PC runs it; its URL."""
    port, log = free_port(), cache.parent / f"serve-{cache.name}.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        origin = subprocess.Popen(
            [AGENT, "serve", "--dir", str(cache), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # waiting for the port to open: set-up, not a check
            try:
                httpx.get(url + "/playlist.json", timeout=5)
                break
            except httpx.TransportError:
                assert origin.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        origin.terminate()
        origin.wait(timeout=30)


def play_button(page: Page, pid: str) -> Any:
    return page.locator(f'li[data-programme-id="{pid}"] button.play')


def test_a_site_administrator_plays_todays_required_programme_with_a_remote(
    browser: Browser, synced: Synced
) -> None:
    with serving(synced.dir) as url:
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        try:
            page.goto(url + "/")
            expect(page.locator("#verdict")).to_have_text("完整")
            expect(page.locator("h1")).to_contain_text("西塘村")
            files = len(synced.files)
            expect(page.locator(".fact-files dd")).to_have_text(f"{files} / {files}")
            expect(page.locator(".fact-last_complete dd")).to_contain_text("北京时间")
            required = page.locator("section.required")
            expect(required.locator("h2")).to_have_text("今日必学")
            expect(required.locator(".title")).to_have_text([REQUIRED])  # as text, not bold markup
            expect(required.locator(".category")).to_have_text("党性教育与纪律")
            expect(required.locator(".duration")).to_have_text("0:08")
            expect(required.locator("a.handout")).to_have_text("讲义 1（PDF）")
            expect(page.locator("section.optional .title")).to_have_text([OPTIONAL])
            poster = required.locator("img")
            expect(poster).to_have_js_property("complete", True)
            assert poster.evaluate("img => img.naturalWidth") > 0  # the poster comes from the site's copy
            handout = httpx.get(url + required.locator("a.handout").get_attribute("href"), timeout=30)
            assert handout.status_code == 200 and handout.content.startswith(b"%PDF")
            screenshot(page, "site-view")

            # The remote: the required programme has the focus at once; arrows move between programmes.
            first, second = play_button(page, synced.required), play_button(page, synced.optional)
            expect(first).to_be_focused()
            page.keyboard.press("ArrowDown")
            expect(second).to_be_focused()
            page.keyboard.press("ArrowUp")
            expect(first).to_be_focused()
            page.keyboard.press("ArrowRight")
            expect(required.locator("a.handout")).to_be_focused()
            page.keyboard.press("ArrowLeft")
            expect(first).to_be_focused()

            # OK plays it here, from this origin's files (muted first: headless autoplay policy).
            page.evaluate("document.getElementById('video').muted = true")
            page.keyboard.press("Enter")
            expect(page.locator("#player")).to_be_visible()
            expect(page.locator("#list")).to_be_hidden()
            expect(page.locator("#now-playing")).to_have_text(REQUIRED)
            page.wait_for_function("() => document.getElementById('video').currentTime > 0.5")
            assert page.evaluate("document.getElementById('video').paused") is False
            expect(page.locator("#player-message")).to_be_hidden()
            screenshot(page, "site-view-playing")

            # Back: the list again, the focus on the programme just played, the video stopped.
            page.keyboard.press("Escape")
            expect(page.locator("#player")).to_be_hidden()
            expect(first).to_be_focused()
            assert page.evaluate("document.getElementById('video').paused") is True

            page.goto(url + "/?lang=en")
            expect(page.locator("#verdict")).to_have_text("Complete")
            expect(page.locator("section.required h2")).to_have_text("Required today")
        finally:
            ctx.close()


def test_without_hls_js_it_plays_natively_or_says_the_player_is_missing(
    browser: Browser, synced: Synced
) -> None:
    with serving(synced.dir) as url:
        ctx = browser.new_context(locale="zh-CN")
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        try:
            page.route("**/static/vendor/hls.min.js", lambda route: route.fulfill(status=404, body="missing"))
            page.goto(url + "/")
            native = page.evaluate(
                "document.createElement('video').canPlayType('application/vnd.apple.mpegurl')"
            )
            if native:
                page.evaluate("document.getElementById('video').muted = true")
                page.keyboard.press("Enter")
                page.wait_for_function("() => document.getElementById('video').currentTime > 0.5")
            else:
                expect(page.locator("#no-player")).to_be_visible()
                expect(page.locator("#no-player")).to_contain_text("hls.min.js")
                page.keyboard.press("Enter")
                expect(page.locator("#player-message")).to_contain_text("下一次同步会自动从服务器取回")
        finally:
            ctx.close()


def test_with_files_deleted_the_verdict_says_they_are_missing(
    browser: Browser, synced: Synced, tmp_path: Path
) -> None:
    cache = tmp_path / "mediasrv-site"
    shutil.copytree(synced.dir, cache)
    segments = [e for e in synced.files if e["path"].endswith(".ts")]
    for entry in segments[:2]:
        (cache / "files" / entry["path"]).unlink()
    with serving(cache) as url:
        ctx = browser.new_context(locale="zh-CN")
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        try:
            page.clock.install()  # the page's minute-long poll, run on demand below
            page.goto(url + "/")
            expect(page.locator("#verdict")).to_have_text("缺少文件")
            expect(page.locator("#advice")).to_contain_text("还缺 2 个文件")
            expect(page.locator("#advice")).to_contain_text("mediasrv-site sync")
            files = len(synced.files)
            expect(page.locator(".fact-files dd")).to_have_text(f"{files - 2} / {files}")
            screenshot(page, "site-view-missing")

            # A sync puts them back while the page stays open: within a minute it says so by itself.
            for entry in segments[:2]:
                shutil.copy2(synced.dir / "files" / entry["path"], cache / "files" / entry["path"])
            page.clock.fast_forward(61_000)
            expect(page.locator("#verdict")).to_have_text("完整")
        finally:
            ctx.close()
