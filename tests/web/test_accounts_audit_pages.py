"""The administrator's accounts-and-tokens page and the audit log in a real browser: a department and a
producer made on the page can log in until disabled; a token is shown once, works, is revoked on the
page and stops working; an account locked by failed logins shows until when and is unlocked on the
page, or by a new password; the audit log names who did each of these, filters, and shows before/after."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from mediasrv.accounts.service import MAX_FAILURES_PER_USER
from mediasrv.kit.caller import Role
from tests.e2e.stack import Stack
from tests.web.conftest import PASSWORD, login, screenshot

pytestmark = pytest.mark.e2e

EDITOR_PASSWORD = "宣传-Propaganda-2026"


def session_status(web: Stack, token: str) -> int:
    r = httpx.get(f"{web.url}/auth/session", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return r.status_code


def test_accounts_tokens_and_their_audit_trail(page: Page, browser: Browser, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/accounts")

    # --- a department, then a producer in it (the password policy is the server's message) ---
    page.get_by_label("部门名称").fill("宣传部")
    page.get_by_role("button", name="添加部门").click()
    expect(page.locator("#units-body")).to_contain_text("宣传部")
    form = page.locator("#person-form")
    form.get_by_label("用户名").fill("wang.editor")
    form.get_by_label("姓名").fill("王编辑")
    form.get_by_label("角色").select_option(label="编导")
    form.get_by_label("部门").select_option(label="宣传部")
    form.get_by_label("初始密码").fill("short")
    form.get_by_role("button", name="创建账号").click()
    expect(page.get_by_role("alert")).to_contain_text("密码太短")
    form.get_by_label("初始密码").fill(EDITOR_PASSWORD)
    form.get_by_role("button", name="创建账号").click()
    expect(page.get_by_role("alert")).to_have_text("已创建账号 wang.editor。")
    row = page.locator('#people-body tr[data-username="wang.editor"]')
    expect(row).to_contain_text("王编辑")
    expect(row).to_contain_text("编导")
    expect(row).to_contain_text("宣传部")
    expect(row).to_contain_text("正常")

    # --- he logs in (a browser of his own) and lands on the upload page ---
    theirs = browser.new_context(base_url=web.url, locale="zh-CN")
    try:
        other = theirs.new_page()
        login(other, "wang.editor", EDITOR_PASSWORD)
        expect(other).to_have_url(f"{web.url}/ui/upload")

        # --- disabled by keyboard alone (the confirmation's button has the focus): no more login ---
        page.reload()
        expect(row.get_by_role("button", name="停用：wang.editor")).to_be_visible()
        row.get_by_role("button", name="停用：wang.editor").focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="停用账号？")
        expect(dialog).to_contain_text("王编辑（wang.editor）")
        expect(dialog.get_by_role("button", name="停用")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_have_text("已停用 王编辑（wang.editor）。")
        expect(row).to_contain_text("已停用")
        expect(row.get_by_role("button", name="启用：wang.editor")).to_be_visible()
        other.goto("/ui/upload")  # his open session ended with the account
        expect(other).to_have_url(f"{web.url}/login?next=/ui/upload")
        other.get_by_label("用户名").fill("wang.editor")
        other.get_by_label("密码").fill(EDITOR_PASSWORD)
        other.get_by_role("button", name="登录").click()
        expect(other.get_by_role("alert")).to_have_text("用户名或密码不正确。")
        expect(other).to_have_url(f"{web.url}/login?next=/ui/upload")
    finally:
        theirs.close()

    # --- a service account and a token for it: shown once, it works, revoked on the page it does not ---
    form.get_by_label("用户名").fill("sync.robot")
    form.get_by_label("姓名").fill("同步程序")
    form.get_by_label("角色").select_option(label="管理员")
    form.get_by_label("服务账号").check()
    expect(form.get_by_label("初始密码")).to_be_disabled()
    form.get_by_role("button", name="创建账号").click()
    expect(page.locator('#people-body tr[data-username="sync.robot"]')).to_contain_text("服务账号")
    tokens = page.locator("#token-form")
    tokens.get_by_label("令牌名称").fill("夜间同步")
    tokens.get_by_label("账号", exact=True).select_option(label="同步程序（sync.robot） · 服务账号")
    tokens.get_by_role("button", name="创建令牌").click()
    dialog = page.get_by_role("dialog", name="新令牌：请立即复制")
    expect(dialog).to_contain_text("只显示这一次")
    expect(dialog.get_by_role("button", name="复制")).to_be_visible()
    plain = dialog.get_by_label("令牌").input_value()
    assert plain.startswith("msv_")
    r = httpx.get(f"{web.url}/auth/session", headers={"Authorization": f"Bearer {plain}"}, timeout=30)
    assert r.status_code == 200 and r.json()["username"] == "sync.robot"
    dialog.get_by_role("button", name="我已保存，关闭").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    token_row = page.locator("#tokens-body tr", has_text="夜间同步")
    expect(token_row).to_contain_text("同步程序（sync.robot）")
    expect(token_row).to_contain_text("有效")
    assert plain not in page.content()  # the value lived only in the dialog
    page.reload()
    assert plain not in page.content()
    token_row.get_by_role("button", name="吊销：夜间同步").click()
    page.get_by_role("dialog", name="吊销令牌？").get_by_role("button", name="吊销").click()
    expect(token_row).to_contain_text("已吊销")
    expect(token_row.get_by_role("button")).to_have_count(0)
    # Revocation reaches every API process through a shared epoch: allow it that long, no more.
    deadline = time.monotonic() + 10
    while session_status(web, plain) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_status(web, plain) == 401
    page.get_by_label("查找").first.fill("王")  # search people by (Chinese) name
    expect(page.locator("#people-body tr")).to_have_count(1)
    page.get_by_label("查找").first.fill("")
    assert plain not in page.content()
    screenshot(page, "accounts")

    # --- the audit log: who did all this, filtered, and a change as before/after in Beijing time ---
    page.goto("/ui/admin/audit")
    events = page.locator("#events-body tr.event")
    expect(events.first).to_be_visible()
    for label in ("新建账号", "停用账号", "新建令牌", "吊销令牌", "新建部门"):
        by_admin = events.filter(has_text=label).filter(has_text="li.admin")
        expect(by_admin.first).to_be_visible()
    newest = events.first.locator("time")
    at = datetime.fromisoformat(newest.get_attribute("datetime") or "")
    expect(newest).to_have_text(at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S"))

    actions = page.get_by_label("操作", exact=True)
    # Every action the server records is offered, by its Chinese name (the page keeps no list of its own).
    expect(actions.locator("option[value='fault.report']")).to_have_text("登记故障（fault.report）")
    actions.select_option("user.update")
    page.get_by_role("button", name="筛选", exact=True).click()
    expect(page).to_have_url(f"{web.url}/ui/admin/audit?action=user.update")
    expect(events).to_have_count(1)  # the filter is the server's: one change of an account
    event = events.first
    expect(event).to_contain_text("停用账号")
    expect(event).to_contain_text("wang.editor")
    event.get_by_role("button", name="展开：停用账号", exact=False).click()
    diff = page.locator("#events-body tr.detail:not([hidden]) table.diff")
    changed = diff.locator("tr.changed")
    expect(changed).to_have_count(1)
    expect(changed.locator("th")).to_have_text("启用")
    expect(changed.locator("del")).to_have_text("是")
    expect(changed.locator("ins")).to_have_text("否")
    expect(event.get_by_role("button", name="收起：停用账号", exact=False)).to_have_attribute(
        "aria-expanded", "true"
    )
    screenshot(page, "audit")

    page.reload()  # the filter is in the address: a reload (or a shared link) keeps it
    expect(page.get_by_label("操作", exact=True)).to_have_value("user.update")
    expect(events).to_have_count(1)
    page.get_by_role("button", name="清除条件").click()
    expect(events.filter(has_text="新建令牌").first).to_be_visible()
    # A day long ago: nothing that happened today.
    page.get_by_label("结束日期").fill("2000-01-01")
    page.get_by_role("button", name="筛选", exact=True).click()
    expect(page.get_by_text("没有符合条件的记录。")).to_be_visible()


def test_audit_page_in_english_lists_the_users_actions(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/audit?lang=en&action=auth.login")
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    events = page.locator("#events-body tr.event")
    expect(events.filter(has_text="Logged in").filter(has_text="li.admin").first).to_be_visible()
    expect(page.locator("#range")).to_contain_text("of")


def try_login(web: Stack, username: str, password: str) -> int:
    r = httpx.post(f"{web.url}/auth/login", data={"username": username, "password": password}, timeout=30)
    return r.status_code


def lock(web: Stack, username: str) -> None:
    for i in range(MAX_FAILURES_PER_USER):
        assert try_login(web, username, f"wrong-{i}-password") == 401
    assert try_login(web, username, PASSWORD) == 429


def test_a_locked_account_is_unlocked_on_the_page_and_by_a_new_password(page: Page, web: Stack) -> None:
    web.person("zhao.locked", Role.PRODUCER, PASSWORD, display_name="赵会计")
    lock(web, "zhao.locked")
    login(page, "li.admin")
    page.goto("/ui/admin/accounts")
    row = page.locator('#people-body tr[data-username="zhao.locked"]')
    users = httpx.get(f"{web.url}/api/v1/users", headers=web.admin, timeout=30).json()
    until = datetime.fromisoformat(next(u["locked_until"] for u in users if u["username"] == "zhao.locked"))
    shown = until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    expect(row).to_contain_text(f"登录已锁定，至 {shown}")  # the server's time, in Beijing time
    screenshot(page, "accounts-locked")

    row.get_by_role("button", name="解锁：zhao.locked").click()
    expect(page.get_by_role("alert")).to_have_text("已解锁 赵会计（zhao.locked），现在可以登录。")
    expect(row).not_to_contain_text("登录已锁定")
    expect(row.get_by_role("button", name="解锁：zhao.locked")).to_have_count(0)
    expect(row.get_by_role("button", name="停用：zhao.locked")).to_be_focused()  # not lost to <body>
    assert try_login(web, "zhao.locked", PASSWORD) == 200

    # Locked again, a new password set on the page lifts the lock too.
    lock(web, "zhao.locked")
    page.reload()
    expect(row).to_contain_text("登录已锁定")
    row.get_by_role("button", name="重置密码：zhao.locked").click()
    dialog = page.get_by_role("dialog", name="为 赵会计（zhao.locked） 设置新密码")
    dialog.get_by_label("新密码").fill(EDITOR_PASSWORD)
    dialog.get_by_role("button", name="设置密码").click()
    expect(page.get_by_role("alert")).to_have_text("已重置 赵会计（zhao.locked） 的密码。")
    expect(row).not_to_contain_text("登录已锁定")
    assert try_login(web, "zhao.locked", EDITOR_PASSWORD) == 200
