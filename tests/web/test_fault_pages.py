"""Open faults on the administrator's pages in a real browser: counted per kind on the fleet page
(within the region shown), listed on the site's page with what is known of each, and a reported one
closed there with a note (a detected one cannot be: it closes by itself)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Stack
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

DONGSHU = "河北省/邢台市/临城县/东竖村"


def test_open_faults_on_the_fleet_page_and_a_reported_one_closed_on_the_site_page(
    page: Page, web: Stack
) -> None:
    site = web.api(
        "POST",
        "/sites",
        web.admin,
        json={"code": "lc-dongshu-f", "name": "东竖村党员活动室", "region": DONGSHU},
    )
    token = web.api("POST", "/tokens", web.admin, json={"name": "东竖村", "site_id": site["id"]})["token"]
    as_site = {"Authorization": f"Bearer {token}"}
    reported_at = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    for note in ("电视不亮了", "换了插座也不亮"):  # two reports from the site view: one fault
        body = {"id": uuid.uuid4().hex, "kind": "tv_broken", "note": note, "reported_at": reported_at}
        web.api("POST", f"/sites/{site['id']}/fault-reports", as_site, json=body)
    web.api(
        "POST", "/faults", web.admin, json={"site_id": site["id"], "kind": "line_down", "note": "支书来电"}
    )

    login(page, "li.admin")
    page.goto("/ui/admin/sites?region=" + DONGSHU)
    faults = page.locator("#open-faults")
    expect(faults.get_by_role("heading", name="未修复故障")).to_be_visible()
    expect(faults.locator('li[data-kind="tv_broken"]')).to_have_text("电视坏了 1 个")
    expect(faults.locator('li[data-kind="line_down"]')).to_have_text("网络不通 1 个")
    page.goto("/ui/admin/sites?region=山西省")  # another region: none of these
    expect(page.locator("#open-faults")).to_contain_text("没有未修复的故障。")

    page.goto(f"/ui/admin/sites/{site['id']}/study")
    listed = page.locator("#fault-list")
    tv = listed.locator('tr[data-kind="tv_broken"]')
    expect(tv.locator("th")).to_contain_text("电视坏了")
    expect(tv.locator("td.evidence")).to_contain_text("站点报告 2 次")
    expect(tv.locator("td.evidence")).to_contain_text("电视不亮了")
    expect(listed.locator("tbody tr")).to_have_count(2)
    screenshot(page, "site_faults")

    # Closing needs a note; with one, the fault leaves the list.
    tv.get_by_role("button", name="关闭故障：电视坏了").click()
    expect(tv.get_by_role("alert")).to_have_text("请写明处理情况（例如：已更换电视机）。")
    tv.get_by_label("电视坏了的处理情况").fill("已更换电视机")
    tv.get_by_role("button", name="关闭故障：电视坏了").click()
    expect(page.locator("#faults-done")).to_have_text("已关闭故障：电视坏了。")
    expect(page.locator("#faults-done")).to_be_focused()
    expect(listed.locator("tbody tr")).to_have_count(1)
    closed = web.api("GET", f"/sites/{site['id']}/faults?open_only=false", web.admin)["items"]
    tv_fault = next(f for f in closed if f["kind"] == "tv_broken")
    assert tv_fault["closed_note"] == "已更换电视机" and tv_fault["closed_at"] is not None
