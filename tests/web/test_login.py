"""Logging in, in a real browser: wrong password, the way back to the page asked for, keyboard use."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mediasrv.web.router import safe_next
from tests.e2e.stack import Stack
from tests.web.conftest import PASSWORD, login, screenshot

pytestmark = pytest.mark.e2e


def test_a_wrong_password_says_so_and_a_right_one_goes_back_where_asked(page: Page, web: Stack) -> None:
    page.goto("/ui/catalog?q=党史")
    expect(page).to_have_url(f"{web.url}/login?next=/ui/catalog%3Fq%3D%25E5%2585%259A%25E5%258F%25B2")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(page, "login")
    page.get_by_label("用户名").fill("zhang.producer")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码不正确。")
    page.get_by_label("密码").fill(PASSWORD)
    page.keyboard.press("Enter")  # a TV remote's OK: submit without the mouse
    page.wait_for_url(f"{web.url}/ui/catalog?q=%E5%85%9A%E5%8F%B2")  # the search asked for, intact


def test_the_pages_speak_english_on_request_and_remember_it(page: Page, web: Stack) -> None:
    page.goto("/login?lang=en")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/login")  # the cookie keeps the choice
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def test_keyboard_alone_reaches_the_skip_link_and_logs_out(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    page.get_by_role("button", name="退出").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    page.goto("/ui/catalog")
    expect(page).to_have_url(f"{web.url}/login?next=/ui/catalog")


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/ui/catalog?q=%E5%85%9A", "/ui/catalog?q=%E5%85%9A"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("ui/catalog", "/"),
        (None, "/"),
    ],
)
def test_the_way_back_after_login_stays_on_this_server(asked: str | None, goes: str) -> None:
    assert safe_next(asked) == goes
