"""The administrator's sites page in a real browser: register a site (the server's validation message
shown) and give it a token shown once, import sites from a GB18030 CSV with a bad row, see them as never
reported in their region, then see the site come online, in the table and in the chart's label, after
its agent reports with that token."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.stack import Stack
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

XISHU = "河北省/邢台市/临城县/西竖村"
# The template's Chinese columns and device names. Line 3 has no name and an impossible download window:
# it is refused with both problems, the rows around it are kept.
CSV = (
    "站点编码,站点名称,所属地区,终端类型,存储配额（GB）,下载时段,带宽上限（kbps）\r\n"
    "xt-lc-dongshu,东竖村党员活动室,河北省/邢台市/临城县/东竖村,机顶盒,100,01:00-05:00,2000\r\n"
    "xt-lc-bad,,河北省/邢台市/临城县/南孟村,机顶盒,,25:00-05:00,\r\n"
    "xt-lc-nanmeng,南孟村党员活动室,河北省/邢台市/临城县/南孟村,手机,,,\r\n"
)
BEIJING = timezone(timedelta(hours=8))


def containing(text: str) -> re.Pattern[str]:
    """An accessible-name pattern; Playwright's selector parser needs "/" escaped even in a regex."""
    return re.compile(re.escape(text).replace("/", r"\/"))


def region_row(page: Page, region: str) -> Any:
    return page.locator(f'#regions-body tr[data-region="{region}"]')


def test_register_import_and_see_a_site_come_online(page: Page, context: BrowserContext, web: Stack) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "li.admin")
    page.goto("/ui/admin/sites")
    expect(page.get_by_text("此地区还没有登记站点。")).to_be_visible()

    # --- register one site: the server's message for a bad field, then success ---
    page.get_by_label("站点编码").fill("xt-lc-xishu")
    page.get_by_label("站点名称").fill("西竖村党员活动室")
    page.get_by_label("所属地区").fill(" 河北省 ／ 邢台市/临城县/西竖村 ")  # tidied as the server stores it
    page.get_by_label("终端类型").select_option("iptv-legacy")
    page.get_by_label("存储配额（GB）").fill("1.5")
    page.get_by_label("下载时段").fill("1-5")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#register-error")).to_contain_text("下载时段“1-5”的格式不对")
    page.get_by_label("下载时段").fill("01:00-05:00")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#register-done")).to_contain_text("已登记站点：西竖村党员活动室（xt-lc-xishu）。")
    expect(page.locator("#register-error")).to_be_hidden()
    site = next(s for s in web.api("GET", "/sites", web.admin) if s["code"] == "xt-lc-xishu")
    assert (site["region"], site["device_profile"]) == (XISHU, "iptv-legacy")
    assert (site["quota_bytes"], site["download_window"]) == (round(1.5 * 1024**3), "01:00-05:00")

    # --- its token, shown once in a dialog with a copy button ---
    done = page.locator("#register-done")
    done.get_by_role("button", name="为 西竖村党员活动室 创建站点令牌").click()
    dialog = page.get_by_role("dialog", name="站点令牌：西竖村党员活动室（xt-lc-xishu）")
    expect(dialog).to_contain_text("令牌只显示这一次")
    token = dialog.get_by_label("令牌").input_value()
    assert token.startswith("msv_")
    dialog.get_by_role("button", name="复制", exact=True).click()
    expect(dialog).to_contain_text("已复制。")
    assert page.evaluate("navigator.clipboard.readText()") == token
    # Beside it, the link the site's boxes and VLC open its channel list with: no header needed.
    channel_list = dialog.get_by_label("频道列表链接（机顶盒、VLC）").input_value()
    assert channel_list.startswith(f"{web.url}/api/v1/sites/{site['id']}/playlist.m3u8?key=")
    dialog.get_by_role("button", name="复制链接").click()
    assert page.evaluate("navigator.clipboard.readText()") == channel_list
    opened = httpx.get(channel_list, timeout=30)
    assert opened.status_code == 200 and opened.headers["content-type"] == "audio/x-mpegurl"
    dialog.get_by_role("button", name="我已复制，关闭").click()
    expect(page.locator("#token-value")).to_have_count(0)  # the value left the page with the dialog
    expect(page.locator("#register-token")).to_be_focused()

    # --- bulk import from a file as Chinese Excel saves it (GB18030): one bad row, two imported ---
    page.get_by_label("选择 CSV 文件").set_input_files(
        files=[{"name": "站点.csv", "mimeType": "text/csv", "buffer": CSV.encode("gb18030")}]
    )
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.locator("#import-summary")).to_have_text(
        "已导入 2 个站点；1 行有误，未导入，请改正后重新导入这些行。"
    )
    bad = page.locator('#import-errors tr[data-line="3"]')
    expect(bad).to_contain_text("第 3 行")
    expect(bad).to_contain_text("“站点名称”列：必须填写，不能为空")
    expect(bad).to_contain_text("下载时段“25:00-05:00”的格式不对")
    expect(page.locator("#import-errors tbody tr")).to_have_count(1)

    # --- the overview: 河北省 with three sites, none ever reported, in the table and the chart ---
    hebei = region_row(page, "河北省")
    expect(hebei.locator("td.sites")).to_have_text("3")
    expect(hebei.locator("td.never")).to_have_text("3")
    expect(hebei.locator("td.reachable")).to_have_text("0.0%")
    chart = "河北省：畅通率 0.0%（在线 0/3），同步完成率 0.0%"
    expect(page.get_by_role("img", name=containing(chart))).to_be_visible()

    # drill down with the keyboard: the heading says where we are, the URL keeps it
    hebei.get_by_role("link", name="河北省", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="河北省 运行情况")).to_be_focused()
    expect(page.locator("#crumbs [aria-current=page]")).to_have_text("河北省")
    assert parse_qs(urlsplit(page.url).query)["region"] == ["河北省"]
    xingtai = region_row(page, "河北省/邢台市")
    expect(xingtai.locator("th")).to_have_text("邢台市")
    expect(page.get_by_role("button", name="从未上报（3）")).to_have_attribute("aria-pressed", "true")
    rows = page.locator("#site-rows tr")
    expect(rows).to_have_count(3)
    expect(page.locator('#site-rows tr[data-code="xt-lc-xishu"] td.seen')).to_have_text("从未上报")
    csv_href = page.get_by_role("link", name="下载本地区站点明细（CSV）").get_attribute("href")
    exported = page.request.get(csv_href)
    assert exported.ok and "西竖村党员活动室" in exported.text() and "南孟村党员活动室" in exported.text()

    # --- the site's agent reports with the token from the page; a refresh shows it online ---
    report = {"manifest_version": None, "bytes_missing": 0, "files_missing": 0, "files_failed": 0}
    ack = web.api(
        "POST",
        f"/sites/{site['id']}/heartbeat",
        {"Authorization": f"Bearer {token}"},
        json={**report, "agent_version": "1.0.0"},
    )
    assert ack["site_id"] == site["id"]
    page.get_by_role("button", name="刷新").click()
    expect(xingtai.locator("td.online")).to_have_text("1")
    expect(xingtai.locator("td.reachable")).to_have_text("33.3%")
    expect(xingtai.locator("td.never")).to_have_text("2")
    chart = "邢台市：畅通率 33.3%（在线 1/3）"
    expect(page.get_by_role("img", name=containing(chart))).to_be_visible()
    expect(rows).to_have_count(2)  # no longer among those never reported
    expect(page.get_by_role("button", name="从未上报（2）")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="在线（1）").click()
    online = page.locator('#site-rows tr[data-code="xt-lc-xishu"]')
    expect(online.locator("td.state")).to_have_text("在线")
    seen = web.api("GET", "/fleet/sites", web.admin, params={"region": XISHU})["items"][0]["last_seen_at"]
    beijing = datetime.fromisoformat(seen).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    expect(online.locator("td.seen time")).to_have_text(beijing)  # Beijing time whatever the browser's
    expect(online).to_contain_text("1.0.0")
    screenshot(page, "sites")

    # back returns to every region, which now counts the report too
    page.go_back()
    expect(page.locator("#crumbs [aria-current=page]")).to_have_text("全部地区")
    expect(region_row(page, "河北省").locator("td.reachable")).to_have_text("33.3%")

    # the same page in English: the words and the chart's label follow the language
    page.goto("/ui/admin/sites?lang=en&region=河北省")
    expect(page.get_by_role("heading", name="Fleet status: 河北省")).to_be_visible()
    chart = "邢台市: reachable 33.3% (1 of 3 online), in sync 0.0%"
    expect(page.get_by_role("img", name=containing(chart))).to_be_visible()
