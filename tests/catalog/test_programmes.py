"""Programmes: producers draft their department's, administrators publish and withdraw."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from mediasrv import migrations
from mediasrv.accounts.service import create_org_unit
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.catalog.service import create_programme, publish_programme, update_programme
from mediasrv.db import Database
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus
from mediasrv.kit import i18n
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Conflict
from tests.fixtures import ACTOR, ReadyAsset
from tests.fixtures import publish_programme as publish_via_api
from tests.mediafactory import make_media, make_truncated
from tests.servers import PostgresServer
from workers import pipeline


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


ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}
NAMES = "政治理论、党性教育与纪律、政策法规、农业科技、实用技术与职业技能、卫生健康、先进典型、党史教育"


def test_a_category_is_named_by_its_code_or_its_chinese_name(
    client: TestClient, producer: dict[str, str], site: dict[str, str]
) -> None:
    p = draft(client, producer, category="党史教育")
    assert p["category"]["code"] == "party-history"  # type: ignore[index]
    url = f"/api/v1/programmes/{p['id']}"
    changed = client.patch(url, headers=producer, json={"category": " 农业科技 "})
    assert changed.status_code == 200 and changed.json()["category"]["code"] == "agri-tech"
    for name in ("农业科技", "agri-tech"):
        found = client.get("/api/v1/programmes", headers=producer, params={"category": name}).json()
        assert [x["id"] for x in found["items"]] == [p["id"]], name
    for refused in (
        client.post("/api/v1/programmes", headers=producer, json={"title": "x", "category": "体育"}),
        client.patch(url, headers=producer, json={"category": "sports"}),
        client.get("/api/v1/programmes", headers=site, params={"category": "党史"}),
    ):
        assert refused.status_code == 400 and refused.json()["code"] == "catalog.unknown_category"
        assert refused.json()["params"]["names"] == NAMES


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_catalog_refusals_in_the_caller_s_language(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], lang: str
) -> None:
    said = ZH if lang == "zh" else EN
    r = client.post(
        "/api/v1/programmes", headers={**producer, **said}, json={"title": "x", "category": "体育"}
    )
    assert (
        r.json()["message"]
        == {
            "zh": f"没有“体育”这个类别，请填写以下类别之一：{NAMES}。",
            "en": f"There is no category '体育': give one of {NAMES} "
            "(or its code: see GET /api/v1/categories).",
        }[lang]
    )
    p = draft(client, producer)
    r = client.post(f"/api/v1/programmes/{p['id']}/withdraw", headers={**admin, **said}, json={})
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        409,
        "catalog.withdraw_only_published",
        {"status": "catalog.status.draft"},
    )
    assert (
        r.json()["message"]
        == {
            "zh": "只有已发布的节目才能撤下；这个节目现在是“草稿”。",
            "en": "Only published programmes can be withdrawn; this one is a draft.",
        }[lang]
    )


def test_every_programme_status_has_a_name() -> None:
    assert [s for s in ProgrammeStatus if f"catalog.status.{s.value}" not in i18n.MESSAGES] == []


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
    assert bad.status_code == 400 and bad.json()["code"] == "catalog.unknown_category"
    wrong = client.post(
        "/api/v1/programmes",
        headers=producer,
        json={"title": "x", "category": "health", "attachment_ids": [audio]},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "catalog.attachment_not_document"


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
    assert r.status_code == 403 and r.json()["code"] == "catalog.asset_other_department"


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
    assert no_media.status_code == 409 and no_media.json()["code"] == "catalog.publish_needs_media"
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


def test_what_a_programmes_state_refuses_is_a_conflict(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    """Refused because of where the programme stands: 409 with the error code of every conflict."""
    url = f"/api/v1/programmes/{draft(client, producer)['id']}"
    refusals = [
        client.post(url + "/publish", headers=admin),  # no media yet
        client.post(url + "/withdraw", headers=admin, json={}),  # not published
    ]
    client.patch(url, headers=producer, json={"asset_id": ready_asset(producer)})
    assert client.post(url + "/publish", headers=admin).status_code == 200
    refusals.append(client.delete(url, headers=producer))  # published history stays
    assert [(r.status_code, r.json()["error"]) for r in refusals] == [(409, "conflict")] * 3


def test_drafts_can_be_deleted(
    client: TestClient, producer: dict[str, str], other_producer: dict[str, str]
) -> None:
    p = draft(client, producer)
    assert client.delete(f"/api/v1/programmes/{p['id']}", headers=other_producer).status_code == 403
    assert client.delete(f"/api/v1/programmes/{p['id']}", headers=producer).status_code == 204
    assert client.get(f"/api/v1/programmes/{p['id']}", headers=producer).status_code == 404


def test_a_draft_that_study_records_name_is_kept(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str]
) -> None:
    """Sessions and ratings may name a draft (an administrator records what a site played): deleting
    it is refused with a 409 that says why, not a 500 from the database's foreign key."""
    sites = client.get("/api/v1/sites", headers=admin).json()
    site_id = next(s["id"] for s in sites if s["code"] == "xitang-village")
    played, rated = draft(client, producer), draft(client, producer, title="第2集")
    session = {
        "id": str(uuid.uuid4()),
        "started_at": "2026-11-20T19:30:00+08:00",
        "minutes": 45,
        "members_present": 9,
        "programmes": [{"programme_id": played["id"]}],
    }
    assert client.post(f"/api/v1/sites/{site_id}/sessions", headers=admin, json=session).status_code == 201
    rating = {"rating": 4, "rated_at": "2026-11-20T21:00:00+08:00"}
    url = f"/api/v1/sites/{site_id}/ratings/{rated['id']}"
    assert client.put(url, headers=admin, json=rating).status_code == 200
    for p in (played, rated):
        refused = client.delete(f"/api/v1/programmes/{p['id']}", headers=producer)
        assert refused.status_code == 409, refused.text
        assert (refused.json()["error"], refused.json()["code"]) == ("conflict", "catalog.delete_referenced")
        assert client.get(f"/api/v1/programmes/{p['id']}", headers=producer).json()["status"] == "draft"


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


def _failed_film(client: TestClient, producer: dict[str, str], ctx: pipeline.Context, tmp_path: Path) -> str:
    """A film the pipeline gave up on (cut short), processed for real."""
    cut = make_truncated(make_media(tmp_path / "whole.mp4", seconds=3), tmp_path / "cut.mp4")
    with cut.open("rb") as f:
        r = client.post("/api/v1/assets", headers=producer, files={"file": ("cut.mp4", f)})
    asset_id: str = r.json()["id"]
    assert pipeline.process_asset(ctx, asset_id) is AssetStatus.FAILED
    return asset_id


def test_a_producer_cannot_change_a_published_programme(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
    ctx: pipeline.Context,
    tmp_path: Path,
) -> None:
    film, failed = ready_asset(producer, "video"), _failed_film(client, producer, ctx, tmp_path)
    pid = publish_via_api(client, producer, admin, film, title="党章学习", description="第一讲")
    url = f"/api/v1/programmes/{pid}"
    for change in (
        {"title": "未经审核的标题"},
        {"description": "未经审核的说明"},
        {"asset_id": failed},
        {"tags": ["未审"]},
        {"attachment_ids": [ready_asset(producer, "pdf")]},
    ):
        r = client.patch(url, headers=producer, json=change)
        assert r.status_code == 409, (change, r.text)
        assert (r.json()["error"], r.json()["code"]) == ("conflict", "catalog.published_locked")
    seen = client.get(url, headers=site).json()  # sites keep exactly what was reviewed
    assert (seen["title"], seen["description"], seen["asset_id"], seen["tags"]) == (
        "党章学习",
        "第一讲",
        film,
        [],
    )
    actions = [
        e["action"]
        for e in client.get("/api/v1/audit", headers=admin, params={"target_id": pid}).json()["items"]
    ]
    assert actions == ["programme.publish", "programme.create"]  # nothing changed, nothing recorded
    # The way to change it: an administrator withdraws it, the producer edits, it is reviewed again.
    client.post(url + "/withdraw", headers=admin, json={"reason": "需要修改"})
    assert client.patch(url, headers=producer, json={"title": "党章学习（修订）"}).status_code == 200
    assert client.get(url, headers=site).status_code == 404  # off the sites until published again
    assert client.post(url + "/publish", headers=admin).json()["title"] == "党章学习（修订）"


def test_media_that_is_not_ready_never_goes_on_a_published_programme(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    ctx: pipeline.Context,
    tmp_path: Path,
) -> None:
    film, failed = ready_asset(producer, "video"), _failed_film(client, producer, ctx, tmp_path)
    path = make_media(tmp_path / "new.mp4", seconds=2, width=160, height=90)
    with path.open("rb") as f:  # uploaded, not processed yet
        pending = client.post("/api/v1/assets", headers=producer, files={"file": ("new.mp4", f)}).json()["id"]
    pid = publish_via_api(client, producer, admin, film)
    url = f"/api/v1/programmes/{pid}"
    for asset in (failed, pending):
        r = client.patch(url, headers=admin, json={"asset_id": asset})  # not even by an administrator
        assert r.status_code == 409, r.text
        assert r.json()["code"] == ("catalog.media_failed" if asset == failed else "catalog.media_not_ready")
        r = client.patch(url, headers=admin, json={"attachment_ids": [asset]})
        assert r.status_code in (400, 409) and asset not in str(
            client.get(url, headers=admin).json()["attachments"]
        )
    assert client.get(url, headers=admin).json()["asset_id"] == film


def test_every_change_to_a_programme_is_audited_with_before_and_after(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    first, second = ready_asset(producer, "video"), ready_asset(producer, "video")
    pdf, pdf2 = ready_asset(producer, "pdf"), ready_asset(producer, "pdf")
    p = draft(
        client,
        producer,
        title="旧标题",
        description="旧说明",
        tags=["甲"],
        asset_id=first,
        attachment_ids=[pdf],
    )
    url = f"/api/v1/programmes/{p['id']}"
    change = {
        "title": "新标题",
        "description": "新说明",
        "tags": ["乙"],
        "asset_id": second,
        "attachment_ids": [pdf2, pdf],
    }
    assert client.patch(url, headers=producer, json=change).status_code == 200
    client.post(url + "/publish", headers=admin)
    # An administrator (the reviewer) may correct a published programme; that is audited too.
    assert (
        client.patch(url, headers=admin, json={"title": "新标题（更正）", "category": "health"}).status_code
        == 200
    )
    assert client.patch(url, headers=admin, json={"title": "新标题（更正）"}).status_code == 200  # no change
    log = client.get("/api/v1/audit", headers=admin, params={"target_id": p["id"]}).json()["items"]
    assert [e["action"] for e in log] == [
        "programme.update",
        "programme.publish",
        "programme.update",
        "programme.create",
    ]
    assert log[2]["details"] == {
        "title": {"before": "旧标题", "after": "新标题"},
        "description": {"before": "旧说明", "after": "新说明"},
        "tags": {"before": ["甲"], "after": ["乙"]},
        "asset_id": {"before": first, "after": second},
        "attachments": {"before": [pdf], "after": [pdf2, pdf]},
    }
    assert log[0]["details"] == {
        "title": {"before": "新标题", "after": "新标题（更正）"},
        "category": {"before": "party-history", "after": "health"},
    }


@pytest.mark.integration
def test_an_edit_cannot_slip_onto_a_programme_being_published(postgres_server: PostgresServer) -> None:
    """PostgreSQL runs the two at once: an edit that read the draft before the publish committed
    waits for it and is then refused, instead of landing unreviewed on the published programme."""
    db = Database(postgres_server.create_database())
    try:
        migrations.upgrade(db)
        with db.session_scope() as s:
            unit = create_org_unit(s, actor=ACTOR, name="县电教中心")
            asset = Asset(
                sha256="0" * 64, filename="a.mp4", title="a", size_bytes=1, source_key="sources/00/0",
                kind=AssetKind.VIDEO, status=AssetStatus.READY, org_unit_id=unit.id,
            )  # fmt: skip
            s.add(asset)
            s.flush()
            producer = Caller(role=Role.PRODUCER, name="p", via="cli", org_unit_id=unit.id)
            pid = create_programme(
                s, actor=producer, title="党章学习", category="health", asset_id=asset.id
            ).id
        with db.session_scope() as publishing:
            publish_programme(publishing, actor=ACTOR, programme_id=pid)
            with ThreadPoolExecutor(1) as pool:
                edit = pool.submit(_edit_in_own_session, db, producer, pid)
                _wait_for_a_lock_wait(db)
                publishing.commit()
                with pytest.raises(Conflict):
                    edit.result(timeout=30)
        with db.session_scope() as s:
            assert s.get_one(Programme, pid).title == "党章学习"
    finally:
        db.dispose()


def _edit_in_own_session(db: Database, producer: Caller, pid: str) -> None:
    with db.session_scope() as s:
        update_programme(s, actor=producer, programme_id=pid, title="未经审核的标题")


def _wait_for_a_lock_wait(db: Database) -> None:
    """Until another connection waits for a row lock (the edit blocked behind the publish)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    for _ in range(3000):
        with db.engine.connect() as conn:
            if conn.scalar(query):
                return
        time.sleep(0.01)
    raise AssertionError("the edit never waited for the publish")
