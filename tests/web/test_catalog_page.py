"""The catalogue and programme pages in a real browser: find a film by a Chinese (or pinyin) search,
open it with the keyboard, play it; browse by category; titles are text, never markup; an
administrator withdraws and republishes from the programme page."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from mediasrv.protocol.china import today_in_china
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import PLAY_MUTED, login, screenshot

pytestmark = pytest.mark.e2e

RURAL = "乡村振兴战略解读"
MARKUP = "<b>粗体</b> 乡村课堂"  # must show as these characters, not as bold text
SPARE = "基层党组织建设微课"  # withdrawn and republished by the admin test


@dataclass(frozen=True)
class Catalog:
    rural: str
    markup: str
    spare: str
    draft: str
    handout: str


def programme(web: Stack, *, publish: bool = True, **body: Any) -> str:
    r = httpx.post(f"{web.url}/api/v1/programmes", headers=web.headers, json=body, timeout=30)
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    if publish:
        r = httpx.post(f"{web.url}/api/v1/programmes/{pid}/publish", headers=web.admin, timeout=30)
        assert r.status_code == 200, r.text
    return pid


def searchable(web: Stack, q: str, pid: str) -> None:
    """The index follows the catalog through a worker job: wait until it has (set-up, not a check)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(f"{web.url}/api/v1/search", params={"q": q}, headers=web.headers, timeout=30)
        if pid in [h["programme"]["id"] for h in r.json()["hits"]]:
            return
        time.sleep(0.2)
    raise AssertionError(f"{q!r} never found {pid} in the index:\n{web.log_tail('worker')}")


@pytest.fixture(scope="module")
def catalog(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    tmp = tmp_path_factory.mktemp("catalog-media")
    film = web.wait(web.upload(make_media(tmp / "乡村振兴.mp4", seconds=6, width=320, height=180))["id"])
    assert film["status"] == "ready", film["error"]
    pdf = tmp / "讲义.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% handout\ntrailer<<>>\n%%EOF\n")
    handout = web.wait(web.upload(pdf)["id"])
    assert handout["status"] == "ready", handout["error"]
    rural = programme(
        web,
        title=RURAL,
        category="policy-law",
        asset_id=film["id"],
        attachment_ids=[handout["id"]],
        description="新时代乡村振兴的总要求。\n第二段：产业、人才、文化、生态、组织。",
        tags=["乡村振兴", "党课"],
    )
    # One film may be the media of several programmes: one transcode for the whole module.
    markup = programme(web, title=MARKUP, category="agri-tech", asset_id=film["id"])
    spare = programme(web, title=SPARE, category="party-spirit", asset_id=film["id"])
    draft = programme(web, publish=False, title="未完成的草稿", category="health")
    today = today_in_china().isoformat()
    study = {"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [rural]}
    r = httpx.post(f"{web.url}/api/v1/study-lists", headers=web.admin, json=study, timeout=30)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{web.url}/api/v1/study-lists/{r.json()['id']}/publish", headers=web.admin, timeout=30)
    assert r.status_code == 200, r.text
    for q, pid in ((RURAL, rural), ("粗体", markup), (SPARE, spare)):
        searchable(web, q, pid)
    return Catalog(rural=rural, markup=markup, spare=spare, draft=draft, handout=handout["id"])


def card(page: Page, pid: str) -> Any:
    return page.locator(f'a.result[data-programme-id="{pid}"]')


def test_find_a_film_by_a_chinese_search_open_it_by_keyboard_and_play_it(
    page: Page, web: Stack, catalog: Catalog
) -> None:
    login(page, "zhang.producer")
    page.goto("/ui/catalog")
    search = page.get_by_role("searchbox", name="搜索节目")
    search.fill("乡村")
    search.press("Enter")
    page.wait_for_url("**/ui/catalog?q=%E4%B9%A1%E6%9D%91")  # the query is kept in the URL
    rural = card(page, catalog.rural)
    expect(rural.locator(".title")).to_have_text(RURAL)
    expect(rural.locator(".title mark")).to_have_text("乡村")  # the match, highlighted
    expect(rural.locator(".category")).to_have_text("政策法规")
    expect(rural.locator(".badge")).to_have_text("必学")  # on a required list in force today
    expect(card(page, catalog.markup).locator(".badge")).to_have_text("选学")
    expect(rural.locator(".duration")).to_have_text("0:06")
    expect(rural.locator("img")).to_have_js_property("complete", True)
    assert rural.locator("img").evaluate("img => img.naturalWidth") > 0  # the poster loaded
    expect(page.locator("#summary")).to_contain_text("乡村")
    screenshot(page, "catalog")

    # A remote has arrow keys: from the search box down into the results, then across them.
    search.focus()
    page.keyboard.press("ArrowDown")
    first = page.locator("a.result").first
    expect(first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator("a.result").nth(1)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowUp")  # and from the top row back to the search box
    expect(search).to_be_focused()

    # Pinyin initials, as typed on a remote: xczx for 乡村振兴.
    search.fill("xczx")
    search.press("Enter")
    expect(card(page, catalog.rural)).to_be_visible()
    expect(card(page, catalog.markup)).to_have_count(0)
    page.go_back()  # history keeps each search
    expect(search).to_have_value("乡村")
    expect(card(page, catalog.markup)).to_be_visible()

    rural.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/programmes/{catalog.rural}")
    expect(page.get_by_role("heading", level=1)).to_have_text(RURAL)
    expect(page.locator(".facts")).to_contain_text("政策法规")
    expect(page.locator(".tags")).to_contain_text("党课")
    expect(page.locator(".description")).to_have_text(
        "新时代乡村振兴的总要求。\n第二段：产业、人才、文化、生态、组织。"
    )
    handout = page.get_by_role("link", name="下载：讲义.pdf")
    expect(handout).to_have_attribute("href", f"/hls/{catalog.handout}/document.pdf")
    assert page.request.get(handout.get_attribute("href") or "").body().startswith(b"%PDF")
    back = page.get_by_role("link", name="返回节目库")
    expect(back).to_have_attribute("href", "/ui/catalog?q=%E4%B9%A1%E6%9D%91")  # to the same search

    video = page.locator("#player video")
    signed_poster = re.compile(r"^/s/[^/]+/hls/[0-9a-f]+/poster\.jpg$")
    expect(video).to_have_attribute("poster", signed_poster)
    assert page.evaluate("() => typeof window.Hls === 'function' && window.Hls.isSupported()")
    # Muted, started from script: no autoplay policy in the way.
    page.evaluate(PLAY_MUTED)
    page.wait_for_function("() => document.querySelector('#player video').currentTime > 0.5")
    assert page.locator("#player .notice").count() == 0  # no playback error shown
    expect(page.locator("#programme-root")).not_to_contain_text("null")  # no admin box for producers
    screenshot(page, "programme")


def test_browse_by_category_and_required_only(page: Page, web: Stack, catalog: Catalog) -> None:
    login(page, "li.admin")
    page.goto("/ui/catalog")
    categories = page.get_by_role("navigation", name="分类")
    expect(categories.get_by_role("button")).to_have_count(9)  # 全部 and the eight categories
    categories.get_by_role("button", name="政策法规").click()
    expect(card(page, catalog.rural)).to_be_visible()
    expect(card(page, catalog.markup)).to_have_count(0)
    expect(categories.get_by_role("button", name="政策法规")).to_have_attribute("aria-pressed", "true")
    assert "category=policy-law" in page.url
    # Keyboard along the category row: the focus stays where the remote put it.
    categories.get_by_role("button", name="政策法规").focus()
    page.keyboard.press("ArrowRight")  # the next category: 农业科技
    expect(categories.get_by_role("button", name="农业科技")).to_be_focused()
    page.keyboard.press("Enter")
    expect(card(page, catalog.markup)).to_be_visible()
    expect(card(page, catalog.rural)).to_have_count(0)
    expect(categories.get_by_role("button", name="农业科技")).to_be_focused()
    categories.get_by_role("button", name="全部").click()
    expect(card(page, catalog.rural)).to_be_visible()
    expect(card(page, catalog.markup)).to_be_visible()
    page.get_by_label("只看必学").check()
    expect(card(page, catalog.markup)).to_have_count(0)
    expect(card(page, catalog.rural)).to_be_visible()
    assert "required=1" in page.url
    page.reload()  # the filter lives in the URL
    expect(page.get_by_label("只看必学")).to_be_checked()
    expect(card(page, catalog.markup)).to_have_count(0)
    # Nothing found says so, with a way out.
    page.goto("/ui/catalog?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E4%B8%AA%E8%AF%8D")  # 没有这个词
    expect(page.locator("#results")).to_contain_text("没有找到与“没有这个词”相关的节目")
    page.get_by_role("button", name="清除搜索").click()
    expect(card(page, catalog.rural)).to_be_visible()
    page.goto("/ui/catalog?lang=en&category=policy-law")  # English on request
    expect(page.get_by_role("button", name="Policies and law")).to_have_attribute("aria-pressed", "true")
    expect(card(page, catalog.rural).locator(".badge")).to_have_text("Required")


def test_markup_in_a_title_is_shown_as_text(page: Page, web: Stack, catalog: Catalog) -> None:
    login(page, "zhang.producer")
    page.goto("/ui/catalog?q=%E7%B2%97%E4%BD%93")  # 粗体
    title = card(page, catalog.markup).locator(".title")
    expect(title).to_have_text(MARKUP)
    expect(title.locator("mark")).to_have_text("粗体")
    expect(title.locator("b")).to_have_count(0)
    card(page, catalog.markup).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(MARKUP)
    expect(page.locator("#programme b")).to_have_count(0)


def test_errors_say_what_they_mean(page: Page, web: Stack, catalog: Catalog) -> None:
    login(page, "zhang.producer")
    page.goto("/ui/programmes/no-such-programme")
    expect(page.get_by_role("alert").filter(has_text="找不到这个节目")).to_contain_text("no-such-programme")
    page.goto(f"/ui/programmes/{catalog.draft}")  # the department's own draft, no film yet
    expect(page.locator(".notice.warn")).to_have_text("此节目尚未发布：只有本部门和管理员能看到。")
    expect(page.locator("#player")).to_have_text("这个节目还没有关联视频或音频。")
    expect(page.get_by_role("button", name="发布")).to_have_count(0)  # producers do not publish
    # A failing API shows the server's message in the results, with a retry.
    busy = {"error": "search_index_busy", "message": "索引忙，请稍后重试"}
    page.route("**/api/v1/search?*", lambda route: route.fulfill(status=503, json=busy))
    page.goto("/ui/catalog")
    expect(page.locator("#results [role=alert]")).to_contain_text("索引忙，请稍后重试")
    page.unroute("**/api/v1/search?*")
    page.get_by_role("button", name="重试").click()
    expect(card(page, catalog.rural)).to_be_visible()


def test_an_administrator_withdraws_and_republishes(page: Page, web: Stack, catalog: Catalog) -> None:
    login(page, "li.admin")
    page.goto(f"/ui/programmes/{catalog.spare}")
    expect(page.locator("#status")).to_have_text("已发布")
    page.get_by_label("撤下原因（可选）").fill("内容需要更新")
    page.get_by_role("button", name="撤下").click()
    expect(page.locator("#status")).to_have_text("已撤下")
    expect(page.locator(".notice.warn")).to_contain_text("此节目已撤下")
    expect(page.get_by_role("button", name="发布")).to_be_focused()
    page.goto(f"/ui/catalog?q={SPARE}")
    expect(page.locator("#results")).to_contain_text("没有找到")  # withdrawn: out of search at once
    page.goto(f"/ui/programmes/{catalog.spare}")
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#status")).to_have_text("已发布")
    expect(page.locator(".notice.warn")).to_have_count(0)


def test_without_signed_links_the_player_uses_the_session(page: Page, web: Stack, catalog: Catalog) -> None:
    """The playback API signs only for the asset's own department; another department's producer
    still plays a published programme through /hls with the session cookie."""
    login(page, "zhang.producer")
    refused = {"error": "forbidden", "message": "This asset belongs to another department."}
    page.route("**/api/v1/assets/*/playback", lambda route: route.fulfill(status=403, json=refused))
    page.goto(f"/ui/programmes/{catalog.markup}")
    video = page.locator("#player video")
    expect(video).to_have_attribute("poster", re.compile(r"^/hls/[0-9a-f]+/poster\.jpg$"))
    page.evaluate(PLAY_MUTED)
    page.wait_for_function("() => document.querySelector('#player video').currentTime > 0.5")
