"""The administrator's study pages in a real browser: October by region (totals, chart and table with
the same numbers, the sites behind, the export), drilled down and moved a month back; then one site's
October (the task, a required list as the logbook has it beside the automatic record, its sessions
with notes and a photo), in English, and a site that does not exist; then an administrator records a
November session from a site's paper logbook (a double click records it once) and its photos."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus
from tests.e2e.stack import Stack
from tests.mediafactory import make_picture
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

RED_BOAT, VILLAGES = "党史学习：红船精神", "乡村振兴讲座"
DONGSHU = "河北省/邢台市/临城县/东竖村"
XISHU = "河北省/邢台市/临城县/西竖村"
BEIGE = "山西省/太原市/小店区/北格村"
NOTES = "学习红船精神。\n6 名党员发言。"


def published(web: Stack, title: str, seconds: float) -> str:
    """A published programme on ready media, written straight to the database: the pages read only its
    title and length, so nothing is transcoded."""
    db = Database(
        web.env.get("MEDIASRV_DATABASE_URL") or Settings(data_dir=web.data_dir).resolved_database_url
    )
    with db.session_scope() as s:
        asset = Asset(
            sha256=hashlib.sha256(title.encode()).hexdigest(), filename=f"{title}.mp4", title=title,
            size_bytes=1, source_key=f"sources/{title}", kind=AssetKind.VIDEO, status=AssetStatus.READY,
            duration_seconds=seconds,
        )  # fmt: skip
        s.add(asset)
        s.flush()
        programme = Programme(
            title=title, category_code="party-history", asset_id=asset.id,
            status=ProgrammeStatus.PUBLISHED, published_at=utcnow(),
        )  # fmt: skip
        s.add(programme)
        s.flush()
        pid = programme.id
    db.dispose()
    return pid


def site(web: Stack, code: str, name: str, region: str) -> tuple[int, dict[str, str]]:
    made = web.api("POST", "/sites", web.admin, json={"code": code, "name": name, "region": region})
    token = web.api("POST", "/tokens", web.admin, json={"name": code, "site_id": made["id"]})["token"]
    return made["id"], {"Authorization": f"Bearer {token}"}


def session(
    web: Stack,
    at: tuple[int, dict[str, str]],
    started: str,
    minutes: int,
    *played: tuple[str, int | None],
    notes: str = "",
) -> str:
    body = {
        "id": str(uuid.uuid4()), "started_at": started, "minutes": minutes, "members_present": 12,
        "notes": notes,
        "programmes": [{"programme_id": p, "minutes": m} for p, m in played],
    }  # fmt: skip
    return str(web.api("POST", f"/sites/{at[0]}/sessions", at[1], json=body)["id"])


@pytest.fixture(scope="module")
def october(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """October 2026: 东竖村 meets the task (4 sessions, 8 class hours) and watches the red boat whole,
    with a photo and the agent's record of it; 西竖村 is behind; 北格村 (山西) recorded nothing and no list
    targets it. One more 东竖村 session falls on 30 September in Beijing time."""
    boat, villages = published(web, RED_BOAT, 3600), published(web, VILLAGES, 1800)
    dongshu = site(web, "lc-dongshu", "东竖村党员活动室", DONGSHU)
    xishu = site(web, "lc-xishu", "西竖村党员活动室", XISHU)
    site(web, "xd-beige", "北格村党员活动室", BEIGE)
    body = {"title": "10月必学", "starts_on": "2026-10-01", "ends_on": "2026-10-31", "expected_hours": 2,
            "regions": ["河北省/邢台市"], "programme_ids": [boat, villages]}  # fmt: skip
    listed = web.api("POST", "/study-lists", web.admin, json=body)
    web.api("POST", f"/study-lists/{listed['id']}/publish", web.admin)
    session(web, dongshu, "2026-09-30T23:00:00+08:00", 60)  # September in Beijing
    first = session(
        web, dongshu, "2026-09-30T16:30:00Z", 90, (boat, None), notes=NOTES
    )  # = 1 October 00:30 in Beijing
    session(web, dongshu, "2026-10-08T19:30:00+08:00", 90, (villages, 20))
    session(web, dongshu, "2026-10-15T19:30:00+08:00", 90)
    session(web, dongshu, "2026-10-22T19:30:00+08:00", 90)
    session(web, xishu, "2026-10-10T20:00:00+08:00", 45, (villages, None))
    picture = make_picture(tmp_path_factory.mktemp("photos") / "学习.jpg", width=320, height=240)
    with picture.open("rb") as f:
        r = httpx.post(
            f"{web.url}/api/v1/sites/{dongshu[0]}/sessions/{first}/photos",
            headers=dongshu[1], files={"file": ("学习.jpg", f, "image/jpeg")}, timeout=30,
        )  # fmt: skip
    assert r.status_code == 201, r.text
    # the site's agent served 550 segments of 6 s (55 of 60 minutes) of the red boat to one player
    views = [{"programme_id": boat, "day": "2026-10-01", "player": "0123456789abcdef",
              "segments": [[i, 6.0] for i in range(550)]}]  # fmt: skip
    web.api("POST", f"/sites/{dongshu[0]}/viewing", dongshu[1], json={"views": views})
    return {"dongshu": dongshu[0], "boat": boat, "villages": villages}


def containing(text: str) -> re.Pattern[str]:
    """An accessible-name pattern; Playwright's selector parser needs "/" escaped even in a regex."""
    return re.compile(re.escape(text).replace("/", r"\/"))


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_compliance_by_region(page: Page, web: Stack, october: dict[str, Any]) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/compliance?month=2026-10")
    expect(page.get_by_role("heading", name="全部地区 2026-10 学习情况")).to_be_visible()
    expect(page.locator("#task-note")).to_have_text("月度任务：每月学习 4 次、8 课时（每课时 45 分钟）。")
    # words are filled in one pass: a value that holds a placeholder stays as it is, a missing one too
    filled = page.evaluate(
        """() => import("/static/app.js").then(({ tf }) => [
          tf("compliance.overview_of", { region: "{month}", month: "2026-10" }),
          tf("compliance.of", { n: 1 }),
        ])"""
    )
    assert filled == ["{month} 2026-10 学习情况", "1/{total}"]
    # 3 sites, 1 met; 5 sessions of 405 minutes = 9 class hours; 4 required (site, programme) pairs:
    # 2 watched fully, 1 seen fully by the automatic record
    totals = page.locator("#totals")
    expect(totals.locator(".met dd")).to_have_text("33.3% 1/3")
    expect(totals.locator(".behind dd")).to_have_text("2")
    expect(totals.locator(".class_hours dd")).to_have_text("9")
    expect(totals.locator(".fully dd")).to_have_text("50.0% 2/4")
    expect(totals.locator(".evidenced dd")).to_have_text("25.0% 1/4")
    hebei = page.locator('#regions-body tr[data-region="河北省"]')
    expect(hebei.locator("td.met_percent")).to_have_text("50.0%")
    expect(hebei.locator("td.sessions")).to_have_text("5")
    expect(hebei.locator("td.evidenced_percent")).to_have_text("25.0%")
    expect(page.locator('#regions-body tr[data-region="山西省"] td.fully_percent')).to_have_text(
        "—"
    )  # none required
    for part in ("河北省：完成任务 50.0%（1/2），完整收看 50.0%", "山西省：完成任务 0.0%（0/1），完整收看 —"):
        expect(page.get_by_role("img", name=containing(part))).to_be_visible()

    # the sites behind come first: 西竖村 held 1 session of 1 class hour, watched 1 of 2 required fully
    expect(page.get_by_role("button", name="未完成（2）")).to_have_attribute("aria-pressed", "true")
    rows = page.locator("#site-rows tr")
    expect(rows).to_have_count(2)
    xishu = page.locator('#site-rows tr[data-code="lc-xishu"]')
    expect(xishu.locator("td.sessions")).to_have_class(re.compile(r"\bshort\b"))
    expect(xishu.locator("td.viewing")).to_have_text("1/0/1（共 2）")
    expect(page.locator('#site-rows tr[data-code="xd-beige"] td.viewing')).to_have_text("无必学")
    exported = page.request.get(page.locator("#csv").get_attribute("href") or "")
    assert exported.ok and "西竖村党员活动室" in exported.text() and ",2026-10," in exported.text()
    assert query_of(page.locator("#xlsx").get_attribute("href")) == {"month": ["2026-10"]}

    # drill down with the keyboard: the heading says where, the address keeps it
    hebei.get_by_role("link", name="河北省", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="河北省 2026-10 学习情况")).to_be_focused()
    assert query(page)["region"] == ["河北省"]
    page.get_by_role("button", name="已完成（1）").click()
    dongshu = page.locator('#site-rows tr[data-code="lc-dongshu"]')
    expect(rows).to_have_count(1)
    expect(dongshu.locator("td.task")).to_have_text("已完成")
    expect(dongshu.locator("td.evidenced")).to_have_text("1/2")
    assert query_of(page.locator("#csv").get_attribute("href")) == {
        "month": ["2026-10"],
        "region": ["河北省"],
    }
    screenshot(page, "compliance")

    # a month back, in the same region: the session at 23:00 on 30 September (Beijing) counts there
    page.get_by_role("button", name="‹ 上个月").click()
    expect(page.get_by_role("heading", name="河北省 2026-09 学习情况")).to_be_visible()
    expect(page.locator("#month")).to_have_value("2026-09")
    expect(page.locator('#regions-body tr[data-region="河北省/邢台市"] td.sessions')).to_have_text("1")
    assert (query(page)["month"], query(page)["region"]) == (["2026-09"], ["河北省"])
    page.go_back()
    expect(page.get_by_role("heading", name="河北省 2026-10 学习情况")).to_be_focused()
    expect(page.locator("#month")).to_have_value("2026-10")

    # the site's name opens its records for the month shown
    page.get_by_role("button", name="已完成（1）").click()
    dongshu.get_by_role("link", name="东竖村党员活动室 的学习记录").click()
    page.wait_for_url(f"**/ui/admin/sites/{october['dongshu']}/study?month=2026-10")
    expect(page.get_by_role("heading", name="东竖村党员活动室 学习记录")).to_be_visible()


def query_of(href: str | None) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href or "").query)


def test_a_site_month(page: Page, web: Stack, october: dict[str, Any]) -> None:
    login(page, "li.admin")
    page.goto(f"/ui/admin/sites/{october['dongshu']}/study?month=2026-10")
    expect(page.get_by_role("heading", name="东竖村党员活动室 学习记录")).to_be_visible()
    expect(page.locator("#site-line")).to_have_text(f"编码 lc-dongshu · {DONGSHU}")
    back = query_of(page.get_by_role("link", name="← 学习情况").get_attribute("href"))
    assert back == {"month": ["2026-10"], "region": [DONGSHU]}
    expect(page.locator("#task .sessions dd")).to_have_text("4 4/4")
    expect(page.locator("#task .class_hours dd")).to_have_text("8 8/8")
    expect(page.get_by_role("heading", name="2026-10 月度任务")).to_be_visible()

    # the list: the red boat played whole and seen 55 of 60 minutes by the site's agent; 20 of 30
    # minutes of the other is "partly", and nothing automatic saw it
    listed = page.get_by_role("region", name="10月必学")
    expect(listed).to_contain_text("2026-10-01 至 2026-10-31")
    expect(listed).to_contain_text("完整收看 1，部分收看 1，未收看 0；自动记录确认 1。")
    boat = listed.locator(f'tr[data-programme="{october["boat"]}"]')
    expect(boat.locator("td.state")).to_have_text("完整收看")
    expect(boat.locator("td.watched")).to_have_text("60")
    expect(boat.locator("td.agent")).to_have_text("55")
    expect(boat.locator("td.evidenced")).to_have_text("是")
    villages = listed.locator(f'tr[data-programme="{october["villages"]}"]')
    expect(villages.locator("td.state")).to_have_text("部分收看")
    expect(villages.locator("td.watched")).to_have_text("20")
    expect(villages.locator("td.evidenced")).to_have_text("否")

    # the sessions, oldest first, at Beijing time: the one sent as 16:30 UTC on 30 September is 1 October
    expect(page.get_by_role("heading", name="学习记录（4 次）")).to_be_visible()
    first = page.locator("article.session").first
    expect(first.locator("h3")).to_have_text("2026-10-01 00:30 · 90 分钟 · 12 人参加")
    expect(first.locator("dd.played")).to_have_text(f"{RED_BOAT}（完整）")
    expect(first.locator("dd.notes")).to_have_text(NOTES)
    photo = first.get_by_role("img", name="2026-10-01 00:30 学习照片 1（320×240）")
    expect(photo).to_be_visible()
    # Photos load lazily: scrolled to, as a reader does (the cards above it can push it off the screen).
    photo.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=photo.element_handle())
    expect(page.locator("article.session").nth(1).locator("dd.played")).to_have_text(f"{VILLAGES}（20 分钟）")

    # the automatic record per day, folded until asked for
    page.get_by_text("自动收看记录（1 条）").click()
    record = page.locator('#viewing tr[data-day="2026-10-01"]')
    expect(record).to_contain_text(RED_BOAT)
    expect(record).to_contain_text("站点")
    expect(record.locator("td").nth(3)).to_have_text("55")
    screenshot(page, "site_study")

    # September in English: the one session there, and no list applies
    page.goto(f"/ui/admin/sites/{october['dongshu']}/study?month=2026-09&lang=en")
    expect(page.get_by_role("heading", name="Study records: 东竖村党员活动室")).to_be_visible()
    expect(page.get_by_role("heading", name="Sessions (1)")).to_be_visible()
    expect(page.get_by_text("No required-study list applies to this site this month.")).to_be_visible()
    page.get_by_role("button", name="Next month ›").click()
    expect(page.get_by_role("heading", name="Sessions (4)")).to_be_visible()
    assert query(page)["month"] == ["2026-10"]

    # a site that does not exist: the server's answer where the records would be
    page.goto("/ui/admin/sites/999999/study?lang=zh")
    expect(page.locator("#study-error")).to_have_text("没有编号为 999999 的站点。")


BEIJING = timezone(timedelta(hours=8))


def test_record_a_session_for_a_site(page: Page, web: Stack, october: dict[str, Any], tmp_path: Path) -> None:
    """November, away from the months the other tests read: a list asks for both programmes; the
    administrator transcribes two sessions of 东竖村's paper logbook."""
    dongshu, boat, villages = october["dongshu"], october["boat"], october["villages"]
    body = {"title": "11月必学", "starts_on": "2026-11-01", "ends_on": "2026-11-30", "expected_hours": 2,
            "regions": ["河北省/邢台市"], "programme_ids": [boat, villages]}  # fmt: skip
    listed = web.api("POST", "/study-lists", web.admin, json=body)
    web.api("POST", f"/study-lists/{listed['id']}/publish", web.admin)

    def november() -> list[dict[str, Any]]:
        return list(web.api("GET", f"/sites/{dongshu}/sessions", web.admin, params={"month": "2026-11"}))

    login(page, "li.admin")
    page.goto(f"/ui/admin/sites/{dongshu}/study?month=2026-11")
    expect(page.get_by_role("heading", name="学习记录（0 次）")).to_be_visible()
    form = page.get_by_role("form", name="代站点登记学习记录")
    form.get_by_label("开始时间（北京时间）").fill("2026-11-20T19:30")
    form.get_by_label("参加人数").fill("9")
    form.get_by_label(RED_BOAT, exact=True).check()  # played whole
    form.get_by_label(f"{VILLAGES} 播放分钟（不填为完整播放）").fill("20")  # minutes given: ticked too
    expect(form.get_by_label(VILLAGES, exact=True)).to_be_checked()
    form.get_by_label("讨论记录").fill(NOTES)

    # a browser that does not check the field (here: its limit taken away): the server's 422, by the form
    minutes = form.get_by_label("时长（分钟）")
    minutes.evaluate("input => input.removeAttribute('max')")
    minutes.fill("2000")
    form.get_by_role("button", name="登记学习记录").click()
    expect(page.locator("#record-error")).to_contain_text("时长（分钟）：不能大于 1440")
    assert november() == []

    # corrected; the server keeps it but its answer is lost on the way back
    minutes.fill("90")

    def lose_the_answer(route: Route) -> None:
        route.fetch()
        route.abort()

    page.route(f"**/api/v1/sites/{dongshu}/sessions", lose_the_answer)
    form.get_by_role("button", name="登记学习记录").click()
    expect(page.locator("#record-error")).to_contain_text("网络中断，请检查网络后重试。")
    assert len(november()) == 1
    page.unroute(f"**/api/v1/sites/{dongshu}/sessions")

    # it may be kept, and a retry under the same id is answered with the first record: a correction
    # now would be lost unseen, so the fields are locked and the retry sends what was sent
    expect(page.locator("#record-error")).to_contain_text("内容已锁定，不能修改；重试时按原样发送")
    expect(minutes).not_to_be_editable()
    expect(form.get_by_label(RED_BOAT, exact=True)).to_be_disabled()
    minutes.evaluate("input => { input.value = '60'; }")  # changed anyway (a script): not what is sent

    # tried again with a double click: still one session, at 19:30 Beijing time, and the page shows it
    form.get_by_role("button", name="登记学习记录").dblclick()
    expect(page.locator("#record-done")).to_have_text("已登记 2026-11-20 19:30 的学习记录。")
    expect(page.get_by_role("heading", name="学习记录（1 次）")).to_be_visible()
    expect(page.locator("article.session h3")).to_have_text("2026-11-20 19:30 · 90 分钟 · 9 人参加")
    (kept,) = november()
    assert datetime.fromisoformat(kept["started_at"]) == datetime(2026, 11, 20, 19, 30, tzinfo=BEIJING)
    assert (kept["minutes"], kept["members_present"], kept["notes"]) == (90, 9, NOTES)
    assert {p["programme_id"]: p["minutes"] for p in kept["programmes"]} == {boat: None, villages: 20}
    expect(minutes).to_have_value("")  # a new form, for the next session (with a new id)
    expect(form.get_by_label(RED_BOAT, exact=True)).not_to_be_checked()

    # with photos: the session is kept, the picture too; the text file is refused by its name
    picture = make_picture(tmp_path / "活动.jpg", width=320, height=240)
    sheet = tmp_path / "签到表.txt"
    sheet.write_text("签到：张三、李四", encoding="utf-8")
    form.get_by_label("开始时间（北京时间）").fill("2026-11-21T09:00")
    minutes.fill("45")
    form.get_by_label("参加人数").fill("6")
    form.get_by_label("学习照片").set_input_files([picture, sheet])
    form.get_by_role("button", name="登记学习记录").click()
    refused = page.locator("#record-error")
    expect(refused).to_contain_text("保存了 1 张照片")
    expect(refused).to_contain_text("“签到表.txt”不是 JPEG 或 PNG 照片")  # the server's refusal, in Chinese
    expect(page.get_by_role("heading", name="学习记录（2 次）")).to_be_visible()
    second = [s for s in november() if s["minutes"] == 45]
    assert len(second) == 1 and len(second[0]["photos"]) == 1

    # the session's fields are locked now; another photo goes to the same session
    expect(minutes).to_be_disabled()
    expect(form.get_by_role("button", name="登记另一次学习")).to_be_visible()
    form.get_by_label("学习照片").set_input_files(make_picture(tmp_path / "讨论.png", width=200, height=150))
    form.get_by_role("button", name="上传照片").click()
    expect(page.locator("#record-done")).to_have_text("已登记 2026-11-21 09:00 的学习记录和 1 张照片。")
    expect(page.locator("article.session").nth(1).get_by_role("img")).to_have_count(2)
    assert len(november()) == 2
    assert [len(s["photos"]) for s in november() if s["minutes"] == 45] == [2]
    expect(minutes).to_be_enabled()
    expect(form.get_by_role("button", name="登记另一次学习")).to_be_hidden()
    screenshot(page, "site_study_record")


def test_pages_of_sites_behind(page: Page, web: Stack) -> None:
    """51 sites behind in a province of their own (after the tests above, which count every site): two
    pages; the keyboard keeps its place when the pager button pressed becomes disabled, and an address
    past the last page shows the last page."""
    for i in range(51):
        body = {"code": f"gz-{i:02d}", "name": f"广州站点 {i:02d}", "region": "广东省/广州市"}
        web.api("POST", "/sites", web.admin, json=body)
    login(page, "li.admin")
    page.goto("/ui/admin/compliance?month=2026-11&region=广东省")
    rows, pager = page.locator("#site-rows tr"), page.locator("#site-pager")
    prev, next_ = pager.get_by_role("button", name="上一页"), pager.get_by_role("button", name="下一页")
    expect(pager).to_contain_text("第 1–50 个，共 51 个")
    expect(rows).to_have_count(50)

    next_.focus()
    page.keyboard.press("Enter")  # to the last page: "next" is disabled, the focus goes to "previous"
    expect(pager).to_contain_text("第 51–51 个，共 51 个")
    expect(next_).to_be_disabled()
    expect(prev).to_be_focused()
    page.keyboard.press("Enter")  # and back to the first: "previous" is disabled, the focus on "next"
    expect(pager).to_contain_text("第 1–50 个，共 51 个")
    expect(prev).to_be_disabled()
    expect(next_).to_be_focused()

    page.goto("/ui/admin/compliance?month=2026-11&region=广东省&offset=500")  # past the end: the last page
    expect(pager).to_contain_text("第 51–51 个，共 51 个")
    expect(rows).to_have_count(1)
    assert query(page)["offset"] == ["50"]


def test_a_month_in_the_address_that_is_not_one_is_said(page: Page, web: Stack) -> None:
    """A mistyped bookmark (?month=2026-13) shows this month and says so, on both study pages."""
    login(page, "li.admin")
    for path in ("/ui/admin/compliance", "/ui/admin/assessment"):
        page.goto(f"{path}?month=2026-13")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("地址里的月份“2026-13”不对")
        expect(alert).to_contain_text("本月")
    page.goto("/ui/admin/compliance?month=2026-10")
    expect(page.locator("#month")).to_have_value("2026-10")
    expect(page.get_by_role("alert")).to_be_hidden()
