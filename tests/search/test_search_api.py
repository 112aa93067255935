"""Search through the API: every catalog change reaches the index; withdrawals vanish at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.protocol.china import today_in_china
from tests.fixtures import ReadyAsset, RecordingDispatcher, publish_programme


def titles(client: TestClient, headers: dict[str, str], **params: object) -> list[str]:
    r = client.get("/api/v1/search", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [h["programme"]["title"] for h in r.json()["hits"]]


def test_search_follows_the_catalog(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    cloud = publish_programme(
        client,
        producer,
        admin,
        ready_asset(producer),
        title="党建云平台使用指南",
        description="手机客户端和机顶盒都能学习",
        tags=["智慧党建"],
    )
    publish_programme(
        client,
        producer,
        admin,
        ready_asset(producer),
        title="全面推进乡村振兴战略",
        description="党建引领乡村治理",
        category="policy-law",
    )
    draft = client.post(
        "/api/v1/programmes", headers=producer, json={"title": "党建草稿", "category": "health"}
    ).json()
    assert titles(client, site, q="党建") == [
        "党建云平台使用指南",
        "全面推进乡村振兴战略",
    ]  # title match first
    assert draft["title"] not in titles(client, producer, q="党建")  # drafts are not searchable
    assert titles(client, site, q="djy") == ["党建云平台使用指南"]  # a TV remote types initials
    assert titles(client, site, q="鄉村振興") == ["全面推进乡村振兴战略"]  # traditional input
    assert titles(client, site, q="党建", category="policy-law") == ["全面推进乡村振兴战略"]
    assert titles(client, site, q="党建", category="政策法规") == ["全面推进乡村振兴战略"]  # its Chinese name
    hit = client.get("/api/v1/search", headers=site, params={"q": "乡村振兴"}).json()["hits"][0]
    assert "<mark>" in hit["title_html"] and hit["programme"]["kind"] == "audio"
    # An administrator's correction of a published programme reaches the index.
    edit = client.patch(f"/api/v1/programmes/{cloud}", headers=admin, json={"title": "党建云 新版指南"})
    assert edit.status_code == 200
    assert titles(client, site, q="新版") == ["党建云 新版指南"]
    health = client.get("/api/v1/search/health", headers=admin).json()
    assert health == {"database_count": 2, "index_count": 2, "in_sync": True}


def test_withdrawn_vanish_at_once_even_before_the_index_catches_up(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
    dispatcher: RecordingDispatcher,
    settings: Settings,
) -> None:
    pid = publish_programme(client, producer, admin, ready_asset(producer), title="基层组织生活会")
    publish_programme(client, producer, admin, ready_asset(producer), title="组织生活制度解读")
    dispatcher.app = None  # the index worker is down: the index lags behind
    client.post(f"/api/v1/programmes/{pid}/withdraw", headers=admin, json={})
    found = client.get("/api/v1/search", headers=site, params={"q": "组织生活"}).json()
    assert [h["programme"]["title"] for h in found["hits"]] == ["组织生活制度解读"] and found["total"] == 1
    health = client.get("/api/v1/search/health", headers=admin).json()
    assert health["in_sync"] is False and health["index_count"] == 2 and health["database_count"] == 1
    env = {"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    check = CliRunner().invoke(cli, ["reindex", "--check"], env=env)
    assert check.exit_code == 1 and "不一致" in check.stdout
    rebuilt = CliRunner().invoke(cli, ["reindex"], env=env)
    assert rebuilt.exit_code == 0 and "已为 1 个已发布节目建立索引" in rebuilt.stdout
    assert client.get("/api/v1/search/health", headers=admin).json()["in_sync"] is True


def test_required_filter_follows_study_lists(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    must = publish_programme(client, producer, admin, ready_asset(producer), title="党章学习 第一讲")
    publish_programme(client, producer, admin, ready_asset(producer), title="党章学习 选学篇")
    today = today_in_china().isoformat()
    sl = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [must]},
    ).json()
    assert titles(client, site, q="党章", required=True) == []  # a draft list is not in force
    client.post(f"/api/v1/study-lists/{sl['id']}/publish", headers=admin)
    assert titles(client, site, q="党章", required=True) == ["党章学习 第一讲"]
    hits = client.get("/api/v1/search", headers=site, params={"q": "党章"}).json()["hits"]
    badges = {h["programme"]["title"]: h["required"] for h in hits}  # the catalogue's 必学/选学 badge
    assert badges == {"党章学习 第一讲": True, "党章学习 选学篇": False}
    assert titles(client, site, q="党章", required=False) == ["党章学习 选学篇"]
    client.post(f"/api/v1/study-lists/{sl['id']}/archive", headers=admin)
    assert titles(client, site, q="党章", required=True) == []


def test_search_input_is_never_an_error(client: TestClient, site: dict[str, str]) -> None:
    for q in ("title:(*", "🙂🙂", "AND OR NOT", "\\", "党" * 200):
        r = client.get("/api/v1/search", headers=site, params={"q": q})
        assert r.status_code == 200 and r.json()["hits"] == [], q
    assert client.get("/api/v1/search", headers=site, params={"q": "x" * 201}).status_code == 422


@pytest.mark.parametrize(
    ("accept", "said"),
    [
        ("zh-CN,zh;q=0.9", "没有“体育”这个类别，请填写以下类别之一："),
        ("en-US,en;q=0.9", "There is no category '体育': give one of "),
    ],
)
def test_an_unknown_category_is_refused_in_the_caller_s_language(
    client: TestClient, site: dict[str, str], accept: str, said: str
) -> None:
    r = client.get("/api/v1/search", headers={**site, "Accept-Language": accept}, params={"category": "体育"})
    assert (r.status_code, r.json()["code"]) == (400, "catalog.unknown_category")
    assert r.json()["message"].startswith(said) and "党史教育" in r.json()["message"]


def test_index_and_database_agree_after_every_change(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    def in_sync() -> bool:
        health = client.get("/api/v1/search/health", headers=admin).json()
        return bool(health["in_sync"])

    pid = client.post(
        "/api/v1/programmes",
        headers=producer,
        json={"title": "法治乡村建设", "category": "policy-law", "asset_id": ready_asset(producer)},
    ).json()["id"]
    url = f"/api/v1/programmes/{pid}"
    steps = [
        ("publish", lambda: client.post(url + "/publish", headers=admin)),
        (
            "edit",
            lambda: client.patch(url, headers=admin, json={"tags": ["法治"], "description": "以案说法"}),
        ),
        (
            "list",
            lambda: client.post(
                "/api/v1/study-lists",
                headers=admin,
                json={
                    "title": "必学",
                    "starts_on": today_in_china().isoformat(),
                    "ends_on": today_in_china().isoformat(),
                    "programme_ids": [pid],
                },
            ),
        ),
        ("withdraw", lambda: client.post(url + "/withdraw", headers=admin, json={})),
    ]
    for name, step in steps:
        assert step().status_code in (200, 201), name
        assert in_sync(), f"index drifted after {name}"
    gone = client.post("/api/v1/programmes", headers=producer, json={"title": "临时", "category": "health"})
    assert client.delete(f"/api/v1/programmes/{gone.json()['id']}", headers=producer).status_code == 204
    assert in_sync()
