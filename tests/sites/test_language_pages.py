"""The pages that show and choose languages (issue 22 part 5): the sites page (a region's) and a site's
page get the languages to offer, with their Chinese names, from media/languages.py, the words that say
where inherited languages come from, and the script that shows and saves them."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from mediasrv.db import Database
from mediasrv.kit.caller import Role
from tests.fixtures import make_token


def page_data(client: TestClient, path: str, who: dict[str, str]) -> dict[str, Any]:
    page = client.get(path, headers=who)
    assert page.status_code == 200, page.text
    data: dict[str, Any] = json.loads(page.text.split('id="page-data">', 1)[1].split("</script>", 1)[0])
    return data


def test_the_sites_pages_offer_the_languages_by_their_chinese_names(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    make_token(db, Role.SITE, "xt-page")
    site_id = next(
        s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == "xt-page"
    )
    for path in ("/ui/admin/sites", f"/ui/admin/sites/{site_id}/study"):
        data = page_data(client, path, admin)
        offered = dict(data["languages"])
        assert offered["bo"] == "藏语" and offered["ug"] == "维吾尔语", path
        assert "zh-Hans" not in offered and "zh" not in offered  # every site has Mandarin
        assert data["words"]["languages.inherited"] == "{languages}（继承自{region}）"
    scripts = {
        name: client.get(f"/static/{name}").text for name in ("sites.js", "site_study.js", "languages.js")
    }
    assert "/api/v1/region-languages" in scripts["sites.js"] and "languages.js" in scripts["sites.js"]
    assert 'method: "PATCH", json: { languages: tags }' in scripts["site_study.js"]
    assert "fieldset" in scripts["languages.js"] and "legend" in scripts["languages.js"]
