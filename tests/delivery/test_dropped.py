"""The programmes a site's manifest leaves out: each with a stable code and the numbers its sentence
needs (the manifest), said in Chinese with what to do (GET /api/v1/sites/{id}/dropped, protocol.dropped)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mediasrv.db import Database
from mediasrv.ingest.models import Rendition
from mediasrv.kit.i18n import placeholders
from mediasrv.protocol import dropped
from mediasrv.protocol.sizes import PLAIN, human_size
from tests.delivery.test_manifest import _manifest, _required_list, _site
from tests.fixtures import ReadyAsset, publish_programme

GB = 1024**3


def test_a_quota_too_small_drops_optional_programmes_with_their_numbers_never_required_ones(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b, c = (
        publish_programme(client, producer, admin, ready_asset(producer, "video"), title=t)
        for t in ("必学一", "选学二", "选学三")
    )
    _required_list(client, admin, [a])
    site, headers = _site(client, db, admin, "village", "iptv")
    size = {p["id"]: p["bytes"] for p in _manifest(client, site, headers)["programmes"]}

    def with_quota(quota: int) -> dict[str, Any]:
        r = client.patch(f"/api/v1/sites/{site}", headers=admin, json={"quota_bytes": quota})
        assert r.status_code == 200, r.text
        return _manifest(client, site, headers)

    # Ranked a (required), c, b: room for a, c and half of b.
    quota = size[a] + size[c] + size[b] // 2
    [entry] = with_quota(quota)["dropped"]
    assert entry == {
        "id": b,
        "title": "选学二",
        "required": False,
        "bytes": size[b],
        "code": "over_quota",
        "need": size[b],
        "left": size[b] // 2,
        "quota": quota,
        "reason": entry["reason"],
    }
    assert entry["reason"].startswith("over quota: needs ")  # still there, in English, for older agents

    tiny = with_quota(1)  # the required one stays, over quota; every optional one is left out
    assert tiny["order"] == [a] and tiny["over_quota"]
    assert {d["id"]: (d["code"], d["need"], d["left"], d["quota"]) for d in tiny["dropped"]} == {
        b: ("over_quota", size[b], 0, 1),
        c: ("over_quota", size[c], 0, 1),
    }


def test_the_site_page_says_in_chinese_what_was_left_out_and_what_to_do(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b = (
        publish_programme(client, producer, admin, ready_asset(producer, "video"), title=t)
        for t in ("必学一", "乡村振兴 第2集")
    )
    _required_list(client, admin, [a])
    site, headers = _site(client, db, admin, "village", "iptv")
    url = f"/api/v1/sites/{site}/dropped"
    nothing = client.get(url, headers=admin).json()
    assert nothing["items"] == [] and not nothing["over_quota"] and nothing["quota_bytes"] is None
    size = {p["id"]: p["bytes"] for p in _manifest(client, site, headers)["programmes"]}
    quota = size[a] + size[b] // 3
    assert (
        client.patch(f"/api/v1/sites/{site}", headers=admin, json={"quota_bytes": quota}).status_code == 200
    )

    found = client.get(url, headers=admin)
    assert found.status_code == 200, found.text
    [item] = found.json()["items"]
    need, left, whole = (human_size(n, PLAIN) for n in (size[b], size[b] // 3, quota))
    assert item["code"] == "over_quota" and item["id"] == b
    assert (
        item["message"] == f"《乡村振兴 第2集》未下载：超出存储配额，还需 {need}，剩余 {left}（共 {whole}）"
    )
    assert "调高本站点的存储配额" in item["advice"]
    assert found.json()["usage"].endswith("站点电脑还没有报告过硬盘空间。")
    report = {"manifest_version": 1, "bytes_missing": 0, "files_missing": 0, "files_failed": 0,
              "free_bytes": 35 * GB, "agent_version": "1.0"}  # fmt: skip
    assert client.post(f"/api/v1/sites/{site}/heartbeat", headers=headers, json=report).status_code == 200
    usage = client.get(url, headers=admin).json()["usage"]
    assert usage == f"存储配额 {whole}：要下载的节目共 {human_size(size[a], PLAIN)}，其中必学 " + (
        f"{human_size(size[a], PLAIN)}。站点电脑上次报告硬盘剩余 35.0 GB。"
    )
    # The site itself may ask (its agent's view says the same); English on request.
    english = client.get(url, headers={**headers, "Accept-Language": "en"}).json()["items"][0]
    assert english["message"].startswith("“乡村振兴 第2集” is not downloaded: over the storage quota")

    # The required programme alone over the quota: said, with what to do.
    assert client.patch(f"/api/v1/sites/{site}", headers=admin, json={"quota_bytes": 1}).status_code == 200
    over = client.get(url, headers=admin).json()
    assert over["over_quota"] and over["over_quota_message"].startswith("必学节目共 ")
    assert "调高本站点的存储配额" in over["over_quota_advice"]
    assert client.get(url).status_code == 401


def test_each_code_is_said_in_both_languages_and_an_older_entry_by_its_reason() -> None:
    over = {"id": "p", "title": "党课\n第一讲", "code": "over_quota", "need": 1288490189, "left": 300 * 2**20,
            "quota": 20 * GB}  # fmt: skip
    assert (
        dropped.line(over) == "《党课 第一讲》未下载：超出存储配额，还需 1.2 GB，剩余 300.0 MB（共 20.0 GB）"
    )
    box = {"id": "q", "title": "讲座", "code": "no_rendition", "kind": "audio", "profile": "iptv"}
    assert dropped.line(box) == "《讲座》未下载：机顶盒播放不了这个节目（音频），没有适合它的版本"
    assert dropped.line(box, "en").startswith("“讲座” is not downloaded: a set-top box cannot play it")
    assert "终端类型" in dropped.advice(box, "county") and "联系县里" in dropped.advice(box, "site")
    old = {"id": "r", "title": "旧", "reason": "over quota: needs 1.0 GiB, 0 B of 1.0 GiB left"}
    assert dropped.line(old) == "《旧》未下载：over quota: needs 1.0 GiB, 0 B of 1.0 GiB left"
    assert dropped.advice(old, "site") == ""
    for key, (zh, en) in dropped.TEXTS.items():  # the same parameters in both languages
        assert placeholders(zh) == placeholders(en), key


def test_a_programme_the_profile_cannot_play_is_left_out_with_its_kind_and_profile(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    film = ready_asset(producer, "video")
    with db.session_scope() as s:  # a film transcoded before old boxes had a rendition of their own
        for rendition in s.scalars(select(Rendition).where(Rendition.asset_id == film)):
            rendition.groups = [g for g in rendition.groups if g != "iptv-sd"]
    pid = publish_programme(client, producer, admin, film, title="初心使命")
    _required_list(client, admin, [pid])
    site, headers = _site(client, db, admin, "old-box", "iptv-legacy")
    [entry] = _manifest(client, site, headers)["dropped"]
    assert {k: entry[k] for k in ("id", "required", "bytes", "code", "kind", "profile")} == {
        "id": pid, "required": True, "bytes": 0,
        "code": "no_rendition", "kind": "video", "profile": "iptv-legacy",
    }  # fmt: skip
    [item] = client.get(f"/api/v1/sites/{site}/dropped", headers=admin).json()["items"]
    assert (
        item["message"] == "《初心使命》未下载：老式机顶盒（标清）播放不了这个节目（视频），没有适合它的版本"
    )
