"""The site assessment and feedback/demand pages in a real browser, over sites in two provinces with
different months behind them (days heard from, reports with a complete cache, sessions, ratings, topic
requests): the stars, scores and shares shown are the API's, a site's row opens to its inputs, the
region filter narrows the list; topics are ranked as the API ranks them and filtered by category, a
topic typed with markup stays text, programmes show their average stars and comments."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.sites.models import Site, SitePresence
from tests.e2e.stack import Stack
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e

BEIJING = timezone(timedelta(hours=8))
MARKUP = "<b>果树</b>病虫害防治"


def js(x: float | int | None) -> str:
    """A number as the page prints it (String(x) in JavaScript: 30.0 is "30")."""
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else repr(x)


def fixed(x: float, places: int) -> str:
    """JavaScript's x.toFixed(places): the exact binary value, halves rounded up."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Seeded:
    month: str
    first: date  # of the month
    sites: dict[str, int]  # code -> id
    programmes: dict[str, str]  # title -> id


@pytest.fixture(scope="module")
def seeded(web: Stack) -> Seeded:
    """Last month (a whole one, whatever today is): 西竖村 heard every day with a complete cache, three
    sessions, feedback sent; 东竖村 heard on 20 days, half its reports complete, one short session; 段村
    in another province never heard from. Their topic requests and ratings feed the feedback page."""
    first = (datetime.now(BEIJING).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    month = first.strftime("%Y-%m")
    days = ((first + timedelta(days=32)).replace(day=1) - first).days
    regions = {
        "as-xishu": ("西竖村党员活动室", "河北省/邢台市/临城县/西竖村"),
        "as-dongshu": ("东竖村党员活动室", "河北省/邢台市/临城县/东竖村"),
        "as-duancun": ("段村党员活动室", "山西省/晋中市/平遥县/段村"),
    }
    sites = {
        code: web.api("POST", "/sites", json={"code": code, "name": name, "region": region})["id"]
        for code, (name, region) in regions.items()
    }
    registered = datetime.combine(first - timedelta(days=30), time(), UTC)  # every day of the month counts
    heard = {"as-xishu": (days, 4), "as-dongshu": (20, 2)}  # days heard from, complete reports of 4 a day
    db = Database(
        web.env.get("MEDIASRV_DATABASE_URL") or Settings(data_dir=web.data_dir).resolved_database_url
    )
    with db.session_scope() as s:
        for sid in sites.values():
            s.get_one(Site, sid).created_at = registered
        for code, (n, complete) in heard.items():
            s.add_all(
                SitePresence(
                    site_id=sites[code], day=first + timedelta(d), heartbeats=4, complete_heartbeats=complete
                )
                for d in range(n)
            )
    db.dispose()

    def at(day: int, hour: int = 19) -> str:
        return datetime(first.year, first.month, day, hour, 30, tzinfo=BEIJING).isoformat()

    def session(code: str, day: int, minutes: int) -> None:
        body = {"id": str(uuid.uuid4()), "started_at": at(day), "minutes": minutes, "members_present": 9}
        web.api("POST", f"/sites/{sites[code]}/sessions", json=body)

    for day in (3, 12, 25):
        session("as-xishu", day, 90)
    session("as-dongshu", 14, 45)

    def demand(code: str, topic: str, category: str, members: int, day: int) -> None:
        body = {"id": str(uuid.uuid4()), "topic": topic, "category": category, "members": members,
                "requested_at": at(day, 10)}  # fmt: skip
        web.api("POST", f"/sites/{sites[code]}/demands", json=body)

    demand("as-xishu", "果树冬季修剪", "agri-tech", 12, 5)
    demand("as-xishu", MARKUP, "agri-tech", 5, 6)
    demand("as-xishu", "高血压防治", "health", 3, 7)
    demand("as-dongshu", "果树 冬季修剪", "agri-tech", 6, 20)  # worded alike: counted with 西竖村's
    demand("as-dongshu", "党史学习教育", "party-history", 8, 25)
    demand("as-duancun", "高血压防治", "health", 20, 26)

    programmes = {
        title: web.api("POST", "/programmes", json={"title": title, "category": category})["id"]
        for title, category in (("农村电商入门", "skills"), ("冬季防火安全", "policy-law"))
    }

    def rate(code: str, title: str, stars: int, comment: str) -> None:
        body = {"rating": stars, "comment": comment, "rated_at": at(27)}
        web.api("PUT", f"/sites/{sites[code]}/ratings/{programmes[title]}", json=body)

    rate("as-xishu", "农村电商入门", 5, "很实用，<i>想再看一遍</i>")
    rate("as-dongshu", "农村电商入门", 4, "讲得清楚")
    rate("as-duancun", "冬季防火安全", 2, "声音太小")
    return Seeded(month, first, sites, programmes)


def codes(page: Page) -> list[str]:
    return [
        str(c)
        for c in page.locator("#sites-body tr.site").evaluate_all("rows => rows.map(r => r.dataset.code)")
    ]


def test_stars_scores_and_why(page: Page, web: Stack, seeded: Seeded) -> None:
    login(page, "li.admin")
    page.goto(f"/ui/admin/assessment?month={seeded.month}")
    listing = web.api("GET", "/assessment", params={"month": seeded.month})
    expect(page.locator("#sites-body tr.site")).to_have_count(3)
    assert codes(page) == [a["code"] for a in listing["items"]]  # best score first, as the API has them
    # the seeded months differ enough to give three different star counts
    assert len({a["stars"] for a in listing["items"]}) == 3

    for a in listing["items"]:
        row = page.locator(f'#sites-body tr[data-code="{a["code"]}"]')
        expect(row.get_by_role("img", name=f"{a['stars']} 星（共 5 星）", exact=True)).to_have_text(
            "★" * a["stars"] + "☆" * (5 - a["stars"])
        )
        expect(row.locator("td.score")).to_have_text(fixed(a["score"], 1))
        for p in a["parts"]:
            expect(row.locator(f"td.{p['name']}")).to_have_text(f"{fixed(p['value'] * 100, 1)}%")
        link = row.get_by_role("link", name=a["name"])
        assert link.get_attribute("href") == f"/ui/admin/sites/{a['site_id']}/study?month={seeded.month}"

    # the summary: how many sites at each number of stars, as text and in the chart's label
    for n, count in listing["stars"].items():
        expect(page.locator(f'#levels li[data-stars="{n}"]')).to_have_text(f"{n} 星：{count} 个站点")
    expect(page.locator("#levels li")).to_have_count(5)
    label = "；".join(f"{n} 星：{listing['stars'][str(n)]} 个站点" for n in (5, 4, 3, 2, 1))
    expect(page.get_by_role("img", name=re.compile(re.escape(label)))).to_be_visible()

    # a site's row opens to every part's inputs, weight and points
    dongshu = next(a for a in listing["items"] if a["code"] == "as-dongshu")
    why = page.get_by_role("button", name="东竖村党员活动室 的评分依据")
    why.click()
    expect(why).to_have_attribute("aria-expanded", "true")
    detail = page.locator(f"#why-{dongshu['site_id']}")
    expect(detail).to_be_visible()
    for p in dongshu["parts"]:
        part = detail.locator(f'tr[data-part="{p["name"]}"]')
        for key, value in p["inputs"].items():
            expect(part.locator(f'[data-input="{key}"] dd')).to_have_text(js(value))
        expect(part.locator("td.value")).to_have_text(js(p["value"]))
        expect(part.locator("td.weight")).to_have_text(js(p["weight"]))
        expect(part.locator("td.points")).to_have_text(js(p["points"]))
    expect(detail.locator('[data-input="days_heard"] dt')).to_have_text("有上报的天数")
    expect(detail.locator("td.total")).to_have_text(fixed(dongshu["score"], 1))
    heard = next(p for p in dongshu["parts"] if p["name"] == "reachability")["inputs"]["days_heard"]
    assert heard == 20  # what the page explains is what was seeded
    screenshot(page, "assessment")

    # the region filter narrows the list and the counts, and stays in the address
    page.get_by_label("地区", exact=True).fill("河北省")
    page.get_by_role("button", name="查看", exact=True).click()
    expect(page.locator("#sites-body tr.site")).to_have_count(2)
    hebei = web.api("GET", "/assessment", params={"month": seeded.month, "region": "河北省"})
    assert codes(page) == [a["code"] for a in hebei["items"]] == ["as-xishu", "as-dongshu"]
    query = parse_qs(urlsplit(page.url).query)
    assert (query["region"], query["month"]) == (["河北省"], [seeded.month])
    expect(page.locator("#crumbs [aria-current=page]")).to_have_text("河北省")

    # a star level's count filters by it; back returns to all of 河北省
    low = next(a for a in hebei["items"] if a["code"] == "as-dongshu")["stars"]
    page.get_by_role("link", name=f"只看 {low} 星站点（1 个）").click()
    expect(page.locator("#sites-body tr.site")).to_have_count(1)
    assert codes(page) == ["as-dongshu"]
    expect(page.locator("#levels li").last).to_have_text("全部")  # the way back to every level
    page.go_back()
    expect(page.locator("#sites-body tr.site")).to_have_count(2)

    page.goto(f"/ui/admin/assessment?month={seeded.month}&lang=en")
    top = listing["items"][0]
    stars = page.locator(f'#sites-body tr[data-code="{top["code"]}"]').get_by_role("img")
    expect(stars).to_have_accessible_name(f"{top['stars']} of 5 stars")


def test_demand_ranked_and_ratings(page: Page, web: Stack, seeded: Seeded) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/feedback")
    topics = page.locator("#demand-body th.topic")
    ranked = web.api("GET", "/demands")
    expect(topics).to_have_text([d["topic"] for d in ranked])
    assert [d["members"] for d in ranked] == [23, 18, 8, 5]  # 高血压防治 from two provinces leads
    first = page.locator("#demand-body tr").first
    expect(first.locator("td.members")).to_have_text(str(ranked[0]["members"]))
    expect(first.locator("td.sites")).to_have_text("2")
    expect(first.locator("td.category")).to_have_text("卫生健康")
    latest = datetime.fromisoformat(ranked[0]["latest"]).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    expect(first.locator("td.latest")).to_have_text(latest)  # Beijing time whatever the browser's zone
    # typed at a site with markup: shown as it was typed, never as markup
    expect(page.locator("#demand-body tr", has_text=MARKUP)).to_have_count(1)
    expect(page.locator("#demand-body b")).to_have_count(0)

    # programmes by rating: average stars, how many, comments; each links to its programme
    ratings = web.api("GET", "/ratings")
    rows = page.locator("#ratings-body tr")
    expect(rows).to_have_count(len(ratings))
    for r, row in zip(ratings, rows.all(), strict=True):
        expect(row.get_by_role("link")).to_have_text(r["title"])
        assert row.get_by_role("link").get_attribute("href") == f"/ui/programmes/{r['programme_id']}"
        expect(row.get_by_role("img")).to_have_accessible_name(f"平均 {js(r['average'])} 星（共 5 星）")
        expect(row.locator("td.average .number")).to_have_text(js(r["average"]))
        expect(row.locator("td.ratings")).to_have_text(str(r["ratings"]))
        expect(row.locator("ul.comments li")).to_have_text(r["comments"])
    assert [(r["title"], r["average"]) for r in ratings] == [("农村电商入门", 4.5), ("冬季防火安全", 2.0)]
    expect(page.locator("#ratings-body i")).to_have_count(0)
    screenshot(page, "feedback")

    # the category filter, kept in the address
    page.get_by_label("需求类别").select_option(label="农业科技")
    page.get_by_role("button", name="查看", exact=True).click()
    agri = web.api("GET", "/demands", params={"category": "agri-tech"})
    expect(topics).to_have_text([d["topic"] for d in agri])
    assert len(agri) == 2 and parse_qs(urlsplit(page.url).query)["category"] == ["agri-tech"]

    # two filters in quick succession, the first one's answer slower: the page gives up the older request
    # (so its answer can never replace the newer one) and shows the filter the address names
    slow: list[Route] = []

    def hold(route: Route) -> None:
        slow.append(route)  # never answered while the page waits for it

    page.route(re.compile(r"/api/v1/demands\?.*category=health"), hold)
    page.get_by_label("需求类别").select_option(label="卫生健康")
    page.get_by_role("button", name="查看", exact=True).click()
    page.wait_for_url(re.compile(r"category=health"))
    with page.expect_event("requestfailed", lambda r: "category=health" in r.url):
        page.get_by_label("需求类别").select_option(label="农业科技")
        page.get_by_role("button", name="查看", exact=True).click()
    expect(topics).to_have_text([d["topic"] for d in agri])
    assert parse_qs(urlsplit(page.url).query)["category"] == ["agri-tech"]
    page.unroute(re.compile(r"/api/v1/demands\?.*category=health"))

    # since a Beijing day, and within a region: the API's answer for the same filters
    day = (seeded.first + timedelta(days=19)).isoformat()
    page.goto(f"/ui/admin/feedback?since={day}&region=河北省")
    since = datetime.fromisoformat(f"{day}T00:00:00+08:00").isoformat()
    later = web.api("GET", "/demands", params={"since": since, "region": "河北省"})
    expect(topics).to_have_text([d["topic"] for d in later])
    assert [d["members"] for d in later] == [8, 6]
    expect(page.get_by_label("需求提出日期不早于")).to_have_value(day)
    expect(rows).to_have_count(1)  # ratings from 河北省 only


def test_pages_of_sites(page: Page, web: Stack) -> None:
    """51 sites in a province of their own (after the tests above, which count every site): two pages;
    the keyboard keeps its place when the pager button pressed becomes disabled, and an address past
    the last page shows the last page."""
    for i in range(51):
        body = {"code": f"gd-{i:02d}", "name": f"广东站点 {i:02d}", "region": "广东省/广州市"}
        web.api("POST", "/sites", json=body)
    login(page, "li.admin")
    page.goto("/ui/admin/assessment?region=广东省")
    rows, shown = page.locator("#sites-body tr.site"), page.locator("#range")
    prev, next_ = page.get_by_role("button", name="上一页"), page.get_by_role("button", name="下一页")
    expect(shown).to_have_text("第 1–50 个，共 51 个")
    expect(rows).to_have_count(50)

    next_.focus()
    page.keyboard.press("Enter")  # to the last page: "next" is disabled, the focus goes to "previous"
    expect(shown).to_have_text("第 51–51 个，共 51 个")
    expect(next_).to_be_disabled()
    expect(prev).to_be_focused()
    page.keyboard.press("Enter")  # and back to the first: "previous" is disabled, the focus on "next"
    expect(shown).to_have_text("第 1–50 个，共 51 个")
    expect(prev).to_be_disabled()
    expect(next_).to_be_focused()

    page.goto("/ui/admin/assessment?region=广东省&offset=500")  # past the end: the last page
    expect(shown).to_have_text("第 51–51 个，共 51 个")
    expect(rows).to_have_count(1)
    assert parse_qs(urlsplit(page.url).query)["offset"] == ["50"]
