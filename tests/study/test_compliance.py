"""Compliance arithmetic on a hand-made month: Beijing month boundaries, two lists splitting the
month, a list edited mid-month, a site matched by two of a list's regions, duplicate and late sends."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from mediasrv.db import Database
from mediasrv.ingest.models import Asset
from mediasrv.study import compliance
from mediasrv.study.compliance import Task, month_bounds
from mediasrv.study.export import XLSX
from mediasrv.study.models import ComplianceSummary
from tests.fixtures import ReadyAsset, publish_programme
from tests.study.test_lists import site_with

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"


def session(
    site: tuple[int, dict[str, str]],
    client: TestClient,
    started_at: str,
    minutes: int,
    *played: tuple[str, int | None],
) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "started_at": started_at,
        "minutes": minutes,
        "members_present": 10,
        "programmes": [{"programme_id": p, "minutes": m} for p, m in played],
    }
    r = client.post(f"/api/v1/sites/{site[0]}/sessions", headers=site[1], json=body)
    assert r.status_code == 201, r.text
    return body


@pytest.fixture
def month(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> dict[str, Any]:
    a, b = (
        publish_programme(client, producer, admin, ready_asset(producer), title=t)
        for t in ("党史第一课", "党史第二课")
    )
    with db.session_scope() as s:  # hour-long films, so that minutes can fall short of "fully"
        for pid in (a, b):
            programme = client.get(f"/api/v1/programmes/{pid}", headers=admin).json()
            s.get_one(Asset, programme["asset_id"]).duration_seconds = 3600
    first_half = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "11月上半月必学", "starts_on": "2026-11-01", "ends_on": "2026-11-15",
              "expected_hours": 2, "regions": ["河北省/邢台市"], "programme_ids": [a, b]},
    ).json()  # fmt: skip
    across = client.post(
        "/api/v1/study-lists",
        headers=admin,
        # two of its regions hold the site: it counts once
        json={"title": "跨月必学", "starts_on": "2026-11-16", "ends_on": "2026-12-15", "expected_hours": 5,
              "regions": ["河北省/邢台市/信都区", "河北省/邢台市"], "programme_ids": [b]},
    ).json()  # fmt: skip
    draft = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "未发布", "starts_on": "2026-11-01", "ends_on": "2026-11-30", "programme_ids": [a]},
    ).json()
    for lst in (first_half, across):
        assert client.post(f"/api/v1/study-lists/{lst['id']}/publish", headers=admin).status_code == 200
    xitang = site_with(client, db, admin, "xitang", XITANG)
    taiyuan = site_with(client, db, admin, "taiyuan", "山西省/太原市/小店区")
    session(xitang, client, "2026-10-31T23:30:00+08:00", 90, (a, None))  # October in Beijing
    session(xitang, client, "2026-10-31T16:10:00Z", 90, (a, 30))  # = 11-01 00:10 Beijing: November
    repeated = session(xitang, client, "2026-11-10T19:00:00+08:00", 90, (a, 30))
    again = client.post(f"/api/v1/sites/{xitang[0]}/sessions", headers=xitang[1], json=repeated)
    assert again.status_code == 200  # sent twice, counted once
    session(xitang, client, "2026-11-20T19:00:00+08:00", 45, (b, 20))
    session(xitang, client, "2026-11-30T23:59:00+08:00", 90)
    return {
        "a": a,
        "b": b,
        "xitang": xitang,
        "taiyuan": taiyuan,
        "first_half": first_half,
        "across": across,
        "draft": draft,
    }


def compliance_of(client: TestClient, admin: dict[str, str], site_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/sites/{site_id}/compliance", headers=admin, params={"month": "2026-11"})
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def test_a_site_month_by_hand(client: TestClient, admin: dict[str, str], month: dict[str, Any]) -> None:
    xitang = month["xitang"]
    got = compliance_of(client, admin, xitang[0])
    # Nov: 90 + 90 + 45 + 90 = 315 minutes = 7 class hours of 45 minutes, 4 sessions: 7 < 8, not met
    assert (got["sessions"], got["minutes"], got["class_hours"], got["task_met"]) == (4, 315, 7.0, False)
    first_half, across = got["lists"]
    assert first_half["study_list_id"] == month["first_half"]["id"]  # the draft list never counts
    assert (first_half["first"], first_half["last"], first_half["class_hours"]) == (
        "2026-11-01",
        "2026-11-15",
        4.0,
    )
    assert first_half["hours_met"] and (
        first_half["fully"],
        first_half["partly"],
        first_half["not_watched"],
    ) == (1, 0, 1)
    assert [(p["programme_id"], p["state"], p["watched_minutes"]) for p in first_half["programmes"]] == [
        (month["a"], "fully", 60.0),  # 30 + 30 of 60 minutes: 100 %
        (month["b"], "not", 0.0),
    ]
    # The list running into December counts for the days it shares with November only.
    assert (across["first"], across["last"], across["class_hours"], across["hours_met"]) == (
        "2026-11-16",
        "2026-11-30",
        3.0,
        False,
    )
    assert [(p["state"], p["watched_minutes"]) for p in across["programmes"]] == [("partly", 20.0)]

    # A session held in November but sent in December (an offline site) still counts for November.
    session(xitang, client, "2026-11-25T19:00:00+08:00", 45)
    later = compliance_of(client, admin, xitang[0])
    assert (later["sessions"], later["class_hours"], later["task_met"]) == (5, 8.0, True)

    # The list edited mid-month: the list as it stands is what the site is judged against.
    client.patch(
        f"/api/v1/study-lists/{month['first_half']['id']}",
        headers=admin,
        json={"programme_ids": [month["a"]]},
    )
    edited = compliance_of(client, admin, xitang[0])
    assert [p["programme_id"] for p in edited["lists"][0]["programmes"]] == [month["a"]]

    october = client.get(
        f"/api/v1/sites/{xitang[0]}/compliance", headers=admin, params={"month": "2026-10"}
    ).json()
    assert (october["sessions"], october["lists"]) == (1, [])


def test_a_site_sees_only_its_own_month(client: TestClient, month: dict[str, Any]) -> None:
    xitang, taiyuan = month["xitang"], month["taiyuan"]
    assert client.get(f"/api/v1/sites/{xitang[0]}/compliance", headers=xitang[1]).status_code == 200
    assert client.get(f"/api/v1/sites/{xitang[0]}/compliance", headers=taiyuan[1]).status_code == 403
    assert client.get("/api/v1/compliance", headers=xitang[1]).status_code == 403


def test_regions_roll_up(client: TestClient, admin: dict[str, str], month: dict[str, Any]) -> None:
    top = client.get("/api/v1/compliance", headers=admin, params={"month": "2026-11", "level": 1}).json()
    assert top["task_sessions"] == 4 and top["task_class_hours"] == 8 and top["class_hour_minutes"] == 45
    rows = {r["region"]: r for r in top["regions"]}
    assert set(rows) == {"河北省", "山西省"}
    assert (
        rows["河北省"]["sites"],
        rows["河北省"]["sessions"],
        rows["河北省"]["required"],
        rows["河北省"]["fully"],
    ) == (1, 4, 3, 1)
    assert (rows["山西省"]["sites"], rows["山西省"]["sessions"], rows["山西省"]["required"]) == (1, 0, 0)
    assert top["totals"]["sites"] == 2 and top["totals"]["met_percent"] == 0.0
    county = client.get(
        "/api/v1/compliance", headers=admin, params={"month": "2026-11", "region": "河北省/邢台市"}
    ).json()
    assert [r["region"] for r in county["regions"]] == ["河北省/邢台市/信都区"]
    behind = client.get(
        "/api/v1/compliance/sites", headers=admin, params={"month": "2026-11", "task_met": False}
    ).json()
    assert behind["total"] == 2

    r = client.get("/api/v1/compliance.csv", headers=admin, params={"month": "2026-11", "region": "河北省"})
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][0] == "站点编码 code" and len(table) == 2
    assert table[1][:8] == ["xitang", "xitang", XITANG, "2026-11", "4", "315", "7.0", "false"]
    assert table[1][8:] == ["3", "1", "1", "1", "0"]  # no automatic evidence in this month

    r = client.get("/api/v1/compliance.xlsx", headers=admin, params={"month": "2026-11", "region": "河北省"})
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    assert "compliance-%E6%B2%B3%E5%8C%97%E7%9C%81-2026-11.xlsx" in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == table[0]  # the CSV's columns
    assert cells[1:] == [["xitang", "xitang", XITANG, "2026-11", 4, 315, 7.0, False, 3, 1, 1, 1, 0]]


@pytest.mark.parametrize("bad", ["2026-13", "26-11", "2026-1"])
def test_a_month_is_written_yyyy_mm(client: TestClient, admin: dict[str, str], bad: str) -> None:
    r = client.get("/api/v1/compliance", headers=admin, params={"month": bad})
    assert r.status_code in (400, 422) and "月份" in r.json()["message"], r.json()


@pytest.mark.parametrize(
    ("accept", "said"),
    [
        ("zh-CN,zh;q=0.9", "“2026-13”不是有效的月份：请写成 YYYY-MM 的格式，例如 2026-11。"),
        ("en-US,en;q=0.9", "'2026-13' is not a month: write it as YYYY-MM, e.g. 2026-11."),
    ],
)
def test_a_month_that_is_not_one_in_the_caller_s_language(
    client: TestClient, admin: dict[str, str], accept: str, said: str
) -> None:
    r = client.get(
        "/api/v1/compliance", headers={**admin, "Accept-Language": accept}, params={"month": "2026-13"}
    )
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        400,
        "study.bad_month",
        {"month": "2026-13"},
    )
    assert r.json()["message"] == said


def test_month_bounds() -> None:
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))  # a leap year
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


def test_the_roll_up_follows_new_records_and_list_changes(
    client: TestClient, admin: dict[str, str], month: dict[str, Any]
) -> None:
    """The roll-up reads kept summaries: a site's new record, or a changed list, must reach it."""

    def hebei() -> dict[str, Any]:
        got = client.get("/api/v1/compliance", headers=admin, params={"month": "2026-11", "level": 1}).json()
        row: dict[str, Any] = next(r for r in got["regions"] if r["region"] == "河北省")
        return row

    assert (hebei()["sessions"], hebei()["required"]) == (4, 3)
    session(month["xitang"], client, "2026-11-25T19:00:00+08:00", 45)
    assert hebei()["sessions"] == 5
    first_half = month["first_half"]["id"]
    patched = client.patch(
        f"/api/v1/study-lists/{first_half}", headers=admin, json={"programme_ids": [month["a"]]}
    )
    assert patched.status_code == 200
    assert hebei()["required"] == 2


@pytest.mark.parametrize("kept_before", [False, True], ids=["first-computation", "recomputation"])
def test_a_session_recorded_during_a_refresh_is_not_stored_as_clean(
    client: TestClient,
    db: Database,
    month: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    kept_before: bool,
) -> None:
    """The refresh computes from what it read; a session committed meanwhile must leave the summary
    stale (to be computed again), not be overwritten by the older numbers marked clean."""
    task = Task()
    xitang = month["xitang"][0]

    def sessions_kept() -> int:
        with db.session_scope() as s:
            [row] = compliance.summaries(s, month="2026-11", task=task, site_ids=[xitang])
            return row.sessions

    if kept_before:
        assert sessions_kept() == 4
        session(month["xitang"], client, "2026-11-24T19:00:00+08:00", 45)  # stale again
    computing = compliance.sites_compliance
    passes: list[int] = []

    def meanwhile(*args: Any, **kwargs: Any) -> list[compliance.SiteCompliance]:
        result = computing(*args, **kwargs)
        passes.append(sum(c.sessions for c in result))
        if len(passes) == 1:  # committed by another connection after the first pass read
            session(month["xitang"], client, "2026-11-25T19:00:00+08:00", 45)
        return result

    monkeypatch.setattr(compliance, "sites_compliance", meanwhile)
    assert sessions_kept() == 5 + kept_before  # not the first pass's numbers: computed again
    assert passes == [4 + kept_before, 5 + kept_before]
    monkeypatch.setattr(compliance, "sites_compliance", computing)
    assert sessions_kept() == 5 + kept_before
    with db.session_scope() as s:
        kept = s.get_one(ComplianceSummary, ("2026-11", xitang))
        assert not kept.dirty


def test_summaries_go_stale_for_study_changes_only(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    month: dict[str, Any],
    ready_asset: ReadyAsset,
) -> None:
    """A programme's title or a site's quota do not touch compliance: no fleet-wide recompute; a
    site moved to another region (other lists target it) does."""

    def stale() -> int:
        with db.session_scope() as s:
            return compliance.refresh(s, month="2026-11", task=Task())

    assert stale() == 2  # first computation: both sites
    assert stale() == 0
    renamed = client.patch(
        f"/api/v1/programmes/{month['a']}", headers=admin, json={"title": "党史第一课（修订）"}
    )
    assert renamed.status_code == 200, renamed.text
    quota = client.patch(f"/api/v1/sites/{month['taiyuan'][0]}", headers=admin, json={"quota_bytes": 2**30})
    assert quota.status_code == 200, quota.text
    assert stale() == 0
    moved = client.patch(
        f"/api/v1/sites/{month['taiyuan'][0]}", headers=admin, json={"region": "河北省/邢台市"}
    )
    assert moved.status_code == 200, moved.text
    assert stale() == 2  # the study epoch moved: every summary is recomputed
    with db.session_scope() as s:
        [taiyuan] = compliance.summaries(s, month="2026-11", task=Task(), site_ids=[month["taiyuan"][0]])
    assert taiyuan.required == 3  # now under 河北省/邢台市: both lists' programmes, as 西塘 has
