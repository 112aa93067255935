"""Study records on the site view in a real browser, with the keys of a TV remote only: a member records
a session (start time already now by the PC's clock, whatever the box's says; minutes, members, the
programme played, notes; OK pressed twice on Save keeps one record) and rates a
programme; both are kept in the agent's outbox and listed as 待上传, beside a record the server refused,
shown with its reason. No central server is needed: the outbox is what the sync run delivers
(tests/agent/test_records.py)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from mediasrv.agent import faults
from mediasrv.agent.layout import Layout
from mediasrv.agent.records import Outbox, State, new_session
from mediasrv.protocol.china import CHINA
from tests.agent.test_records import GPS, phone_photo
from tests.web.conftest import screenshot
from tests.web.test_site_view import serving

pytestmark = pytest.mark.e2e

REQUIRED, OPTIONAL = "p-required-01", "p-optional-02"


def site_cache(root: Path) -> Layout:
    """A site's cache as a sync leaves it: a manifest with two programmes whose files are on disk
    (their bytes do not matter here: nothing is played)."""
    layout = Layout(root)
    layout.ensure()
    files, programmes = [], []
    for rank, (pid, title, required) in enumerate(
        ((REQUIRED, "党的二十大精神", True), (OPTIONAL, "果树修剪", False))
    ):
        path = f"a{rank}/g1/master.m3u8"
        data = b"#EXTM3U\n"
        layout.file(path).parent.mkdir(parents=True)
        layout.file(path).write_bytes(data)
        files.append({"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        programmes.append(
            {"id": pid, "rank": rank, "required": required, "title": title, "category": "agri-tech",
             "duration_seconds": 600, "play": path, "poster": None, "attachments": []}
        )  # fmt: skip
    site = {"id": 7, "code": "xt-records", "name": "西塘村", "download_window": None, "bandwidth_kbps": None}
    doc: dict[str, Any] = {
        "site": site, "version": 1, "device_profile": "iptv", "programmes": programmes, "dropped": [],
        "bytes": sum(f["size"] for f in files), "files": files,
    }  # fmt: skip
    layout.adopt(doc)
    return layout


def press(page: Page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def focus_by_arrows(page: Page, selector: str, key: str = "ArrowDown") -> None:
    """Move the focus with one arrow key until it reaches `selector` (as a member would)."""
    target = page.locator(selector)
    for _ in range(12):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press(key)
    expect(target).to_be_focused()


def test_a_member_records_a_session_and_rates_a_programme_with_a_remote(
    browser: Browser, tmp_path: Path
) -> None:
    layout = site_cache(tmp_path / "mediasrv-site")
    outbox = Outbox(layout)
    refused = outbox.add(
        new_session(
            {
                "started_at": (datetime.now(CHINA) - timedelta(days=5)).isoformat(timespec="minutes"),
                "minutes": 45,
                "members_present": 3,
            }
        )
    )
    refused.state, refused.message = (
        State.REFUSED,
        "No programme with id gone-01: list the programmes the site played.",
    )
    outbox.save(refused)

    with serving(layout.root) as url:
        ctx = browser.new_context(
            locale="zh-CN", timezone_id="America/New_York", viewport={"width": 1280, "height": 800}
        )
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        try:
            # The box's clock is years off (and in another zone): the form goes by the PC's.
            page.clock.set_fixed_time(datetime(2019, 3, 1, 11, 30, tzinfo=UTC))
            page.goto(url + "/")
            rows = page.locator("#records-list li")
            expect(rows).to_have_count(1)
            expect(rows.first.locator(".state")).to_have_text(
                "被退回（No programme with id gone-01: list the programmes the site played.）"
            )

            # 记录学习: reached and filled with arrows, digits, OK and Back only.
            focus_by_arrows(page, "button[data-panel=session-panel]")
            press(page, "Enter")
            panel = page.locator("#session-panel")
            expect(panel).to_be_visible()
            expect(page.locator("#list")).to_be_hidden()
            start = panel.locator("[name=started_at]")
            expect(start).to_be_focused()
            before = datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M")
            prefilled = start.input_value()
            after = datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M")
            assert prefilled in (before, after)  # the PC's now, in Beijing time
            press(page, "Enter")  # OK: the next field, not the form sent
            expect(panel.locator("[name=minutes]")).to_be_focused()
            press(page, "Backspace")  # deletes the default 60 (selected on arrival); stays in the form
            page.keyboard.type("90")
            press(page, "Enter")
            page.keyboard.type("12")
            press(page, "ArrowDown")
            required_box = panel.locator(f"input[value={REQUIRED}]")
            expect(required_box).to_be_focused()
            press(page, "Enter")  # OK ticks it
            expect(required_box).to_be_checked()
            focus_by_arrows(page, "#session-form [name=notes]")
            page.keyboard.type("讨论：学用结合")
            focus_by_arrows(page, "#session-form button[type=submit]")
            screenshot(page, "site-view-record-session")
            # OK twice while the first request is on its way (held here, as a slow LAN would): Save is
            # disabled meanwhile, and the one request goes with the form's id (kept once if resent).
            held: list[Route] = []
            page.route("**/records/sessions", lambda route: held.append(route))
            press(page, "Enter", 2)
            for _ in range(100):  # until the request reaches the route (set-up, not a check)
                if held:
                    break
                page.wait_for_timeout(50)
            expect(panel.locator("button[type=submit]")).to_be_disabled()
            assert len(held) == 1 and re.fullmatch(r"[0-9a-f]{32}", held[0].request.post_data_json["id"])
            held[0].continue_()
            page.unroute("**/records/sessions")

            expect(panel).to_be_hidden()
            expect(page.locator("button[data-panel=session-panel]")).to_be_focused()
            expect(page.locator("#records-status")).to_have_text("已保存在本机，联网同步时自动上传。")
            expect(rows).to_have_count(2)
            expect(rows.first.locator(".state")).to_have_text("待上传")
            expect(rows.first.locator(".what")).to_contain_text("90 分钟 · 12 人")
            [session] = [r for r in outbox.all() if r.id != refused.id]  # one, for the two presses
            assert session.id == held[0].request.post_data_json["id"]
            assert session.body["minutes"] == 90 and session.body["members_present"] == 12
            assert session.body["programmes"] == [{"programme_id": REQUIRED}]
            assert session.body["notes"] == "讨论：学用结合"
            assert session.body["started_at"] == f"{prefilled}:00+08:00"

            # A phone on the LAN adds a photo to it (the agent keeps its pixels, not its EXIF).
            picker = rows.first.locator(".photo-picker input[type=file]")
            picker.set_input_files(
                [{"name": "合影.jpg", "mimeType": "image/jpeg", "buffer": phone_photo(tmp_path)}]
            )
            expect(rows).to_have_count(3)
            expect(rows.first.locator(".kind")).to_have_text("照片")
            expect(rows.first.locator(".what")).to_have_text("合影.jpg")
            [kept] = list(outbox.photos.iterdir())
            assert GPS not in kept.read_bytes()
            focus_by_arrows(page, "button[data-panel=session-panel]", "ArrowUp")

            # 评价节目: a programme, four stars, a comment.
            focus_by_arrows(page, "button[data-panel=rating-panel]", "ArrowRight")
            press(page, "Enter")
            rating = page.locator("#rating-panel")
            expect(rating.locator(f"input[value={REQUIRED}]")).to_be_focused()
            press(page, "Enter")
            focus_by_arrows(page, "#rating-form .star[data-star='1']")
            press(page, "ArrowRight", 3)
            press(page, "Enter")
            expect(rating.locator(".star[aria-pressed=true]")).to_have_count(4)
            focus_by_arrows(page, "#rating-form [name=comment]")
            page.keyboard.type("很实用")
            focus_by_arrows(page, "#rating-form button[type=submit]")
            press(page, "Enter")
            expect(rating).to_be_hidden()
            expect(rows).to_have_count(4)
            expect(rows.first.locator(".what")).to_have_text("《党的二十大精神》 ★★★★☆ 很实用")
            [rated] = [r for r in outbox.all() if r.kind == "rating"]
            assert (rated.body["programme_id"], rated.body["rating"], rated.body["comment"]) == (
                REQUIRED,
                4,
                "很实用",
            )

            screenshot(page, "site-view-records")

            # Back leaves a form without saving anything.
            focus_by_arrows(page, "button[data-panel=demand-panel]", "ArrowRight")
            press(page, "Enter")
            expect(page.locator("#demand-panel [name=topic]")).to_be_focused()
            page.keyboard.type("果树冬季修剪")
            press(page, "Escape")
            expect(page.locator("#demand-panel")).to_be_hidden()
            expect(page.locator("button[data-panel=demand-panel]")).to_be_focused()
            assert len(outbox.all()) == 4
            assert re.fullmatch(r"[0-9a-f]{32}", session.id)
        finally:
            ctx.close()


def test_a_member_reports_a_broken_tv_with_a_remote(browser: Browser, tmp_path: Path) -> None:
    """报告故障 on the site view: reached and filled with arrows, OK and typing only; the report waits
    on the PC, and what the centre last said of it shows beside it."""
    layout = site_cache(tmp_path / "mediasrv-site")
    with serving(layout.root) as url:
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        try:
            page.goto(url + "/")
            expect(page.locator("#faults-empty")).to_have_text("没有报告过故障。")
            focus_by_arrows(page, "button[data-panel=fault-panel]")
            press(page, "Enter")
            panel = page.locator("#fault-panel")
            expect(panel).to_be_visible()
            tv = panel.locator("input[value=tv_broken]")
            expect(tv).to_be_focused()
            focus_by_arrows(page, "#fault-form button[type=submit]")
            press(page, "Enter")  # no kind chosen: said, nothing kept
            expect(panel.locator(".form-message")).to_have_text("请选择故障类型。")
            focus_by_arrows(page, "#fault-panel input[value=tv_broken]", "ArrowUp")
            press(page, "Enter")  # OK chooses it
            expect(tv).to_be_checked()
            focus_by_arrows(page, "#fault-form [name=note]")
            page.keyboard.type("电视开不了机")
            focus_by_arrows(page, "#fault-form button[type=submit]")
            press(page, "Enter")
            expect(panel).to_be_hidden()
            expect(page.locator("#faults-status")).to_have_text(
                "故障已报告：已保存在本机，联网同步时自动上传。"
            )
            row = page.locator("#faults-list li")
            expect(row).to_have_count(1)
            expect(row.locator(".kind")).to_have_text("电视坏了")
            expect(row.locator(".what")).to_contain_text("电视开不了机")
            expect(row.locator(".state")).to_have_text("待上传")
            # Delivered by a sync, and later the heartbeat's answer says the county handled it.
            box = faults.Outbox(layout)
            (item,) = box.all()
            item.state, item.extra["fault_id"] = State.DELIVERED, 41
            box.save(item)
            closed = {"id": 41, "kind": "tv_broken", "opened_at": item.created_at,
                      "closed_at": datetime.now(UTC).isoformat(), "closed_note": "换了新电视"}  # fmt: skip
            faults.remember_centre(layout, {"faults": [closed]})
            page.reload()
            expect(row.locator(".state")).to_have_text("已处理：换了新电视")
            screenshot(page, "site-view-report-fault")
        finally:
            ctx.close()
