"""Schedules at the centre (issue 21): administrators set their regions' weekly blocks (scoped, audited,
refused in Chinese when wrong), a site's week is its layers' blocks with the nearer level winning, and
the site's signed manifest carries it under "schedule", versioned and delta'd like a list change."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mediasrv.accounts import service
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import apply_delta, canonical
from mediasrv.sites.registry import create_site
from tests.delivery.test_manifest import _manifest
from tests.fixtures import ACTOR, ReadyAsset, publish_programme

CITY = "河北省/邢台市"
COUNTY = "河北省/邢台市/信都区"
NEIGHBOUR = "河北省/邢台市/襄都区"
VILLAGE = "河北省/邢台市/信都区/西黄村镇/西塘村"


def _bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def people(db: Database) -> dict[str, dict[str, str]]:
    """Administrators of the city, its county and the neighbouring county, and the village's site."""
    found: dict[str, dict[str, str]] = {}
    with db.session_scope() as s:
        for who, region in (("city", CITY), ("county", COUNTY), ("neighbour", NEIGHBOUR)):
            _, plain = service.create_service_account(
                s, actor=ACTOR, name=f"{who}-admin", role=Role.ADMIN, region=region
            )
            found[who] = _bearer(plain)
        site = create_site(s, actor=ACTOR, code="xitang", name="西塘村活动室", region=VILLAGE)
        _, plain = service.create_token(s, actor=ACTOR, name="xitang-box", site_id=site.id)
        found["site"] = _bearer(plain)
        found["site_id"] = {"id": str(site.id)}
    return found


def _block(client: TestClient, who: dict[str, str], **fields: Any) -> Any:
    body = {"weekday": 3, "start": "09:00", "end": "12:00", "title": "学习时段", "source": "programmes"}
    return client.post("/api/v1/schedule-blocks", headers=who, json=body | fields)


def _required_list(client: TestClient, who: dict[str, str], ids: list[str]) -> int:
    """A required list in force all week from today (a block plays its list only while in force)."""
    today = today_in_china()
    period = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=7)).isoformat()}
    made = client.post(
        "/api/v1/study-lists", headers=who, json={"title": "本月必学", "programme_ids": ids, **period}
    )
    assert made.status_code == 201, made.text
    list_id = int(made.json()["id"])
    assert client.post(f"/api/v1/study-lists/{list_id}/publish", headers=who).status_code == 200
    return list_id


def test_blocks_are_scoped_layered_and_refused_in_chinese(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    people: dict[str, dict[str, str]],
) -> None:
    city, county, neighbour = people["city"], people["county"], people["neighbour"]
    site_id = people["site_id"]["id"]
    film = publish_programme(client, producer, admin, ready_asset(producer), title="乡村振兴")
    lesson = publish_programme(client, producer, admin, ready_asset(producer), title="党章学习")
    wide = _block(client, city, title="市里的学习时段", programme_ids=[film])
    assert wide.status_code == 201, wide.text
    assert wide.json()["region"] == CITY and wide.json()["start"] == "09:00"
    study_list = _required_list(client, county, [lesson])
    near = _block(
        client,
        county,
        title="县里的必学时段",
        start="10:00",
        end="11:00",
        source="list",
        study_list_id=study_list,
    )
    assert near.status_code == 201, near.text

    # Refusals a person can act on, in Chinese: the overlapping block named, the time's form shown.
    clash = _block(client, county, title="又一个", start="10:30", end="11:30", programme_ids=[film])
    assert clash.status_code == 409 and clash.json()["code"] == "schedule.block_overlaps"
    assert clash.json()["message"] == (
        "这个时段与本地区已有的时段“县里的必学时段”（星期三 10:00–11:00）重叠：请先调整或删除其中一个。"
    )
    bad = _block(client, county, start="9:30", programme_ids=[film])
    assert bad.status_code == 400 and "“9:30”" in bad.json()["message"] and "时:分" in bad.json()["message"]
    backwards = _block(client, county, start="12:00", end="11:00", programme_ids=[film])
    assert backwards.status_code == 400 and "必须晚于开始时间" in backwards.json()["message"]
    late = _block(client, county, start="23:00", end="24:01", programme_ids=[film])
    assert late.status_code == 400 and late.json()["code"] == "schedule.time_malformed"
    english = _block(client, county | {"Accept-Language": "en"}, start="25:00", programme_ids=[film])
    assert "is not a time" in english.json()["message"]
    # The overlap is the same region's: the city's block at the same time was no obstacle above.

    # A county administrator cannot touch the city's block, nor make one there: it does not exist for it.
    assert client.delete(f"/api/v1/schedule-blocks/{wide.json()['id']}", headers=county).status_code == 404
    assert (
        _block(client, county, region=CITY, start="13:00", end="14:00", programme_ids=[film]).status_code
        == 403
    )
    mine = client.get("/api/v1/schedule-blocks", headers=county).json()
    assert [b["title"] for b in mine["items"]] == ["县里的必学时段"]
    both = client.get("/api/v1/schedule-blocks", headers=city).json()
    assert [b["title"] for b in both["items"]] == ["市里的学习时段", "县里的必学时段"]
    assert client.get(f"/api/v1/sites/{site_id}/schedule", headers=neighbour).status_code == 404

    # The village's week: the county's block wins 10:00–11:00, the city's plays around it, and the
    # centre says which block was overridden by which.
    week = client.get(f"/api/v1/sites/{site_id}/schedule", headers=county)
    assert week.status_code == 200, week.text
    got = week.json()
    assert got["timezone"] == "Asia/Shanghai" and got["configured"] is True
    wide_id, near_id = wide.json()["id"], near.json()["id"]
    assert [(b["id"], b["start"], b["end"], b["region"], b["required"]) for b in got["blocks"]] == [
        (f"{wide_id}@09:00", "09:00", "10:00", CITY, False),
        (str(near_id), "10:00", "11:00", COUNTY, True),
        (f"{wide_id}@11:00", "11:00", "12:00", CITY, False),
    ]
    assert got["blocks"][1]["programmes"] == [{"id": lesson, "title": "党章学习"}]
    assert got["blocks"][1]["source"] == "list" and got["blocks"][1]["study_list_id"] == study_list
    assert got["overridden"] == [
        {
            "block_id": wide_id,
            "title": "市里的学习时段",
            "region": CITY,
            "weekday": 3,
            "start": "10:00",
            "end": "11:00",
            "by_block_id": near_id,
            "by_title": "县里的必学时段",
            "by_region": COUNTY,
        }
    ]
    assert client.get(f"/api/v1/sites/{site_id}/schedule", headers=people["site"]).status_code == 200

    # What plays outside the blocks: the county sets a card and no filler; not for the city.
    settings = {"filler": "none", "card_programme_id": film}
    assert (
        client.put("/api/v1/schedule-settings", headers=county, json=settings | {"region": CITY}).status_code
        == 403
    )
    put = client.put("/api/v1/schedule-settings", headers=county, json=settings)
    assert put.status_code == 200 and put.json()["region"] == COUNTY, put.text
    week2 = client.get(f"/api/v1/sites/{site_id}/schedule", headers=city).json()
    assert week2["card"] == {"id": film, "title": "乡村振兴"} and week2["filler"] == []

    log = client.get("/api/v1/audit", headers=county, params={"target_type": "schedule_block"}).json()
    assert [e["action"] for e in log["items"]] == ["schedule_block.create"]  # the county's own only
    assert client.delete(f"/api/v1/schedule-blocks/{near_id}", headers=county).status_code == 204
    log = client.get("/api/v1/audit", headers=city, params={"target_type": "schedule_block"}).json()
    assert [e["action"] for e in log["items"]] == [
        "schedule_block.delete",
        "schedule_block.create",
        "schedule_block.create",
    ]


def test_the_manifest_carries_the_schedule_and_a_change_is_a_new_version(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    people: dict[str, dict[str, str]],
) -> None:
    city, box = people["city"], people["site"]
    site_id = int(people["site_id"]["id"])
    scheduled = publish_programme(client, producer, admin, ready_asset(producer), title="排播片")
    newer = publish_programme(client, producer, admin, ready_asset(producer), title="新片")
    required = publish_programme(client, producer, admin, ready_asset(producer), title="必学片")
    _required_list(client, city, [required])

    before = _manifest(client, site_id, box)
    assert "schedule" not in before  # no layer has a schedule: the document as it always was
    assert before["order"] == [required, newer, scheduled]  # the newest first after the required

    block = _block(
        client, city, weekday=1, start="19:30", end="21:00", title="周一晚间", programme_ids=[scheduled]
    )
    assert block.status_code == 201, block.text
    after = _manifest(client, site_id, box)
    assert after["version"] == before["version"] + 1
    assert after["schedule"] == {
        "timezone": "Asia/Shanghai",
        "blocks": [
            {
                "id": str(block.json()["id"]),
                "weekday": 1,
                "start": "19:30",
                "end": "21:00",
                "title": "周一晚间",
                "required": False,
                "programmes": [scheduled],
                "region": CITY,
            }
        ],
        "filler": [],
        "card": None,
    }
    # The scheduled programme is held, right after the required ones.
    assert after["order"] == [required, scheduled, newer]

    # A delta from the old version carries the schedule, and rebuilds the signed document exactly.
    delta = _manifest(client, site_id, box, since=before["version"])
    assert delta["schedule"] == after["schedule"]
    rebuilt = apply_delta(before, delta)
    assert rebuilt == after and hashlib.sha256(canonical(rebuilt)).hexdigest() == delta["sha256"]

    # The last block gone: the key goes, which a delta cannot say, so the answer is the full manifest.
    assert client.delete(f"/api/v1/schedule-blocks/{block.json()['id']}", headers=city).status_code == 204
    r = client.get(f"/api/v1/sites/{site_id}/manifest", headers=box, params={"since": after["version"]})
    assert r.status_code == 200 and r.headers["x-manifest-kind"] == "full"
    gone = r.json()
    assert "schedule" not in gone and gone["version"] == after["version"] + 1


def test_scheduled_programmes_that_do_not_fit_the_quota_stay_in_the_schedule(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    people: dict[str, dict[str, str]],
) -> None:
    city, box = people["city"], people["site"]
    site_id = int(people["site_id"]["id"])
    first = publish_programme(client, producer, admin, ready_asset(producer), title="第一部")
    second = publish_programme(client, producer, admin, ready_asset(producer), title="第二部")
    made = _block(client, city, weekday=2, programme_ids=[first, second])
    assert made.status_code == 201, made.text
    doc = _manifest(client, site_id, box)
    sizes = {p["id"]: p["bytes"] for p in doc["programmes"]}
    assert set(sizes) == {first, second} and doc["order"] == [first, second]
    # Room for the first only: the second is dropped from the cache, still named by the schedule.
    quota = {"quota_bytes": sizes[first] + sizes[second] - 1}
    assert client.patch(f"/api/v1/sites/{site_id}", headers=admin, json=quota).status_code == 200
    tight = _manifest(client, site_id, box)
    assert tight["order"] == [first] and [d["id"] for d in tight["dropped"]] == [second]
    assert tight["schedule"]["blocks"][0]["programmes"] == [first, second]
