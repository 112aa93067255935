"""A site's page in a real browser: the programmes its manifest leaves out (未下载的节目), each in the
server's Chinese sentence with what to do, and the quota field that decides them: raised there, the
list empties."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.sizes import PLAIN, human_size
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def test_a_county_administrator_sees_what_a_site_left_out_and_raises_its_quota(
    page: Page, web: Stack, tmp_path: Path
) -> None:
    def programme(title: str, seconds: float) -> str:
        film = web.wait(web.upload(make_media(tmp_path / f"{title}.mp4", seconds=seconds))["id"])
        return web.publish(film["id"], title, "health")

    required, optional = programme("健康讲座", 2.0), programme("乡村振兴 第2集", 2.5)
    today = today_in_china().isoformat()
    body = {"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [required]}
    study = web.api("POST", "/study-lists", web.admin, json=body)
    web.api("POST", f"/study-lists/{study['id']}/publish", web.admin)
    site = web.api("POST", "/sites", web.admin, json={"code": "lc-nancun", "name": "南村党员活动室"})
    size = {p["id"]: p["bytes"] for p in web.api("GET", f"/sites/{site['id']}/manifest")["programmes"]}
    quota = size[required] + size[optional] // 2
    web.api("PATCH", f"/sites/{site['id']}", web.admin, json={"quota_bytes": quota})

    login(page, "li.admin")
    page.goto(f"/ui/admin/sites/{site['id']}/study")
    box = page.locator("#left-out")
    expect(box.get_by_role("heading", name="未下载的节目")).to_be_visible()
    item = box.locator(f'li[data-programme="{optional}"]')
    need, left, whole = (human_size(n, PLAIN) for n in (size[optional], size[optional] // 2, quota))
    said = f"《乡村振兴 第2集》未下载：超出存储配额，还需 {need}，剩余 {left}（共 {whole}）"
    expect(item.locator(".message")).to_have_text(said)
    expect(item.locator(".advice")).to_contain_text("调高本站点的存储配额")
    expect(box.locator("#left-out-usage")).to_contain_text(f"存储配额 {whole}")
    expect(box).not_to_contain_text("null")  # the parts a site without them lacks are left out, not "null"
    screenshot(page, "site_left_out")

    box.get_by_label("存储配额（GB）").fill("10")
    box.get_by_role("button", name="保存配额").click()
    expect(page.locator("#left-out-done")).to_have_text("配额已保存，下载清单已按新配额更新。")
    expect(page.locator("#left-out-done")).to_be_focused()
    expect(box).to_contain_text("本站点的节目都在下载清单里。")
    assert web.api("GET", f"/sites/{site['id']}", web.admin)["quota_bytes"] == 10 * 1024**3
