"""A county administrator's pages in a real browser (issue 19 part 6): the sites (fleet) and compliance
pages start at its county, say which scope they show (范围：…), offer no breadcrumb or region above
it, and show none of the neighbour county's or another province's sites. The publishing pages show each
programme's publication region (发布范围) and offer only regions inside the county to publish to."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import PASSWORD, login, screenshot

pytestmark = pytest.mark.e2e

COUNTY = "河北省/邢台市/临城县"
OURS = {"lc-dongshu": ("东竖村活动室", f"{COUNTY}/东竖村"), "lc-xishu": ("西竖村活动室", f"{COUNTY}/西竖村")}
THEIRS = {
    "nq-beicun": ("内丘北村活动室", "河北省/邢台市/内丘县/北村"),  # the neighbour county
    "sx-beige": ("北格村活动室", "山西省/太原市/小店区/北格村"),  # another province
}


@pytest.fixture(scope="module")
def county_admin(web: Stack) -> str:
    for code, (name, region) in (OURS | THEIRS).items():
        web.api("POST", "/sites", web.admin, json={"code": code, "name": name, "region": region})
    made = web.api(
        "POST", "/users", web.admin,
        json={"username": "lc.admin", "role": "admin", "region": COUNTY, "password": PASSWORD},
    )  # fmt: skip
    assert made["region"] == COUNTY
    return "lc.admin"


def _shows_only_the_county(page: Page) -> None:
    expect(page.locator("#scope")).to_have_text(f"范围：{COUNTY}")
    crumbs = page.locator("#crumbs li")
    expect(crumbs).to_have_count(1)
    expect(crumbs.first).to_have_text(COUNTY)  # the scope itself: nothing above it to go to
    expect(page.locator("#crumbs a")).to_have_count(0)
    expect(page.locator("#overview-h")).to_contain_text("临城县")
    rows = page.locator("#regions-body tr")
    expect(rows).to_have_count(2)  # one per village of the county, none of anywhere else
    text = page.locator("main").inner_text()
    for name, region in THEIRS.values():
        assert name not in text and region.split("/")[2] not in text
    assert "全部地区" not in text and "Scope" not in page.locator("body").inner_text()


def test_a_county_administrator_s_pages_start_at_its_county(page: Page, county_admin: str) -> None:
    login(page, county_admin)
    page.goto("/ui/admin/sites")
    expect(page.locator("#regions-body tr").first).to_be_visible()
    _shows_only_the_county(page)
    for name, _ in OURS.values():
        expect(page.locator("main")).to_contain_text(name)

    page.goto("/ui/admin/compliance")
    expect(page.locator("#regions-body tr").first).to_be_visible()
    _shows_only_the_county(page)
    expect(page.locator("#totals .sites dd")).to_have_text("2")

    # Drilled down to a village, the trail goes back up to the county and no further.
    page.locator("#regions-body a", has_text="东竖村").click()
    expect(page.locator("#crumbs li")).to_have_count(2)
    expect(page.locator("#crumbs a")).to_have_text([COUNTY])


def test_a_county_administrator_publishes_inside_its_county(
    page: Page, web: Stack, county_admin: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    films = tmp_path_factory.mktemp("local-films")
    assets = [
        web.upload(make_media(films / f"榜样{n}.mp4", seconds=s))["id"] for n, s in ((1, 2.0), (2, 2.5))
    ]
    for asset_id in assets:
        assert web.wait(asset_id)["status"] == "ready", web.log_tail("worker")
    # Two drafts the network's department made for the county.
    local, wide = (
        web.api("POST", "/programmes", web.headers,
                json={"title": title, "category": "party-spirit", "asset_id": asset, "region": COUNTY})["id"]
        for title, asset in (("东竖村榜样党员", assets[0]), ("想发到邻县的片", assets[1]))
    )  # fmt: skip
    login(page, county_admin)
    page.goto("/ui/admin/programmes")
    row = page.locator(f'tr[data-id="{local}"]')
    expect(row.locator("td.region")).to_have_text(COUNTY)

    row.get_by_role("button", name="发布：东竖村榜样党员").click()
    dialog = page.get_by_role("dialog", name="发布节目？")
    field = dialog.get_by_label("发布范围")
    expect(field).to_have_value(COUNTY)
    # Suggested: the county and its villages, nothing of the neighbour's or above the county.
    options = dialog.locator("datalist option")
    expect(options).to_have_count(3)
    assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == sorted(
        [COUNTY, *(region for _, region in OURS.values())]
    )
    field.fill(f"{COUNTY}/东竖村")
    screenshot(page, "publish-region")
    dialog.get_by_role("button", name="发布", exact=True).click()
    expect(row.locator("td.state")).to_have_text("已发布")
    expect(row.locator("td.region")).to_have_text(f"{COUNTY}/东竖村")
    assert web.api("GET", f"/programmes/{local}")["region"] == f"{COUNTY}/东竖村"

    # The neighbour county is refused, in Chinese, and nothing changes.
    page.locator(f'tr[data-id="{wide}"]').get_by_role("button", name="发布：想发到邻县的片").click()
    dialog = page.get_by_role("dialog", name="发布节目？")
    dialog.get_by_label("发布范围").fill("河北省/邢台市/内丘县")
    dialog.get_by_role("button", name="发布", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("河北省/邢台市/内丘县")
    assert web.api("GET", f"/programmes/{wide}")["status"] == "draft"

    # The programme's own page says where it is published.
    page.goto(f"/ui/programmes/{local}")
    facts = page.locator("dl.facts")
    expect(facts.locator("dt", has_text="发布范围").locator("xpath=following-sibling::dd[1]")).to_have_text(
        f"{COUNTY}/东竖村"
    )
    # Drafts offer the same field on their page: the county by default, the county's villages suggested.
    page.goto(f"/ui/programmes/{wide}")
    expect(page.get_by_label("发布范围")).to_have_value(COUNTY)
    expect(page.locator("#publish-region-list option")).to_have_count(3)
