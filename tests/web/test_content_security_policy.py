"""Every page in a real browser under the Content-Security-Policy the server sends with it: nothing
the policy refuses (scripts, styles, fetches, hls.js's blob: worker and media), and a programme
still plays."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page

from mediasrv.admission import PAGE_POLICY
from mediasrv.web.router import PAGES
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import PLAY_MUTED, login

pytestmark = pytest.mark.e2e


def test_every_page_works_under_its_content_security_policy(
    page: Page, web: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    film = web.wait(web.upload(make_media(tmp_path_factory.mktemp("csp") / "a.mp4", seconds=4))["id"])
    assert film["status"] == "ready", film["error"]
    programme = web.publish(film["id"], "党的二十大精神学习", "party-spirit")
    site = web.api("POST", "/sites", json={"code": "csp-1", "name": "西塘村", "region": "河北省/邢台市"})
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", note)
    login(page, "li.admin")  # the login page itself is the first one checked
    params = {"programme_id": programme, "site_id": str(site["id"])}
    for template in PAGES:
        path = re.sub(r"\{(\w+)\}", lambda m: params[m[1]], template)
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert response.headers["content-security-policy"] == PAGE_POLICY, path
        page.wait_for_load_state("networkidle")
    # The player: hls.js feeds the video element from blob: media, demuxing in a blob: worker.
    page.goto(f"/ui/programmes/{programme}")
    page.locator("#player video").wait_for()
    page.evaluate(PLAY_MUTED)
    page.wait_for_function("() => document.querySelector('#player video').currentTime > 0.5")
    assert refused == []
    assert httpx.get(f"{web.url}/static/app.js", timeout=30).headers["x-content-type-options"] == "nosniff"
