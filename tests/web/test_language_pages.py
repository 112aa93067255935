"""Languages on the administrators' pages in a real browser, by keyboard: the county's languages set on
the sites page, a village site's page then says it holds them 「继承自」 the county, and the site's own
choice replaces them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Stack
from tests.web.conftest import login

pytestmark = pytest.mark.e2e

COUNTY = "河北省/邢台市/任泽区"


def test_a_county_sets_its_languages_and_a_site_inherits_them(page: Page, web: Stack) -> None:
    site = web.api(
        "POST", "/sites", json={"code": "rz-langs", "name": "东庄村活动室", "region": f"{COUNTY}/东庄村"}
    )
    login(page, "li.admin")
    page.goto(f"/ui/admin/sites?region={COUNTY}")
    section = page.locator("#region-languages")
    expect(section.get_by_role("heading", name=f"{COUNTY} 站点的语言")).to_be_visible()
    expect(page.locator("#languages-own")).to_have_text("本地区没有设置")
    choose = section.get_by_role("group", name="选择语言")
    choose.get_by_role("checkbox", name="藏语").focus()
    page.keyboard.press("Space")
    section.get_by_role("button", name="保存语言").press("Enter")
    expect(page.locator("#languages-own")).to_have_text("本地区设置：藏语")
    expect(page.locator("#region-languages-form-status")).to_have_text("语言已保存。")
    assert web.api("GET", f"/sites/{site['id']}")["effective_languages"] == ["bo"]

    page.goto(f"/ui/admin/sites/{site['id']}/study")
    held = page.locator("#site-languages-held")
    expect(held).to_have_text(f"藏语（继承自{COUNTY}）")
    box = page.locator("#site-languages")
    box.get_by_role("checkbox", name="维吾尔语").check()
    box.get_by_role("button", name="保存语言").click()
    expect(held).to_have_text("维吾尔语")
    assert web.api("GET", f"/sites/{site['id']}")["languages"] == ["ug"]
