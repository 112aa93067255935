"""A region's languages (issue 22 part 5): a site that chose none holds its nearest region's, so a
county that sets Tibetan gets its sites the Tibetan lists at the next poll, and a neighbour's sites
nothing; a site's own choice and a nearer region's win; administrators set only their scope's."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mediasrv.accounts import service
from mediasrv.audit.models import AuditEvent
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from tests.delivery.test_manifest import _lists, _manifest
from tests.delivery.test_site_languages import TITLE, film, site_with
from tests.fixtures import ACTOR

__all__ = ["film"]  # the fixture, found by pytest here

COUNTY = "河北省/邢台市/信都区"
VILLAGE = f"{COUNTY}/西黄村镇/西塘村"
NEIGHBOUR = "河北省/邢台市/临城县/东镇村"


def county_admin(db: Database, region: str = COUNTY) -> dict[str, str]:
    with db.session_scope() as s:
        _, plain = service.create_service_account(
            s, actor=ACTOR, name="county-admin", role=Role.ADMIN, region=region
        )
    return {"Authorization": f"Bearer {plain}"}


def held(doc: dict[str, Any]) -> list[str]:
    return [x["language"] for x in doc["programmes"][0].get("languages", [])]


def test_a_site_holds_its_countys_languages_once_the_county_sets_them(
    client: TestClient, db: Database, admin: dict[str, str], film: tuple[str, str]
) -> None:
    _pid, asset = film
    phone, phone_h = site_with(client, db, admin, "xt-phone", device_profile="mobile", region=VILLAGE)
    box, box_h = site_with(client, db, admin, "xt-box", device_profile="iptv", region=VILLAGE)
    other, other_h = site_with(client, db, admin, "lc-phone", device_profile="mobile", region=NEIGHBOUR)
    before = _manifest(client, phone, phone_h)
    assert held(before) == [] and len(before["programmes"][0]["lists"]) == 1
    channels = client.get(f"/api/v1/sites/{box}/playlist.m3u8", headers=box_h).text
    assert "iptv-bo" not in channels

    county = county_admin(db)
    r = client.put("/api/v1/region-languages", headers=county, json={"region": COUNTY, "languages": "藏语"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "region": COUNTY,
        "languages": ["bo"],
        "effective_languages": ["bo"],
        "languages_from": COUNTY,
    }

    after = _manifest(client, phone, phone_h)
    assert after["version"] > before["version"] and held(after) == ["bo"]
    presentations = [
        _lists(client, after, phone_h)[x["sha256"]]["presentation"] for x in after["programmes"][0]["lists"]
    ]
    assert presentations == ["master", "master-bo"]
    assert after["bytes"] > before["bytes"]  # the quota counts the inherited track too
    assert held(_manifest(client, other, other_h)) == []  # the neighbour county's site: nothing
    channels = client.get(f"/api/v1/sites/{box}/playlist.m3u8", headers=box_h).text
    assert f",《{TITLE}》藏语" in channels and f"/hls/{asset}/iptv-bo.m3u8" in channels

    site = client.get(f"/api/v1/sites/{phone}", headers=county).json()
    assert (site["languages"], site["effective_languages"], site["languages_from"]) == ([], ["bo"], COUNTY)
    rows = {r["region"]: r for r in client.get("/api/v1/region-languages", headers=county).json()}
    assert rows[COUNTY]["languages"] == ["bo"] and rows[VILLAGE]["languages"] == []
    assert rows[VILLAGE]["effective_languages"] == ["bo"] and rows[VILLAGE]["languages_from"] == COUNTY
    assert NEIGHBOUR not in rows

    # The nearer level wins: the village sets Uyghur; a site's own choice wins over both.
    village = {"region": VILLAGE, "languages": ["ug"]}
    assert client.put("/api/v1/region-languages", headers=county, json=village).status_code == 200
    assert held(_manifest(client, phone, phone_h)) == ["ug"]
    assert (
        client.patch(f"/api/v1/sites/{phone}", headers=admin, json={"languages": ["bo"]}).status_code == 200
    )
    assert held(_manifest(client, phone, phone_h)) == ["bo"]
    assert client.get(f"/api/v1/sites/{phone}", headers=county).json()["languages_from"] is None
    # Cleared: the village inherits the county's again, then nothing once the county clears its own.
    for region, left in ((VILLAGE, ["bo"]), (COUNTY, [])):
        r = client.put("/api/v1/region-languages", headers=county, json={"region": region, "languages": []})
        assert r.status_code == 200 and r.json()["effective_languages"] == left, r.text
    assert client.patch(f"/api/v1/sites/{phone}", headers=admin, json={"languages": []}).status_code == 200
    assert held(_manifest(client, phone, phone_h)) == []

    with db.session_scope() as s:
        logged = [e.details for e in s.query(AuditEvent).filter_by(action="region_languages.update")]
    assert {"before": [], "after": ["bo"]} in [d["languages"] for d in logged] and len(logged) == 4


def test_region_languages_stay_inside_the_scope_and_are_checked_in_chinese(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    county = county_admin(db)
    r = client.put(
        "/api/v1/region-languages", headers=county, json={"region": NEIGHBOUR, "languages": ["bo"]}
    )
    assert r.status_code == 403 and r.json()["code"] == "kit.region_not_yours"
    r = client.put("/api/v1/region-languages", headers=county, json={"region": "河北省", "languages": ["bo"]})
    assert r.status_code == 403  # a wider region is not the county's either
    assert (
        client.get("/api/v1/region-languages", headers=county, params={"region": NEIGHBOUR}).status_code
        == 404
    )
    r = client.put("/api/v1/region-languages?lang=zh", headers=county, json={"languages": ["火星语"]})
    assert r.status_code == 422 and "火星语" in r.text and "藏语" in r.text
    r = client.put("/api/v1/region-languages", headers=county, json={"languages": ["维吾尔语"]})
    assert r.status_code == 200 and r.json()["region"] == COUNTY  # none given: the scope itself
    r = client.put("/api/v1/region-languages", headers=admin, json={"region": NEIGHBOUR, "languages": ["bo"]})
    assert r.status_code == 200  # the whole network's administrator
