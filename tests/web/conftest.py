"""Browser tests: Playwright driving Debian's chromium (headless, no sandbox) against a real stack
on loopback. Screenshots of each page go to var/screenshots/ at the repository's root."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from mediasrv.kit.caller import Role
from tests.e2e.stack import Stack
from tests.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "长城-Great-Wall-2026"  # a person's password: long, and not only ASCII
PEOPLE = {"zhang.producer": Role.PRODUCER, "li.admin": Role.ADMIN}
NAMES = {"zhang.producer": "张编导", "li.admin": "李管理员"}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium()
    if executable is None:
        missing = FileNotFoundError("no chromium on PATH (make test installs it: apt-get install chromium)")
        unavailable("CHROMIUM", "browser", missing)
    # --no-sandbox: tests run as root in a container, where chromium's sandbox cannot start.
    b = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
    yield b
    b.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack on loopback with a producer and an administrator who log in with passwords."""
    stack = Stack(tmp_path_factory.mktemp("web") / "var").start()
    try:
        for username, role in PEOPLE.items():
            stack.person(username, role, PASSWORD, display_name=NAMES.get(username, ""))
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def context(browser: Browser, web: Stack) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=web.url, locale="zh-CN", viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Muted and started from script (no autoplay policy in the way). hls.js attaching its MediaSource is a
# new load that aborts a play() already asked for (AbortError): ask again, as a player page would.
PLAY_MUTED = """async () => {
  const v = document.querySelector('#player video');
  v.muted = true;
  for (let i = 0; ; i++) {
    // play() can stay pending (a stalled stream): fail the test rather than hang the tier.
    const late = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('play() did not start in 20 s')), 20000));
    try { await Promise.race([v.play(), late]); return; } catch (e) {
      if (e.name !== 'AbortError' || i >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}"""
