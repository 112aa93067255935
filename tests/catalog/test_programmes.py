"""Programmes: producers draft their department's, administrators publish and withdraw."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures import ReadyAsset


def draft(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    body = {"title": "党员教育 第1集：初心", "category": "party-history", **fields}
    r = client.post("/api/v1/programmes", headers=headers, json=body)
    assert r.status_code == 201, r.text
    result: dict[str, object] = r.json()
    return result


def test_categories_are_the_fixed_bilingual_taxonomy(client: TestClient, site: dict[str, str]) -> None:
    cats = client.get("/api/v1/categories", headers=site).json()
    assert [c["code"] for c in cats][:2] == ["political-theory", "party-spirit"]
    assert {"code": "agri-tech", "name_zh": "农业科技", "name_en": "Agricultural technology"} in cats
    assert len(cats) == 8


def test_draft_with_tags_and_media(
    client: TestClient, producer: dict[str, str], ready_asset: ReadyAsset
) -> None:
    audio, pdf = ready_asset(producer), ready_asset(producer, "pdf")
    p = draft(
        client,
        producer,
        tags=["乡村振兴", "  党课 ", "乡村振兴", "ＩＰＴＶ"],
        asset_id=audio,
        attachment_ids=[pdf],
        description="学习贯彻全会精神",
    )
    assert p["status"] == "draft" and p["tags"] == ["乡村振兴", "党课", "IPTV"]
    assert p["kind"] == "audio" and p["duration_seconds"] and p["asset_status"] == "ready"
    assert p["category"] == {"code": "party-history", "name_zh": "党史教育", "name_en": "Party history"}
    assert [a["asset_id"] for a in p["attachments"]] == [pdf]  # type: ignore[union-attr]
    bad = client.post("/api/v1/programmes", headers=producer, json={"title": "x", "category": "sports"})
    assert bad.status_code == 400 and "agri-tech" in bad.json()["message"]
    wrong = client.post(
        "/api/v1/programmes",
        headers=producer,
        json={"title": "x", "category": "health", "attachment_ids": [audio]},
    )
    assert wrong.status_code == 400 and "PDF handouts" in wrong.json()["message"]


def test_departments_edit_their_own(
    client: TestClient,
    producer: dict[str, str],
    colleague: dict[str, str],
    other_producer: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    p = draft(client, producer)
    url = f"/api/v1/programmes/{p['id']}"
    assert client.patch(url, headers=colleague, json={"title": "党员教育 第1集（修订）"}).status_code == 200
    assert client.patch(url, headers=other_producer, json={"title": "x"}).status_code == 403
    assert client.get(url, headers=other_producer).status_code == 404  # drafts are not shown to others
    foreign_asset = ready_asset(other_producer)
    r = client.patch(url, headers=producer, json={"asset_id": foreign_asset})
    assert r.status_code == 403 and "another department" in r.json()["message"]


def test_publish_and_withdraw(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    p = draft(client, producer)
    url = f"/api/v1/programmes/{p['id']}"
    assert client.post(url + "/publish", headers=producer).status_code == 403
    no_media = client.post(url + "/publish", headers=admin)
    assert no_media.status_code == 409 and "asset_id" in no_media.json()["message"]
    assert client.get(url, headers=site).status_code == 404
    client.patch(url, headers=producer, json={"asset_id": ready_asset(producer, "video")})
    published = client.post(url + "/publish", headers=admin).json()
    assert published["status"] == "published" and published["published_at"]
    assert client.get(url, headers=site).json()["kind"] == "video"
    assert client.get("/api/v1/programmes", headers=site).json()["total"] == 1
    assert client.delete(url, headers=producer).status_code == 409  # published history stays
    withdrawn = client.post(url + "/withdraw", headers=admin, json={"reason": "内容需更新"}).json()
    assert withdrawn["status"] == "withdrawn"
    assert client.get(url, headers=site).status_code == 404
    assert client.get("/api/v1/programmes", headers=site).json()["total"] == 0
    assert client.get(url, headers=producer).json()["status"] == "withdrawn"  # its department still sees it
    log = client.get("/api/v1/audit", headers=admin, params={"target_id": p["id"]}).json()["items"]
    assert [e["action"] for e in log] == [
        "programme.withdraw",
        "programme.publish",
        "programme.update",
        "programme.create",
    ]
    assert log[0]["details"]["reason"] == "内容需更新"


def test_drafts_can_be_deleted(
    client: TestClient, producer: dict[str, str], other_producer: dict[str, str]
) -> None:
    p = draft(client, producer)
    assert client.delete(f"/api/v1/programmes/{p['id']}", headers=other_producer).status_code == 403
    assert client.delete(f"/api/v1/programmes/{p['id']}", headers=producer).status_code == 204
    assert client.get(f"/api/v1/programmes/{p['id']}", headers=producer).status_code == 404


def test_listing_filters(
    client: TestClient, producer: dict[str, str], other_producer: dict[str, str]
) -> None:
    draft(client, producer, title="水稻种植技术", category="agri-tech", tags=["种植"])
    draft(client, producer, title="家庭急救常识", category="health")
    draft(client, other_producer, title="别的部门的草稿", category="health")
    mine = client.get("/api/v1/programmes", headers=producer).json()
    assert mine["total"] == 2  # another department's drafts are not listed
    agri = client.get("/api/v1/programmes", headers=producer, params={"category": "agri-tech"}).json()
    assert [p["title"] for p in agri["items"]] == ["水稻种植技术"]
    tagged = client.get("/api/v1/programmes", headers=producer, params={"tag": "种植"}).json()
    assert tagged["total"] == 1
    page = client.get("/api/v1/programmes", headers=producer, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [p["title"] for p in page["items"]] == ["水稻种植技术"]
