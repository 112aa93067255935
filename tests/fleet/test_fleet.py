"""Site heartbeats and the fleet views: reachability per region, sync state, quota, CSV for Excel."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mediasrv.db import Database, utcnow
from mediasrv.delivery.manifest.models import ManifestContent, SiteManifest, SiteManifestState
from mediasrv.fleet.status import percent
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import CHINA, today_in_china
from mediasrv.sites.models import Site, SitePresence, SiteReport
from tests.fixtures import make_token

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"
DONGZHUANG = "河北省/邢台市/信都区/西黄村镇/东庄村"
NANHE = "河北省/邢台市/南和区/和阳镇/北关村"
ZHENGDING = "河北省/石家庄市/正定县/正定镇/东门村"
TAIYUAN = "山西省/太原市/小店区/北格镇/张村"


def _site(
    db: Database, code: str, name: str, region: str, quota_bytes: int | None = None
) -> tuple[int, dict[str, str]]:
    """A registered site with its own token: (id, headers)."""
    headers = make_token(db, Role.SITE, code)
    with db.session_scope() as s:
        site = s.scalars(select(Site).where(Site.code == code)).one()
        site.name, site.region, site.quota_bytes = name, region, quota_bytes
        return site.id, headers


def _report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "manifest_version": None,
        "bytes_missing": 0,
        "files_missing": 0,
        "files_failed": 0,
        "agent_version": "1.0.0",
    }
    return {**body, **overrides}


def _beat(client: TestClient, site_id: int, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post(f"/api/v1/sites/{site_id}/heartbeat", headers=headers, json=_report(**overrides))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _seen_hours_ago(db: Database, site_id: int, hours: float) -> None:
    with db.session_scope() as s:
        s.get_one(SiteReport, site_id).last_seen_at = utcnow() - timedelta(hours=hours)


def _current_manifest(db: Database, site_id: int, version: int, *, over_quota: bool = False) -> None:
    """What the manifest builder leaves behind: the site's manifest at `version`, made current."""
    sha = hashlib.sha256(f"content-{site_id}-{version}".encode()).hexdigest()
    with db.session_scope() as s:
        s.add(ManifestContent(sha256=sha, deflated=b"", raw_size=0))
        s.flush()
        s.add(
            SiteManifest(
                site_id=site_id,
                version=version,
                content_sha256=sha,
                head="{}",
                sha256=sha,
                crc32=0,
                size=0,
                signature="",
                total_bytes=10**9,
                file_count=3,
                over_quota=over_quota,
            )
        )
        state = s.get(SiteManifestState, site_id)
        if state is None:
            s.add(SiteManifestState(site_id=site_id, version=version, epoch=1, built_on=today_in_china()))
        else:
            state.version = version


def _row(fleet: dict[str, Any], region: str) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in fleet["regions"] if r["region"] == region)
    return row


def test_a_heartbeat_makes_the_site_online_and_counts_for_the_day(client: TestClient, db: Database) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    ack = _beat(client, sid, headers, free_bytes=5 * 10**9, used_bytes=10**9, agent_version="2.1.0")
    assert ack["site_id"] == sid and ack["current_version"] is None and ack["in_sync"] is False
    assert ack["server_time"]
    _beat(client, sid, headers)
    with db.session_scope() as s:
        report = s.get_one(SiteReport, sid)
        assert report.agent_version == "1.0.0" and report.free_bytes is None  # the latest report wins
        assert report.address == "testclient"
        presence = s.scalars(select(SitePresence).where(SitePresence.site_id == sid)).one()
        assert (presence.day, presence.heartbeats) == (today_in_china(), 2)


def test_fleet_counts_reachability_per_region(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    xitang, xitang_h = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    _site(db, "hb-xt-0002", "东庄村", DONGZHUANG)  # never reports
    nanhe, nanhe_h = _site(db, "hb-nh-0001", "北关村", NANHE)
    zhengding, zhengding_h = _site(db, "hb-zd-0001", "东门村", ZHENGDING)
    taiyuan, taiyuan_h = _site(db, "sx-ty-0001", "张村", TAIYUAN)
    for sid, headers in (
        (xitang, xitang_h),
        (nanhe, nanhe_h),
        (zhengding, zhengding_h),
        (taiyuan, taiyuan_h),
    ):
        _beat(client, sid, headers)
    _seen_hours_ago(db, nanhe, 2)  # stale: beyond the 900 s window, within a day

    provinces = client.get("/api/v1/fleet", headers=admin).json()
    assert provinces["level"] == 1 and provinces["online_within_seconds"] == 900
    assert [r["region"] for r in provinces["regions"]] == sorted(["河北省", "山西省"])
    totals = provinces["totals"]
    assert (totals["sites"], totals["online"], totals["stale"], totals["never_seen"]) == (5, 3, 1, 1)
    assert totals["reachable_percent"] == 60.0
    hebei = _row(provinces, "河北省")
    assert (hebei["sites"], hebei["online"], hebei["reachable_percent"]) == (4, 2, 50.0)

    cities = client.get("/api/v1/fleet", headers=admin, params={"region": "河北省"}).json()
    assert cities["level"] == 2 and cities["totals"]["sites"] == 4  # one level below the filter
    xingtai = _row(cities, "河北省/邢台市")
    assert (xingtai["online"], xingtai["stale"], xingtai["never_seen"]) == (1, 1, 1)
    assert xingtai["reachable_percent"] == 33.3
    assert _row(cities, "河北省/石家庄市")["reachable_percent"] == 100.0

    counties = client.get(
        "/api/v1/fleet", headers=admin, params={"region": "河北省/邢台市", "level": 3}
    ).json()
    assert [(r["region"], r["sites"]) for r in counties["regions"]] == [
        ("河北省/邢台市/信都区", 2),
        ("河北省/邢台市/南和区", 1),
    ]
    # A prefix of a name is not a region: 邢台 is not 邢台市.
    assert (
        client.get("/api/v1/fleet", headers=admin, params={"region": "河北省/邢台"}).json()["totals"]["sites"]
        == 0
    )
    wide = client.get("/api/v1/fleet", headers=admin, params={"online_within": 3 * 3600}).json()
    assert (wide["totals"]["online"], wide["totals"]["stale"]) == (4, 0)


def test_in_sync_needs_the_current_version_and_nothing_missing(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    no_manifest, no_manifest_h = _site(db, "hb-xt-0002", "东庄村", DONGZHUANG)
    _current_manifest(db, sid, 3)

    behind = _beat(client, sid, headers, manifest_version=2)
    assert (behind["current_version"], behind["in_sync"]) == (3, False)
    assert (
        _beat(client, sid, headers, manifest_version=3, bytes_missing=4096, files_missing=1)["in_sync"]
        is False
    )
    assert (
        _beat(client, sid, headers, manifest_version=3, files_failed=1, failed_paths=["a/b.ts"])["in_sync"]
        is False
    )
    assert _beat(client, sid, headers, manifest_version=3)["in_sync"] is True
    # A site without a current manifest is never in sync, whatever it says it applied.
    assert _beat(client, no_manifest, no_manifest_h, manifest_version=3)["in_sync"] is False

    fleet = client.get("/api/v1/fleet", headers=admin, params={"region": "河北省", "level": 5}).json()
    assert (fleet["totals"]["in_sync"], fleet["totals"]["sync_percent"]) == (1, 50.0)
    assert _row(fleet, XITANG)["in_sync"] == 1 and _row(fleet, DONGZHUANG)["in_sync"] == 0

    _current_manifest(db, sid, 4)  # a newer manifest: the site is behind until it reports again
    listing = client.get("/api/v1/fleet/sites", headers=admin, params={"region": XITANG}).json()
    (item,) = listing["items"]
    assert (item["current_version"], item["applied_version"], item["in_sync"]) == (4, 3, False)


def test_over_quota_from_the_manifest_or_from_what_the_site_holds(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    small, small_h = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG, quota_bytes=10**9)
    full, full_h = _site(db, "hb-xt-0002", "东庄村", DONGZHUANG, quota_bytes=10**9)
    fine, fine_h = _site(db, "hb-nh-0001", "北关村", NANHE, quota_bytes=10**9)
    _current_manifest(db, small, 1, over_quota=True)  # required items alone do not fit
    _beat(client, small, small_h, manifest_version=1, used_bytes=10**8)
    _beat(client, full, full_h, used_bytes=2 * 10**9)
    _beat(client, fine, fine_h, used_bytes=10**9)  # exactly the quota is not over it
    assert client.get("/api/v1/fleet", headers=admin).json()["totals"]["over_quota"] == 2
    items = client.get("/api/v1/fleet/sites", headers=admin).json()["items"]
    assert {i["code"]: i["over_quota"] for i in items} == {
        "hb-xt-0001": True,
        "hb-xt-0002": True,
        "hb-nh-0001": False,
    }


def test_site_listing_filters_by_state_and_pages(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    ids = {}
    for n in range(5):
        sid, headers = _site(db, f"hb-xt-{n:04d}", f"村{n}", XITANG)
        ids[n] = sid
        if n < 3:
            _beat(client, sid, headers)
    _seen_hours_ago(db, ids[2], 1)

    def codes(**params: Any) -> tuple[list[str], int]:
        page = client.get("/api/v1/fleet/sites", headers=admin, params=params).json()
        return [i["code"] for i in page["items"]], page["total"]

    assert codes(state="online") == (["hb-xt-0000", "hb-xt-0001"], 2)
    assert codes(state="stale") == (["hb-xt-0002"], 1)
    assert codes(state="never") == (["hb-xt-0003", "hb-xt-0004"], 2)
    assert codes(limit=2, offset=2) == (["hb-xt-0002", "hb-xt-0003"], 5)
    assert codes(region="山西省") == ([], 0)
    never = client.get("/api/v1/fleet/sites", headers=admin, params={"state": "never"}).json()["items"][0]
    assert never["last_seen_at"] is None and never["bytes_missing"] is None and never["failed_paths"] == []
    bad = client.get("/api/v1/fleet/sites", headers=admin, params={"state": "offline"})
    assert bad.status_code == 422 and [p["field"] for p in bad.json()["problems"]] == ["state"]


def test_csv_export_opens_in_excel_with_the_chinese_names(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    _site(db, "hb-xt-0002", "东庄村", DONGZHUANG)
    _current_manifest(db, sid, 7)
    _beat(client, sid, headers, manifest_version=7, free_bytes=123, agent_version="=HYPERLINK(1)")

    r = client.get("/api/v1/fleet.csv", headers=admin, params={"region": "河北省/邢台市"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="fleet-') and "UTF-8''fleet-%E9%82%A2" in disposition
    assert r.content.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, *body = rows
    assert header[0] == "站点编码 code" and header[1] == "站点名称 name"
    by_code = {row[0]: dict(zip([h.split(" ")[1] for h in header], row, strict=True)) for row in body}
    xitang, dongzhuang = by_code["hb-xt-0001"], by_code["hb-xt-0002"]
    assert xitang["name"] == "西塘村党员活动室" and xitang["region"] == XITANG
    assert (xitang["state"], xitang["current_version"], xitang["applied_version"]) == ("online", "7", "7")
    assert (xitang["in_sync"], xitang["free_bytes"], xitang["over_quota"]) == ("true", "123", "false")
    assert xitang["last_seen_at"].endswith("+08:00")  # Beijing time, for the people who read it
    assert xitang["agent_version"] == "'=HYPERLINK(1)"  # shown as text, never run as a formula
    assert dongzhuang["name"] == "东庄村" and dongzhuang["state"] == "never"
    assert dongzhuang["last_seen_at"] == "" and dongzhuang["current_version"] == ""
    only_never = client.get("/api/v1/fleet.csv", headers=admin, params={"state": "never"})
    assert len(list(csv.reader(io.StringIO(only_never.text)))) == 2


def test_only_a_site_reports_and_only_for_itself(
    client: TestClient, db: Database, admin: dict[str, str], producer: dict[str, str]
) -> None:
    mine, mine_h = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    other, _ = _site(db, "hb-xt-0002", "东庄村", DONGZHUANG)
    url = f"/api/v1/sites/{other}/heartbeat"
    refused = client.post(url, headers=mine_h, json=_report())
    assert refused.status_code == 403 and refused.json()["code"] == "sites.own_records_only"
    assert client.post(url, headers=admin, json=_report()).status_code == 403
    assert client.post("/api/v1/sites/999999/heartbeat", headers=mine_h, json=_report()).status_code == 404
    for path in ("/api/v1/fleet", "/api/v1/fleet/sites", "/api/v1/fleet.csv"):
        for headers in (mine_h, producer):
            assert client.get(path, headers=headers).status_code == 403, path
    with db.session_scope() as s:
        assert s.get(SiteReport, other) is None and s.get(SiteReport, mine) is None


def test_a_bad_report_is_refused_with_what_is_wrong(client: TestClient, db: Database) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    url = f"/api/v1/sites/{sid}/heartbeat"
    for body, field in (
        (_report(bytes_missing=-1), "bytes_missing：不能小于 0"),
        (_report(files_failed=2**31), "files_failed："),
        (_report(failed_paths=["a.ts"] * 21), "failed_paths：最多 20 项"),
        (_report(agent_version="x" * 65), "agent_version：最多 64 个字"),
        (_report(agent_version="1.0\x00"), "agent_version："),
        ({k: v for k, v in _report().items() if k != "bytes_missing"}, "bytes_missing：必须填写"),
    ):
        r = client.post(url, headers=headers, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"] == "invalid_request" and field in r.json()["message"], r.json()
    newer_agent = client.post(url, headers=headers, json=_report(battery="ok"))  # unknown fields: ignored
    assert newer_agent.status_code == 200


def test_percentages_round_half_up_to_one_decimal() -> None:
    assert percent(1, 3) == 33.3 and percent(2, 3) == 66.7 and percent(1, 16) == 6.3
    assert percent(0, 7) == 0.0 and percent(7, 7) == 100.0 and percent(0, 0) is None


def test_a_resent_report_counts_once_and_an_older_one_never_replaces_a_newer(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    now = utcnow()
    newer = {"report_id": "b" * 32, "observed_at": now.isoformat(), "bytes_missing": 0}
    older = {
        "report_id": "a" * 32,
        # Earlier, but on the same Beijing day as `now` (presence is counted per day).
        "observed_at": max(
            now - timedelta(hours=1), now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
        ).isoformat(),
        "bytes_missing": 99,
    }
    assert _beat(client, sid, headers, **newer)["counted"] is True
    assert _beat(client, sid, headers, **newer)["counted"] is False  # the same report again: not counted
    assert _beat(client, sid, headers, **older)["counted"] is True  # queued offline, delivered late
    stale = {"report_id": "c" * 32, "observed_at": (now - timedelta(days=9)).isoformat()}
    assert _beat(client, sid, headers, **stale)["counted"] is False  # beyond what ids are kept for
    with db.session_scope() as s:
        report = s.get_one(SiteReport, sid)
        assert report.bytes_missing == 0 and report.report_id == "b" * 32  # the newer one stays
        assert report.last_seen_at >= now  # yet the site was heard from
        presence = s.scalars(select(SitePresence).where(SitePresence.site_id == sid)).one()
        assert presence.heartbeats == 2
    [row] = client.get("/api/v1/fleet/sites", headers=admin).json()["items"]
    assert row["heartbeats_today"] == 2 and row["observed_at"] is not None
    naive = client.post(
        f"/api/v1/sites/{sid}/heartbeat", headers=headers, json=_report(observed_at="2025-01-01T00:00:00")
    )
    assert naive.status_code == 422 and "observed_at" in naive.json()["message"]
    bad_id = client.post(f"/api/v1/sites/{sid}/heartbeat", headers=headers, json=_report(report_id="x"))
    assert bad_id.status_code == 422 and "report_id" in bad_id.json()["message"]


def test_the_channels_replacements_reach_the_site_listing(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    replaced = {
        "start": "2026-12-07T19:00:00+08:00",
        "block": "b1",
        "programme_id": "p3",
        "replacement_id": "p1",
    }
    _beat(client, sid, headers, channel_replaced=[replaced])
    (item,) = client.get("/api/v1/fleet/sites", headers=admin, params={"region": XITANG}).json()["items"]
    assert item["channel_replaced"] == [replaced]  # its time as the site said it (Beijing)
    _beat(client, sid, headers)  # the latest report says what is true now: nothing replaced
    (item,) = client.get("/api/v1/fleet/sites", headers=admin, params={"region": XITANG}).json()["items"]
    assert item["channel_replaced"] == []
    r = client.post(f"/api/v1/sites/{sid}/heartbeat", headers=headers,
                    json=_report(channel_replaced=[replaced] * 21))  # fmt: skip
    assert r.status_code == 422
