"""Captions in the browser: a sentence said in a film is found by search, the hit opens the programme
page at that moment, and hls.js shows the cue (read from the video's text track) with a caption
language menu reachable by keyboard."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Stack
from tests.mediafactory import make_dubbed, make_media
from tests.web.conftest import PLAY_MUTED, login, screenshot
from tests.web.test_catalog_page import programme, searchable

pytestmark = pytest.mark.e2e

SRT = """1
00:00:01,000 --> 00:00:03,000
同志们好

2
00:00:06,000 --> 00:00:09,000
合作社带动猕猴桃种植
"""
TIBETAN = "1\n00:00:01,000 --> 00:00:09,000\nབཀྲ་ཤིས་བདེ་ལེགས།\n"


def attach(web: Stack, pid: str, language: str, text: str) -> None:
    r = httpx.post(
        f"{web.url}/api/v1/programmes/{pid}/captions",
        headers=web.admin,
        files={"file": (f"{language}.srt", text.encode())},
        data={"language": language},
        timeout=30,
    )
    assert r.status_code == 201, r.text


def published_subtitles(web: Stack, asset_id: str, count: int) -> None:
    """The worker publishes caption changes as subtitle renditions: wait for them (set-up)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(f"{web.url}/hls/{asset_id}/master.m3u8", headers=web.headers, timeout=30)
        if r.text.count("TYPE=SUBTITLES") == count:
            return
        time.sleep(0.3)
    raise AssertionError(f"no subtitle renditions in the master:\n{web.log_tail('worker')}")


def test_a_caption_cue_shows_at_its_time_from_a_search_hit(
    page: Page, web: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("caption-media")
    film = web.wait(web.upload(make_media(tmp / "合作社.mp4", seconds=12, width=320, height=180))["id"])
    assert film["status"] == "ready", film["error"]
    pid = programme(web, title="产业振兴带头人", category="agri-tech", asset_id=film["id"])
    attach(web, pid, "zh-Hans", SRT)
    attach(web, pid, "bo", TIBETAN)
    published_subtitles(web, film["id"], 2)
    searchable(web, "猕猴桃种植", pid)

    logs: list[str] = []
    page.on("console", lambda m: logs.append(m.text))
    page.on("pageerror", lambda e: logs.append(str(e)))
    login(page, "zhang.producer")
    page.goto("/ui/catalog?q=" + "猕猴桃种植")
    hit = page.locator(f'a.result[data-programme-id="{pid}"]')
    expect(hit).to_have_attribute("href", f"/ui/programmes/{pid}#t=6")
    expect(hit.locator(".moment")).to_have_text("片中 0:06 处说到")
    hit.click()
    page.wait_for_url(f"**/ui/programmes/{pid}#t=6")

    menu = page.get_by_label("字幕：")
    expect(menu).to_be_visible()
    assert menu.locator("option").all_inner_texts() == ["不显示字幕", "藏文", "简体中文"]
    expect(menu).to_have_value("1")  # the programme's language (zh) is the default track
    menu.focus()
    expect(menu).to_be_focused()

    page.evaluate(PLAY_MUTED)
    page.wait_for_function("() => document.querySelector('#player video').currentTime >= 6")
    shown = """() => {
      const video = document.querySelector('#player video');
      const tracks = [...video.textTracks].filter(t => t.mode === 'showing');
      return tracks.flatMap(t => [...(t.activeCues || [])].map(c => c.text)).join('|');
    }"""
    try:
        page.wait_for_function(f"() => ({shown})().includes('合作社带动猕猴桃种植')")
    except Exception:
        raise AssertionError(f"no cue shown; page said: {logs}") from None
    screenshot(page, "programme-captions")

    # Another language from the keyboard: the Tibetan cue shows instead.
    menu.press("ArrowUp")
    expect(menu).to_have_value("0")
    page.wait_for_function(f"() => ({shown})().includes('བཀྲ་ཤིས')")
    menu.select_option("-1")  # captions off
    page.wait_for_function(f"() => ({shown})() === ''")


def test_a_dubbed_film_plays_in_the_language_chosen_on_the_programme_page(
    page: Page, web: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("dubbed-media")
    film = web.wait(web.upload(make_dubbed(tmp / "双语.mp4", seconds=12, languages=("chi", "tib")))["id"])
    assert film["status"] == "ready", film["error"]
    pid = programme(web, title="双语党课", category="party-spirit", asset_id=film["id"])
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    login(page, "zhang.producer")
    page.goto(f"/ui/programmes/{pid}")

    menu = page.get_by_label("声音：")
    expect(menu).to_be_visible()
    assert menu.locator("option").all_inner_texts() == ["普通话", "藏语"]
    expect(menu).to_have_value("0")  # the film's own sound
    page.evaluate(PLAY_MUTED)
    page.wait_for_function("() => document.querySelector('#player video').currentTime > 0.5")
    assert not any("mobile-audio-bo/" in url for url in fetched)

    menu.focus()
    menu.press("ArrowDown")  # from the keyboard, as on a TV remote
    expect(menu).to_have_value("1")
    deadline = time.monotonic() + 30
    while not any("mobile-audio-bo/" in url and url.endswith(".ts") for url in fetched):
        assert time.monotonic() < deadline, f"no Tibetan audio fetched: {fetched[-10:]}"
        page.wait_for_timeout(200)
