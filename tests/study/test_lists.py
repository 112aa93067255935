"""Required-study lists: curated, periodic, regional; what a site must study today in one call."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from mediasrv.db import Database
from mediasrv.kit import i18n
from mediasrv.kit.caller import Role
from mediasrv.study.models import StudyListStatus
from tests.fixtures import ReadyAsset, make_token, publish_programme

DECEMBER = {"starts_on": "2026-12-01", "ends_on": "2026-12-31"}


def site_with(
    client: TestClient, db: Database, admin: dict[str, str], code: str, region: str
) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    site = next(s for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    # make_token registers sites in 河北省/邢台市; move this one where the test needs it
    with db.session_scope() as s:
        from mediasrv.sites.models import Site

        s.get_one(Site, site["id"]).region = region
    return site["id"], headers


def test_required_for_a_site_today(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b, c = (
        publish_programme(
            client, producer, admin, ready_asset(producer), title=t, category="political-theory"
        )
        for t in ("第一课", "第二课", "第三课")
    )
    county = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={
            "title": "12月必学清单（信都区）",
            "expected_hours": 8,
            "regions": ["河北省/邢台市/信都区"],
            "programme_ids": [b, a],
            **DECEMBER,
        },
    ).json()
    everyone = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "全省12月必学", "expected_hours": 2, "programme_ids": [a, c], **DECEMBER},
    ).json()
    assert county["status"] == "draft" and [i["programme_id"] for i in county["items"]] == [b, a]
    inside, inside_h = site_with(client, db, admin, "xitang", "河北省/邢台市/信都区/西黄村镇/西塘村")
    outside, _ = site_with(
        client, db, admin, "other", "河北省/邢台市/信都区县"
    )  # a name prefix, not a path prefix
    day = {"on": "2026-12-10"}
    before = client.get(f"/api/v1/sites/{inside}/required", headers=inside_h, params=day).json()
    assert before["programmes"] == []  # drafts are not in force
    for s in (county, everyone):
        assert client.post(f"/api/v1/study-lists/{s['id']}/publish", headers=admin).status_code == 200
    got = client.get(f"/api/v1/sites/{inside}/required", headers=inside_h, params=day).json()
    assert [p["id"] for p in got["programmes"]] == [b, a, c]  # curated order, lists by start, no repeats
    assert got["expected_hours"] == 10 and len(got["lists"]) == 2
    far = client.get(f"/api/v1/sites/{outside}/required", headers=admin, params=day).json()
    assert [p["id"] for p in far["programmes"]] == [a, c]
    assert (
        client.get(f"/api/v1/sites/{inside}/required", headers=inside_h, params={"on": "2027-01-01"}).json()[
            "programmes"
        ]
        == []
    )
    # Withdrawing a programme takes it off every list at once.
    client.post(f"/api/v1/programmes/{a}/withdraw", headers=admin, json={})
    got = client.get(f"/api/v1/sites/{inside}/required", headers=inside_h, params=day).json()
    assert [p["id"] for p in got["programmes"]] == [b, c]


def test_sites_read_only_their_own_required_list(
    client: TestClient, db: Database, admin: dict[str, str], producer: dict[str, str]
) -> None:
    first, first_h = site_with(client, db, admin, "site-a", "河北省")
    second, _ = site_with(client, db, admin, "site-b", "河北省")
    assert client.get(f"/api/v1/sites/{first}/required", headers=first_h).status_code == 200
    assert client.get(f"/api/v1/sites/{second}/required", headers=first_h).status_code == 403
    assert client.get(f"/api/v1/sites/{first}/required", headers=producer).status_code == 403


def test_lists_keep_history_and_audit_changes(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b = (
        publish_programme(
            client, producer, admin, ready_asset(producer), title=t, category="political-theory"
        )
        for t in ("甲", "乙")
    )
    sl = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "11月必学", "programme_ids": [a], "starts_on": "2026-11-01", "ends_on": "2026-11-30"},
    ).json()
    url = f"/api/v1/study-lists/{sl['id']}"
    reordered = client.patch(url, headers=admin, json={"programme_ids": [b, a]}).json()
    assert [i["title"] for i in reordered["items"]] == ["乙", "甲"]
    client.post(url + "/publish", headers=admin)
    assert client.post(url + "/archive", headers=admin).json()["status"] == "archived"
    frozen = client.patch(url, headers=admin, json={"title": "改"})
    assert frozen.status_code == 409 and frozen.json()["code"] == "study.list_archived"
    for accept, said in (
        ("zh-CN", "“已归档”的清单不能改为“已发布”。"),
        ("en", "A list that is archived cannot become published."),
    ):
        again = client.post(url + "/publish", headers={**admin, "Accept-Language": accept})
        assert (again.status_code, again.json()["code"], again.json()["message"]) == (
            409,
            "study.list_status_change",
            said,
        )
    history = client.get("/api/v1/study-lists", headers=admin, params={"status": "archived"}).json()
    assert [s["title"] for s in history["items"]] == ["11月必学"]
    log = client.get("/api/v1/audit", headers=admin, params={"target_type": "study_list"}).json()["items"]
    assert [e["action"] for e in log] == [
        "study_list.archive",
        "study_list.publish",
        "study_list.update",
        "study_list.create",
    ]
    assert log[2]["details"]["programmes"] == {"before": [a], "after": [b, a]}


def test_study_list_validation(client: TestClient, producer: dict[str, str], admin: dict[str, str]) -> None:
    draft_id = client.post(
        "/api/v1/programmes", headers=producer, json={"title": "未发布的课", "category": "health"}
    ).json()["id"]
    r = client.post(
        "/api/v1/study-lists", headers=admin, json={"title": "x", "programme_ids": [draft_id], **DECEMBER}
    )
    assert r.status_code == 400 and "未发布的课" in r.json()["message"]
    r = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "x", "starts_on": "2026-12-31", "ends_on": "2026-12-01"},
    )
    assert r.status_code == 422
    assert (
        client.post("/api/v1/study-lists", headers=producer, json={"title": "x", **DECEMBER}).status_code
        == 403
    )
    in_force = client.get(
        "/api/v1/study-lists", headers=producer, params={"on": str(date(2026, 12, 5))}
    ).json()
    assert in_force["total"] == 0


def test_draft_lists_are_shown_only_to_administrators(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    a, b = (publish_programme(client, producer, admin, ready_asset(producer), title=t) for t in ("甲", "乙"))

    def new(title: str) -> str:
        body = {"title": title, "programme_ids": [a, b], **DECEMBER}
        return str(client.post("/api/v1/study-lists", headers=admin, json=body).json()["id"])

    draft, published, archived = new("草稿清单"), new("已发布清单"), new("往期清单")
    client.post(f"/api/v1/study-lists/{published}/publish", headers=admin)
    client.post(f"/api/v1/study-lists/{archived}/publish", headers=admin)
    client.post(f"/api/v1/study-lists/{archived}/archive", headers=admin)
    client.post(f"/api/v1/programmes/{b}/withdraw", headers=admin, json={})
    for viewer in (site, other_producer):
        shown = client.get("/api/v1/study-lists", headers=viewer).json()
        assert {s["title"] for s in shown["items"]} == {"往期清单", "已发布清单"} and shown["total"] == 2
        asked = client.get("/api/v1/study-lists", headers=viewer, params={"status": "draft"}).json()
        assert asked == {"items": [], "total": 0, "limit": 50, "offset": 0}
        assert client.get(f"/api/v1/study-lists/{draft}", headers=viewer).status_code == 404
        one = client.get(f"/api/v1/study-lists/{published}", headers=viewer).json()
        assert [i["title"] for i in one["items"]] == ["甲"]  # the withdrawn programme is not shown
    mine = client.get(f"/api/v1/study-lists/{published}", headers=producer).json()  # its department's
    assert [i["title"] for i in mine["items"]] == ["甲", "乙"]
    assert client.get(f"/api/v1/study-lists/{draft}", headers=producer).status_code == 404
    everything = client.get("/api/v1/study-lists", headers=admin).json()
    assert everything["total"] == 3
    one = client.get(f"/api/v1/study-lists/{published}", headers=admin).json()
    assert [(i["title"], i["status"]) for i in one["items"]] == [("甲", "published"), ("乙", "withdrawn")]


def test_what_a_lists_state_refuses_is_a_conflict(client: TestClient, admin: dict[str, str]) -> None:
    """An archived list is history: changing or publishing it again is a 409 like every conflict."""
    sl = client.post("/api/v1/study-lists", headers=admin, json={"title": "往期", **DECEMBER}).json()
    url = f"/api/v1/study-lists/{sl['id']}"
    assert client.post(url + "/archive", headers=admin).status_code == 200
    refusals = [
        client.patch(url, headers=admin, json={"title": "改"}),
        client.post(url + "/publish", headers=admin),
    ]
    assert [(r.status_code, r.json()["error"]) for r in refusals] == [(409, "conflict")] * 2


def test_every_list_status_and_record_has_a_name() -> None:
    """The names a refusal gives a list's status (草稿, 已发布, 已归档) and a record kind."""
    assert [s for s in StudyListStatus if f"study.list_status.{s.value}" not in i18n.MESSAGES] == []
    assert {"study.record.session", "study.record.request"} <= set(i18n.MESSAGES)
