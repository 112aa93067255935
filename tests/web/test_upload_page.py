"""The producer's upload page in a real browser: a resumable upload that survives a dropped
connection, the transcode's progress live, then the programme saved as a draft."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest.models import ResumableUpload
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

CHUNK = 32 * 1024  # small chunks: a small film still takes many PATCHes


def test_upload_survives_a_dropped_connection_then_transcodes_and_saves_a_draft(
    page: Page, web: Stack, tmp_path: Path
) -> None:
    film = make_media(tmp_path / "党员教育 第3集.mp4", seconds=3, width=160, height=90)
    assert film.stat().st_size > 4 * CHUNK, "the film should take several chunks"
    handout = tmp_path / "学习课件.pdf"
    handout.write_bytes(b"%PDF-1.4\n% courseware\ntrailer<<>>\n%%EOF\n")

    patches: list[str] = []
    aborted: list[str] = []

    def drop_the_second_patch_once(route: Route) -> None:
        if route.request.method == "PATCH":
            patches.append(route.request.url)
            if len(patches) == 2 and not aborted:
                aborted.append(route.request.url)
                route.abort("connectionreset")
                return
        route.continue_()

    login(page, "zhang.producer")
    page.route("**/api/v1/uploads/*", drop_the_second_patch_once)
    page.goto(f"/ui/upload?chunk_bytes={CHUNK}")
    # Every value the bar takes, to check that it never goes back (not even after the break).
    page.evaluate(
        """() => {
          window.barValues = [];
          const bar = document.getElementById("upload-progress");
          new MutationObserver(() => window.barValues.push(Number(bar.getAttribute("value"))))
            .observe(bar, { attributes: true, attributeFilter: ["value"] });
        }"""
    )
    page.get_by_label("选择影片或音频文件").set_input_files(film)

    bar = page.get_by_role("progressbar", name="上传进度")
    expect(page.locator("#upload-percent")).to_have_text("100 %")
    expect(bar).to_have_attribute("value", "100")
    expect(page.locator("#upload-status")).to_have_text("上传完成")
    assert len(aborted) == 1 and len(patches) > 4, (aborted, patches)
    values: list[int] = page.evaluate("window.barValues")
    assert values == sorted(values), f"the bar went back: {values}"

    # The transcode, live, until ready.
    expect(page.get_by_role("progressbar", name="转码进度")).to_be_visible()
    expect(page.locator("#transcode-status")).to_have_text("就绪", timeout=180_000)

    # The programme: the title comes from the file name; Chinese comma and plain comma both split tags.
    title = page.get_by_label("节目标题")
    expect(title).to_have_value("党员教育 第3集")
    title.fill("党员教育 第3集：初心使命")
    page.get_by_label("节目简介").fill("村党支部书记讲述乡村振兴中的党员担当。")
    categories = httpx.get(f"{web.url}/api/v1/categories", headers=web.headers, timeout=30).json()
    category = categories[0]
    page.get_by_label("栏目分类").select_option(label=category["name_zh"])
    page.get_by_label("课件附件（PDF，可多选）").set_input_files(handout)
    tags = page.get_by_label("标签（用逗号分隔）")
    tags.fill("乡村振兴，党课, 二十大")
    tags.press("Enter")  # a remote's OK submits the form

    saved = page.locator("#saved")
    expect(saved).to_contain_text("节目已保存为草稿")
    link = saved.get_by_role("link")
    expect(link).to_be_focused()
    href = link.get_attribute("href") or ""
    assert href.startswith("/ui/programmes/")
    programme_id = href.rsplit("/", 1)[1]

    r = httpx.get(f"{web.url}/api/v1/programmes/{programme_id}", headers=web.admin, timeout=30)
    assert r.status_code == 200, r.text
    draft = r.json()
    assert draft["status"] == "draft"
    assert draft["title"] == "党员教育 第3集：初心使命"
    assert draft["category"]["code"] == category["code"]
    assert draft["tags"] == ["乡村振兴", "党课", "二十大"]
    assert draft["asset_status"] == "ready"
    assert [a["filename"] for a in draft["attachments"]] == ["学习课件.pdf"]
    asset = httpx.get(f"{web.url}/api/v1/assets/{draft['asset_id']}", headers=web.headers, timeout=30).json()
    assert asset["filename"] == film.name and asset["size_bytes"] == film.stat().st_size
    screenshot(page, "upload")


def test_a_reload_mid_upload_resumes_from_the_servers_offset(page: Page, web: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "支部书记谈党建.mp4", seconds=2.5, width=160, height=90)
    offsets: list[int] = []
    line_down = [True]

    def cut_after_two_chunks(route: Route) -> None:
        if route.request.method == "PATCH":
            offsets.append(int(route.request.headers["upload-offset"]))
            if line_down[0] and len(offsets) > 2:
                route.abort("internetdisconnected")
                return
        route.continue_()

    login(page, "zhang.producer")
    page.route("**/api/v1/uploads/*", cut_after_two_chunks)
    page.goto(f"/ui/upload?chunk_bytes={CHUNK}")
    page.get_by_label("选择影片或音频文件").set_input_files(film)
    expect(page.locator("#upload-status")).to_contain_text("秒后自动续传")  # the line is down
    sent = offsets[1] + CHUNK  # the two chunks that arrived

    line_down[0] = False
    page.reload()  # the producer gives up on the tab; the browser remembers the upload
    expect(page.locator("#pending")).to_contain_text(film.name)
    offsets.clear()
    page.get_by_label("选择影片或音频文件").set_input_files(film)
    expect(page.locator("#upload-percent")).to_have_text("100 %")
    assert offsets[0] == sent, f"after the reload the upload started again at {offsets[0]}, not {sent}"
    asset = page.evaluate("""() => fetch("/api/v1/assets?limit=1").then((r) => r.json())""")["items"][0]
    assert asset["filename"] == film.name and asset["size_bytes"] == film.stat().st_size


def test_cancel_by_keyboard_removes_the_upload_everywhere(page: Page, web: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "取消的影片.mp4", seconds=2, width=160, height=90)
    page.route(  # the line is down: the upload waits to resume, then the producer cancels it
        "**/api/v1/uploads/*",
        lambda route: route.abort() if route.request.method == "PATCH" else route.continue_(),
    )
    login(page, "zhang.producer")
    page.goto(f"/ui/upload?chunk_bytes={CHUNK}")
    with page.expect_response(lambda r: r.request.method == "POST" and "/api/v1/uploads" in r.url) as created:
        page.get_by_label("选择影片或音频文件").set_input_files(film)
    upload_id = created.value.headers["location"].rsplit("/", 1)[1]
    expect(page.locator("#upload-status")).to_contain_text("秒后自动续传")
    cancel = page.get_by_role("button", name="取消上传")
    expect(cancel).to_be_focused()  # focus follows the upload: OK on the remote cancels
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("已取消上传。")
    expect(page.get_by_label("选择影片或音频文件")).to_be_focused()
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('tus:'))") == []
    db = Database(Settings(data_dir=web.data_dir).resolved_database_url)
    try:
        with db.session_scope() as s:
            assert s.get(ResumableUpload, upload_id) is None, "the server kept the upload"
    finally:
        db.dispose()
    assert not (web.data_dir / "objects" / "uploads" / upload_id).exists()
