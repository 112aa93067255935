"""Feedback and demand: ratings replaced by newer ones only, requests counted once and ranked by
region and category, and no site speaking for another."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from mediasrv.db import Database
from tests.fixtures import ReadyAsset, publish_programme
from tests.study.test_lists import site_with


def demand(topic: str, members: int = 1, category: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "topic": topic, "members": members, "category": category,
            "requested_at": "2026-11-20T10:00:00+08:00", **extra}  # fmt: skip


def test_ratings_keep_the_newest_and_rank_by_region(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    good, plain = (
        publish_programme(client, producer, admin, ready_asset(producer), title=t) for t in ("好课", "一般")
    )
    xitang = site_with(client, db, admin, "xitang", "河北省/邢台市/信都区/西塘村")
    donghe = site_with(client, db, admin, "donghe", "河北省/邢台市/信都区/东河村")
    taiyuan = site_with(client, db, admin, "taiyuan", "山西省/太原市/小店区")

    def rate(site: tuple[int, dict[str, str]], pid: str, stars: int, at: str, comment: str = "") -> int:
        r = client.put(f"/api/v1/sites/{site[0]}/ratings/{pid}", headers=site[1],
                       json={"rating": stars, "comment": comment, "rated_at": at})  # fmt: skip
        return r.status_code

    assert rate(xitang, good, 5, "2026-11-20T20:00:00+08:00", "讲得透，接地气") == 200
    assert rate(xitang, good, 2, "2026-11-19T20:00:00+08:00") == 200  # queued offline, older: ignored
    assert rate(donghe, good, 4, "2026-11-20T20:00:00+08:00") == 200
    assert rate(xitang, plain, 3, "2026-11-20T20:00:00+08:00") == 200
    assert rate(taiyuan, plain, 1, "2026-11-20T20:00:00+08:00", "听不清") == 200
    assert rate(xitang, plain, 4, "2026-11-21T20:00:00+08:00") == 200  # newer: replaces 3

    hebei = client.get("/api/v1/ratings", headers=admin, params={"region": "河北省"}).json()
    assert [(r["title"], r["ratings"], r["average"]) for r in hebei] == [("好课", 2, 4.5), ("一般", 1, 4.0)]
    assert hebei[0]["comments"] == ["讲得透，接地气"]
    everywhere = {r["title"]: r for r in client.get("/api/v1/ratings", headers=admin).json()}
    assert everywhere["一般"]["average"] == 2.5 and everywhere["一般"]["comments"] == ["听不清"]

    late = {"rating": 1, "rated_at": "2026-11-22T20:00:00+08:00"}
    assert (
        client.put(f"/api/v1/sites/{xitang[0]}/ratings/{good}", headers=donghe[1], json=late).status_code
        == 403
    )
    bad = client.put(f"/api/v1/sites/{xitang[0]}/ratings/{good}", headers=xitang[1],
                     json={"rating": 6, "rated_at": "2026-11-22T20:00:00+08:00"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "rating"
    assert bad.json()["message"] == "评分：不能大于 5"
    assert client.get("/api/v1/ratings", headers=xitang[1]).status_code == 403


def test_demand_is_counted_once_folded_and_ranked(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    xitang = site_with(client, db, admin, "xitang", "河北省/邢台市/信都区/西塘村")
    donghe = site_with(client, db, admin, "donghe", "河北省/邢台市/信都区/东河村")
    taiyuan = site_with(client, db, admin, "taiyuan", "山西省/太原市/小店区")

    def ask(site: tuple[int, dict[str, str]], body: dict[str, Any]) -> int:
        return client.post(f"/api/v1/sites/{site[0]}/demands", headers=site[1], json=body).status_code

    pruning = demand("果树 冬季修剪", members=6, category="agri-tech")
    assert ask(xitang, pruning) == 201
    assert ask(xitang, pruning) == 200  # the offline queue sent it again
    assert ask(donghe, demand("果树冬季修剪", members=3, category="agri-tech")) == 201  # worded alike
    assert ask(donghe, demand("医保报销政策", members=4, category="policy-law")) == 201
    assert ask(taiyuan, demand("电商直播带货", members=20, category="实用技术与职业技能")) == 201
    assert ask(taiyuan, {**pruning, "topic": "别的"}) == 409  # another site's id

    hebei = client.get("/api/v1/demands", headers=admin, params={"region": "河北省/邢台市"}).json()
    assert [(d["sites"], d["members"], d["requests"]) for d in hebei] == [(2, 9, 2), (1, 4, 1)]
    assert hebei[0]["topic"] in ("果树 冬季修剪", "果树冬季修剪") and hebei[0]["category"] == "agri-tech"
    everywhere = client.get("/api/v1/demands", headers=admin).json()
    assert (everywhere[0]["topic"], everywhere[0]["category"]) == ("电商直播带货", "skills")  # kept by code
    for named in ("agri-tech", "农业科技"):  # a code or its Chinese name
        agri = client.get("/api/v1/demands", headers=admin, params={"category": named}).json()
        assert [d["members"] for d in agri] == [9]
    # Requests were made at 10:00 Beijing time (02:00 UTC): the bound is a moment, offset and all.
    for since, found in (("2026-11-20T09:59:00+08:00", 3), ("2026-11-20T10:01:00+08:00", 0)):
        got = client.get("/api/v1/demands", headers=admin, params={"since": since}).json()
        assert len(got) == found, since
    naive = client.get("/api/v1/demands", headers=admin, params={"since": "2026-11-20T09:59:00"})
    assert naive.status_code == 422 and naive.json()["problems"][0]["field"] == "since"
    assert "请写明时区" in naive.json()["message"]

    unknown = client.post(
        f"/api/v1/sites/{xitang[0]}/demands", headers=xitang[1], json=demand("x", category="nope")
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "catalog.unknown_category"
    assert "农业科技" in unknown.json()["message"]  # the names to choose from
    blank = client.post(f"/api/v1/sites/{xitang[0]}/demands", headers=xitang[1], json=demand("   "))
    assert blank.status_code == 400 and blank.json()["code"] == "study.topic_required"
    assert (
        client.post(f"/api/v1/sites/{xitang[0]}/demands", headers=donghe[1], json=demand("x")).status_code
        == 403
    )
