"""Site assessment: every score is the weighted sum of parts whose inputs come back with it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from mediasrv.config import weights_of
from mediasrv.db import Database
from mediasrv.kit.errors import MediaError
from mediasrv.sites.models import Site, SitePresence
from mediasrv.study.assessment import stars_for
from tests.fixtures import ReadyAsset, publish_programme
from tests.fleet.test_fleet import _beat, _current_manifest, _site

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"


def test_heartbeats_feed_the_sync_share(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    sid, headers = _site(db, "hb-xt-0001", "西塘村党员活动室", XITANG)
    _current_manifest(db, sid, 3)
    _beat(client, sid, headers, manifest_version=2)  # behind
    _beat(client, sid, headers, manifest_version=3, bytes_missing=4096, files_missing=1)
    _beat(client, sid, headers, manifest_version=3)
    _beat(client, sid, headers, manifest_version=3)
    got = client.get(f"/api/v1/sites/{sid}/assessment", headers=headers).json()
    parts = {p["name"]: p for p in got["parts"]}
    assert (
        parts["sync"]["inputs"] == {"complete_heartbeats": 2, "heartbeats": 4}
        and parts["sync"]["value"] == 0.5
    )
    assert parts["reachability"]["inputs"] == {"days_heard": 1, "days_assessed": 1}  # registered today


def _october_site(
    client: TestClient, db: Database, admin: dict[str, str], code: str, registered: date, present_days: int
) -> tuple[int, dict[str, str]]:
    sid, headers = _site(db, code, f"{code}站点", XITANG)
    with db.session_scope() as s:
        s.get_one(Site, sid).created_at = datetime(
            registered.year, registered.month, registered.day, tzinfo=UTC
        )
        for n in range(present_days):  # as the heartbeats of those days left them
            s.add(
                SitePresence(
                    site_id=sid,
                    day=date(2026, 10, 31) - timedelta(days=n),
                    heartbeats=4,
                    complete_heartbeats=3,
                )
            )
    return sid, headers


def test_an_october_by_hand(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    sid, headers = _october_site(client, db, admin, "xitang", date(2026, 9, 1), present_days=31)
    for day in (3, 12, 25):  # 3 sessions of 90 minutes: 6 class hours of the 8 asked for
        body = {
            "id": str(uuid.uuid4()),
            "started_at": f"2026-10-{day:02d}T19:30:00+08:00",
            "minutes": 90,
            "members_present": 9,
        }
        assert client.post(f"/api/v1/sites/{sid}/sessions", headers=headers, json=body).status_code == 201
    programme = publish_programme(client, producer, admin, ready_asset(producer))
    rating = {"rating": 5, "rated_at": "2026-10-20T20:00:00+08:00"}
    assert (
        client.put(f"/api/v1/sites/{sid}/ratings/{programme}", headers=headers, json=rating).status_code
        == 200
    )

    got = client.get(f"/api/v1/sites/{sid}/assessment", headers=admin, params={"month": "2026-10"}).json()
    parts = {p["name"]: p for p in got["parts"]}
    assert got["days"] == 31
    assert (parts["reachability"]["value"], parts["reachability"]["points"]) == (1.0, 30.0)
    assert (parts["sync"]["value"], parts["sync"]["points"]) == (0.75, 15.0)  # 93 of 124 heartbeats
    assert parts["study"]["inputs"]["sessions"] == 3 and parts["study"]["inputs"]["class_hours"] == 6.0
    assert (parts["study"]["value"], parts["study"]["points"]) == (0.75, 30.0)  # mean of 3/4 and 6/8
    assert (parts["feedback"]["value"], parts["feedback"]["points"]) == (1.0, 10.0)
    assert (got["score"], got["stars"]) == (85.0, 4)
    assert sum(p["points"] for p in got["parts"]) == got["score"]  # nothing hidden

    # Weights are a setting; registered mid-month, a site is assessed from that day.
    late, _ = _october_site(client, db, admin, "donghe", date(2026, 10, 22), present_days=5)
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"assessment_weights": "reachability=1"}
    )  # type: ignore[attr-defined]
    mine = client.get(f"/api/v1/sites/{late}/assessment", headers=admin, params={"month": "2026-10"}).json()
    assert (mine["days"], mine["score"], mine["stars"]) == (10, 50.0, 2)  # 5 of 10 days heard
    listing = client.get(
        "/api/v1/assessment", headers=admin, params={"month": "2026-10", "region": "河北省"}
    ).json()
    assert [i["code"] for i in listing["items"]] == ["xitang", "donghe"] and listing["stars"] == {
        "1": 0,
        "2": 1,
        "3": 0,
        "4": 0,
        "5": 1,
    }
    assert (
        client.get(
            f"/api/v1/sites/{sid}/assessment", headers=_site(db, "other", "别处", XITANG)[1]
        ).status_code
        == 403
    )
    assert client.get("/api/v1/assessment", headers=headers).status_code == 403


def test_weights_and_stars() -> None:
    assert weights_of("reachability=30,sync=20,study=40,feedback=10") == {
        "reachability": 0.3, "sync": 0.2, "study": 0.4, "feedback": 0.1}  # fmt: skip
    assert weights_of("study=1") == {"reachability": 0.0, "sync": 0.0, "study": 1.0, "feedback": 0.0}
    for bad, says in (
        ("speed=1", "kit.weights_unknown_part"),
        ("study=x", "kit.weights_not_a_number"),
        ("study=0", "kit.weights_all_zero"),
    ):
        with pytest.raises(MediaError) as refused:
            weights_of(bad)
        assert refused.value.key == says
    assert [stars_for(s) for s in (100, 90, 89.9, 75, 60, 40, 39.9, 0)] == [5, 5, 4, 4, 3, 2, 1, 1]
