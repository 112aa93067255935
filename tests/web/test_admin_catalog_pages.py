"""The administrator's catalog pages in a real browser: publish a draft, build a required-study list
(search in Chinese, reorder with the keyboard and by dragging, target a region), publish it, and see
what a site in that region must study; withdraw a programme and see it leave the site's list."""

from __future__ import annotations

import time
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from mediasrv.protocol.china import today_in_china
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

FIRST, SECOND, THIRD = "党史学习第一课：红船精神", "党史学习第二课：长征精神", "党史学习第三课：延安精神"
NO_MEDIA = "乡村振兴讲座（待上传）"
VILLAGE = "河北省/邢台市/信都区/西黄村镇/某村"


def search_finds(web: Stack, q: str, ids: set[str]) -> None:
    """The index follows the catalog through a worker job: wait until it holds what the page searches."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        hits = web.api("GET", "/search", web.admin, params={"q": q, "per_page": 50})["hits"]
        if ids <= {h["programme"]["id"] for h in hits}:
            return
        time.sleep(0.3)
    raise AssertionError(f"search for {q!r} never found {ids}:\n{web.log_tail('worker')}")


@pytest.fixture(scope="module")
def catalog(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two published programmes, a draft with ready media, a draft without media, a site in 邢台."""
    films = tmp_path_factory.mktemp("films")
    # different lengths: identical files would be one asset (uploads are deduplicated by checksum)
    lengths = {1: 2.0, 2: 2.5, 3: 3.0}
    assets = [web.upload(make_media(films / f"第{n}课.mp4", seconds=s))["id"] for n, s in lengths.items()]
    for asset_id in assets:
        assert web.wait(asset_id)["status"] == "ready", web.log_tail("worker")
    first = web.publish(assets[0], FIRST, "party-history")
    second = web.publish(assets[1], SECOND, "party-history")
    body = {"title": THIRD, "category": "party-history", "asset_id": assets[2]}
    third = web.api("POST", "/programmes", web.headers, json=body)["id"]
    no_media = web.api("POST", "/programmes", web.headers, json={"title": NO_MEDIA, "category": "agri-tech"})
    place = {"code": "hb-xt-mou", "name": "某村党员活动室", "region": VILLAGE}
    site = web.api("POST", "/sites", web.admin, json=place)
    return {"first": first, "second": second, "third": third, "no_media": no_media["id"], "site": site["id"]}


def row(page: Page, programme_id: str) -> Any:
    return page.locator(f'tr[data-id="{programme_id}"]')


def test_build_and_publish_a_required_list(page: Page, web: Stack, catalog: dict[str, Any]) -> None:
    first, second, third = catalog["first"], catalog["second"], catalog["third"]
    login(page, "li.admin")

    # --- publishing: the draft with ready media is published; the one without media cannot be ---
    page.goto("/ui/admin/programmes?status=draft")
    expect(page.get_by_role("button", name="草稿", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(row(page, catalog["no_media"]).get_by_role("button", name=f"发布：{NO_MEDIA}")).to_be_disabled()
    expect(row(page, catalog["no_media"])).to_contain_text("尚未关联影片或音频")
    expect(row(page, third)).to_contain_text("县电教中心")  # the department by name
    expect(row(page, third)).to_contain_text("党史教育")
    row(page, third).get_by_role("button", name=f"发布：{THIRD}").click()
    dialog = page.get_by_role("dialog", name="发布节目？")
    expect(dialog.get_by_role("button", name="发布", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(row(page, third).locator("td.state")).to_have_text("已发布")
    expect(page.get_by_role("alert")).to_have_text(f"《{THIRD}》已发布。")
    assert web.api("GET", f"/programmes/{third}", web.admin)["status"] == "published"
    search_finds(web, "党史", {first, second, third})

    # --- a new required list for this month in 河北省/邢台市 ---
    page.goto("/ui/admin/study-lists")
    # the region suggestions come from registered sites, with every parent of their paths
    expect(page.locator('#known-regions option[value="河北省/邢台市"]')).to_have_count(1)
    page.get_by_role("button", name="新建清单").click()
    page.get_by_label("清单名称").fill("本月必学清单（邢台）")
    page.get_by_label("结束日期").fill("2000-01-01")
    page.get_by_label("应学课时").fill("4")
    region = page.get_by_label("添加地区")
    region.fill(" 河北省 ／ 邢台市 ")  # spaces and a full-width slash are tidied
    region.press("Enter")
    expect(page.get_by_role("button", name="移除地区：河北省/邢台市")).to_be_visible()
    page.get_by_role("button", name="创建清单").click()
    expect(page.get_by_role("alert")).to_contain_text("结束日期不能早于开始日期")  # the server's word
    today = today_in_china()
    month_end = date(today.year + today.month // 12, today.month % 12 + 1, 1).toordinal() - 1
    page.get_by_label("结束日期").fill(date.fromordinal(month_end).isoformat())
    page.get_by_role("button", name="创建清单").click()
    expect(page.get_by_role("heading", name="本月必学清单（邢台）")).to_be_focused()
    list_id = int(parse_qs(urlsplit(page.url).query)["list"][0])

    # --- find the programmes in Chinese and add them (the second by keyboard) ---
    page.get_by_label("搜索已发布的节目").fill("党史")
    page.keyboard.press("Enter")
    results = page.locator("#results")
    expect(results.locator("mark").first).to_have_text("党史")  # highlights as elements, not markup text
    expect(results).not_to_contain_text("<mark>")
    results.get_by_role("button", name=f"加入：{FIRST}").click()
    results.get_by_role("button", name=f"加入：{SECOND}").focus()
    page.keyboard.press("Enter")
    expect(results.get_by_role("button", name=f"已加入：{SECOND}")).to_be_disabled()
    results.get_by_role("button", name=f"加入：{THIRD}").click()
    titles = page.locator("#items li.item .title")
    expect(titles).to_have_text([FIRST, SECOND, THIRD])
    expect(page.get_by_text("有未保存的修改")).to_be_visible()

    # --- reorder: twice down with the keyboard (focus stays on the button), then by dragging ---
    page.get_by_role("button", name=f"下移：{FIRST}").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=f"下移：{FIRST}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(titles).to_have_text([SECOND, THIRD, FIRST])
    expect(page.get_by_role("button", name=f"下移：{FIRST}")).to_be_disabled()  # now last
    page.locator(f'#items li[data-id="{third}"]').drag_to(page.locator(f'#items li[data-id="{second}"]'))
    expect(titles).to_have_text([THIRD, SECOND, FIRST])

    # --- publish (what is on screen is saved first) ---
    page.locator("#publish").click()
    dialog = page.get_by_role("dialog", name="发布清单？")
    expect(dialog).to_contain_text("河北省/邢台市")
    dialog.get_by_role("button", name="发布", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("清单已发布。")
    expect(page.locator("#editor-h")).to_contain_text("已发布")
    expect(page.locator("#publish")).to_have_count(0)  # published once; archive stays
    expect(page.locator(f'#lists-body tr[data-id="{list_id}"]')).to_contain_text("已发布")
    screenshot(page, "study-lists")

    saved = web.api("GET", f"/study-lists/{list_id}", web.admin)
    assert saved["status"] == "published" and saved["kind"] == "required"
    assert saved["regions"] == ["河北省/邢台市"] and saved["expected_hours"] == 4
    assert [i["programme_id"] for i in saved["items"]] == [third, second, first]
    required = web.api("GET", f"/sites/{catalog['site']}/required", web.admin)
    assert [p["id"] for p in required["programmes"]] == [third, second, first]

    # --- withdraw one: its state changes on the page and it leaves the site's list ---
    page.goto("/ui/admin/programmes")
    row(page, second).get_by_role("button", name=f"撤下：{SECOND}").click()
    dialog = page.get_by_role("dialog", name="撤下节目？")
    dialog.get_by_label("撤下原因").fill("内容需要更新")
    dialog.get_by_role("button", name="撤下", exact=True).click()
    expect(row(page, second).locator("td.state")).to_have_text("已撤下")
    expect(row(page, second).get_by_role("button", name=f"发布：{SECOND}")).to_be_enabled()  # can return
    screenshot(page, "publishing")
    assert web.api("GET", f"/programmes/{second}", web.admin)["status"] == "withdrawn"
    required = web.api("GET", f"/sites/{catalog['site']}/required", web.admin)
    assert [p["id"] for p in required["programmes"]] == [third, first]


def test_cancelling_a_confirmation_changes_nothing(page: Page, web: Stack, catalog: dict[str, Any]) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/programmes?status=published")
    row(page, catalog["first"]).get_by_role("button", name=f"撤下：{FIRST}").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row(page, catalog["first"]).get_by_role("button", name=f"撤下：{FIRST}")).to_be_focused()
    assert web.api("GET", f"/programmes/{catalog['first']}", web.admin)["status"] == "published"


def test_an_archived_list_is_history_and_read_only_in_english_too(
    page: Page, web: Stack, catalog: dict[str, Any]
) -> None:
    body = {
        "title": "Optional reading",
        "kind": "optional",
        "starts_on": "2026-01-01",
        "ends_on": "2026-01-02",
    }
    made = web.api("POST", "/study-lists", web.admin, json={**body, "programme_ids": [catalog["first"]]})
    login(page, "li.admin")
    page.goto(f"/ui/admin/study-lists?lang=en&list={made['id']}")  # a list opened straight from its link
    expect(page.get_by_role("heading", name="Optional reading")).to_be_focused()
    page.get_by_role("button", name="Archive", exact=True).click()
    page.get_by_role("dialog", name="Archive this list?").get_by_role("button", name="Archive").click()
    expect(page.get_by_role("alert")).to_have_text("The list is archived.")
    expect(page.get_by_text("This list is archived: it can be read, not changed.")).to_be_visible()
    editor = page.locator("#editor")
    expect(editor.get_by_role("button", name="Save")).to_have_count(0)
    expect(editor.get_by_role("button", name=f"Up：{FIRST}")).to_have_count(0)
    expect(editor.get_by_label("Name")).to_be_disabled()
    page.get_by_label("Status").select_option("archived")
    expect(page.locator("#lists-body tr")).to_have_count(1)
    assert web.api("GET", f"/study-lists/{made['id']}", web.admin)["status"] == "archived"
