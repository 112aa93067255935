"""Layered study lists (issue 19 part 4): a province list applies to every site below it, each city,
county and township adds its own on top; a site's required lists are the union, shallower layers
first, all the way to its manifest; a county reads the province's list but cannot change it, and never
learns of a neighbour's; compliance counts each list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from mediasrv.accounts import service
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import today_in_china
from tests.fixtures import ACTOR, ReadyAsset, publish_programme
from tests.study.test_compliance import compliance_of, session
from tests.study.test_lists import site_with

PROVINCE, CITY = "河北省", "河北省/邢台市"
COUNTY, TOWN = "河北省/邢台市/信都区", "河北省/邢台市/信都区/西黄村镇"
NEIGHBOUR = "河北省/邢台市/襄都区"
VILLAGE = TOWN + "/西塘村"


def administrator(db: Database, region: str) -> dict[str, str]:
    with db.session_scope() as s:
        _, plain = service.create_service_account(
            s, actor=ACTOR, name=f"admin-{uuid.uuid4().hex[:8]}", role=Role.ADMIN, region=region
        )
    return {"Authorization": f"Bearer {plain}"}


def published_list(
    client: TestClient, by: dict[str, str], title: str, programmes: list[str], **fields: Any
) -> dict[str, Any]:
    """A list made and published by the administrator `by` (no regions: its whole scope)."""
    made = client.post(
        "/api/v1/study-lists", headers=by, json={"title": title, "programme_ids": programmes, **fields}
    )
    assert made.status_code == 201, made.text
    done = client.post(f"/api/v1/study-lists/{made.json()['id']}/publish", headers=by)
    assert done.status_code == 200, done.text
    got: dict[str, Any] = done.json()
    return got


def test_a_township_site_studies_every_layer_above_it_shallower_first(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    p1, p2, p3, p4, p5 = (
        publish_programme(client, producer, admin, ready_asset(producer), title=t)
        for t in ("省课", "市课", "县课", "乡课", "邻县课")
    )
    today = today_in_china()
    period = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=30)).isoformat()}
    # Made deepest first: neither the ids nor the order of making put the province first.
    town = published_list(client, administrator(db, TOWN), "乡镇清单", [p4], expected_hours=1, **period)
    county = published_list(client, administrator(db, COUNTY), "县清单", [p3, p1], expected_hours=2, **period)
    city = published_list(client, administrator(db, CITY), "市清单", [p2], expected_hours=3, **period)
    province = published_list(client, administrator(db, PROVINCE), "省清单", [p1], expected_hours=4, **period)
    published_list(client, administrator(db, NEIGHBOUR), "邻县清单", [p5], **period)
    assert (town["region"], town["regions"]) == (TOWN, [TOWN])  # no regions given: its whole layer

    site, site_h = site_with(client, db, admin, "xitang", VILLAGE)
    got = client.get(f"/api/v1/sites/{site}/required", headers=site_h).json()
    assert [s["title"] for s in got["lists"]] == ["省清单", "市清单", "县清单", "乡镇清单"]
    assert [p["id"] for p in got["programmes"]] == [p1, p2, p3, p4]  # p1 once, where the province put it
    assert got["expected_hours"] == 10
    assert [s["id"] for s in got["lists"]] == [province["id"], city["id"], county["id"], town["id"]]

    # The order reaches what the site's agent keeps: the manifest ranks the required programmes so.
    manifest = client.get(f"/api/v1/sites/{site}/manifest", headers=site_h).json()
    # Its programmes are kept sorted by id; the rank is "order" (protocol.document).
    required = {p["id"] for p in manifest["programmes"] if p["required"]}
    assert [i for i in manifest["order"] if i in required] == [p1, p2, p3, p4]

    # The neighbour county's site: the province's and the city's, then its own; nothing of 信都区's.
    other, other_h = site_with(client, db, admin, "xiangdu", NEIGHBOUR + "/某村")
    theirs = client.get(f"/api/v1/sites/{other}/required", headers=other_h).json()
    assert [s["title"] for s in theirs["lists"]] == ["省清单", "市清单", "邻县清单"]
    assert [p["id"] for p in theirs["programmes"]] == [p1, p2, p5]


def test_a_county_reads_the_province_list_but_cannot_change_it(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    film = publish_programme(client, producer, admin, ready_asset(producer), title="党章")
    december = {"starts_on": "2026-12-01", "ends_on": "2026-12-31", "programme_ids": [film]}
    province, county = administrator(db, PROVINCE), administrator(db, COUNTY)
    neighbour = administrator(db, NEIGHBOUR)
    theirs = published_list(client, province, "全省12月必学", [film], **december)
    draft = client.post("/api/v1/study-lists", headers=province, json={"title": "省草稿", **december}).json()
    aimed = published_list(client, province, "只给襄都区", [film], regions=[NEIGHBOUR], **december)
    next_door = published_list(client, neighbour, "襄都区清单", [film], **december)
    own = published_list(client, county, "信都区清单", [film], **december)

    url = f"/api/v1/study-lists/{theirs['id']}"
    seen = client.get(url, headers=county)
    assert seen.status_code == 200 and seen.json()["editable"] is False and seen.json()["region"] == PROVINCE
    shown = client.get("/api/v1/study-lists", headers=county).json()
    assert {s["title"] for s in shown["items"]} == {"全省12月必学", "信都区清单"} and shown["total"] == 2
    # Visible but set above: refused with the reason, in Chinese; the list stays as it was.
    for method, path, body in (
        ("PATCH", url, {"title": "县里改的"}),
        ("POST", url + "/archive", None),
        ("POST", url + "/publish", None),
    ):
        refused = client.request(method, path, headers=county, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "study.list_above_scope"
        assert "上级（河北省）" in refused.json()["message"] and "全省12月必学" in refused.json()["message"]
    assert client.get(url, headers=province).json() == {**theirs, "updated_at": theirs["updated_at"]}
    # What it should not learn of: the province's draft, a list aimed at the neighbour, the neighbour's.
    for hidden in (draft, aimed, next_door):
        assert client.get(f"/api/v1/study-lists/{hidden['id']}", headers=county).status_code == 404
        gone = client.patch(f"/api/v1/study-lists/{hidden['id']}", headers=county, json={"title": "x"})
        assert gone.status_code == 404
    # Its own lists only inside its county; the province changes the county's.
    wide = client.post(
        "/api/v1/study-lists", headers=county, json={"title": "x", "regions": [PROVINCE], **december}
    )
    assert wide.status_code == 403 and wide.json()["code"] == "study.list_target_outside"
    above = client.post(
        "/api/v1/study-lists", headers=county, json={"title": "x", "region": CITY, **december}
    )
    assert above.status_code == 403 and above.json()["code"] == "kit.region_not_yours"
    assert client.get(f"/api/v1/study-lists/{own['id']}", headers=county).json()["editable"] is True
    steered = client.patch(f"/api/v1/study-lists/{own['id']}", headers=province, json={"expected_hours": 3})
    assert steered.status_code == 200 and steered.json()["expected_hours"] == 3


def test_compliance_counts_each_layer_s_list(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b = (
        publish_programme(client, producer, admin, ready_asset(producer), title=t) for t in ("甲课", "乙课")
    )
    november = {"starts_on": "2026-11-01", "ends_on": "2026-11-30"}
    county = administrator(db, COUNTY)
    published_list(client, county, "县11月", [b], expected_hours=1, **november)
    published_list(client, administrator(db, PROVINCE), "省11月", [a, b], expected_hours=4, **november)
    site = site_with(client, db, admin, "xitang", VILLAGE)
    session(site, client, "2026-11-10T19:00:00+08:00", 90, (a, None), (b, None))

    got = compliance_of(client, county, site[0])
    assert [(c["title"], c["expected_hours"], c["hours_met"], c["fully"]) for c in got["lists"]] == [
        ("省11月", 4, False, 2),  # 2 class hours held, 4 asked
        ("县11月", 1, True, 1),
    ]
    roll_up = client.get("/api/v1/compliance", headers=county, params={"month": "2026-11"}).json()
    assert roll_up["region"] == COUNTY
    assert (roll_up["totals"]["required"], roll_up["totals"]["fully"]) == (3, 3)  # each list's programmes
