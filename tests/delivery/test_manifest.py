"""Per-site caching manifests: contents per profile and quota, the file lists they name, verification,
versions, deltas."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select

from mediasrv import epochs
from mediasrv.db import Database
from mediasrv.delivery.manifest.build import deflate_piece, gzip_parts
from mediasrv.delivery.manifest.models import FileList, ManifestContent, SiteManifest
from mediasrv.delivery.manifest.store import ManifestService, collect_file_lists, collect_garbage
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import (
    FORMAT,
    SIGNATURE_CONTEXT,
    apply_delta,
    canonical,
    diff,
    list_digests,
    site_files,
)
from tests.fixtures import ReadyAsset, make_token, publish_programme


def _site(
    client: TestClient, db: Database, admin: dict[str, str], code: str, profile: str
) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    site = next(s for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    r = client.patch(f"/api/v1/sites/{site['id']}", headers=admin, json={"device_profile": profile})
    assert r.status_code == 200, r.text
    return site["id"], headers


def _verified(client: TestClient, body: bytes, signature: str) -> dict[str, Any]:
    """Check the body as a site agent does: Ed25519 over the SHA-256 of the exact bytes."""
    key = client.get("/api/v1/sites/manifest-key").json()["public_key"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key))
    public.verify(base64.b64decode(signature), SIGNATURE_CONTEXT + hashlib.sha256(body).hexdigest().encode())
    doc: dict[str, Any] = json.loads(body)
    assert canonical(doc) == body  # one encoding: anyone can reproduce the bytes
    return doc


def _manifest(client: TestClient, site: int, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get(
        f"/api/v1/sites/{site}/manifest", headers={**headers, "Accept-Encoding": "gzip"}, params=params
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-encoding"] == "gzip" and r.headers["x-manifest-kind"] == (
        "delta" if params else "full"
    )
    doc = _verified(client, r.content, r.headers["x-manifest-signature"])
    assert r.headers["x-manifest-version"] == str(doc["version"])
    return doc


def _lists(client: TestClient, doc: dict[str, Any], headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every file list the manifest names, fetched as an agent does and checked against its digest."""
    found = {}
    for sha in list_digests(doc):
        r = client.get(f"/api/v1/file-lists/{sha}", headers=headers)
        assert r.status_code == 200, r.text
        assert hashlib.sha256(r.content).hexdigest() == sha and canonical(json.loads(r.content)) == r.content
        found[sha] = json.loads(r.content)
    return found


def _files(client: TestClient, doc: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    return site_files(doc, _lists(client, doc, headers))


def _required_list(client: TestClient, admin: dict[str, str], ids: list[str]) -> int:
    today = today_in_china().isoformat()
    sl = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": ids},
    ).json()
    assert client.post(f"/api/v1/study-lists/{sl['id']}/publish", headers=admin).status_code == 200
    return int(sl["id"])


def test_manifest_lists_every_file_of_the_profile_verifiably(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    film, handout = ready_asset(producer, "video"), ready_asset(producer, "pdf")
    pid = publish_programme(client, producer, admin, film, title="乡村振兴战略", attachment_ids=[handout])
    box, box_h = _site(client, db, admin, "box", "iptv")
    phone, phone_h = _site(client, db, admin, "phone", "mobile")
    old, old_h = _site(client, db, admin, "old-box", "iptv-legacy")

    doc = _manifest(client, box, box_h)
    assert doc["version"] == 1 and doc["site"] == {
        "bandwidth_kbps": None,
        "code": "box",
        "download_window": None,
        "id": box,
        "name": "box",
    }
    assert doc["device_profile"] == "iptv" and doc["format"] == FORMAT == 2 and doc["dropped"] == []
    [programme] = doc["programmes"]
    assert doc["order"] == [pid] and programme["id"] == pid and not programme["required"]
    assert programme["title"] == "乡村振兴战略" and programme["play"] == f"{film}/iptv.m3u8"
    assert programme["attachments"] == [f"{handout}/document.pdf"]
    own, sheet = programme["lists"]  # its own list, then the handout's
    assert own["url"] == f"/api/v1/file-lists/{own['sha256']}"
    lists = _lists(client, doc, box_h)
    assert lists[own["sha256"]]["asset_id"] == film and lists[sheet["sha256"]]["asset_id"] == handout
    assert (
        lists[own["sha256"]]["presentation"] == "iptv"
        and lists[sheet["sha256"]]["presentation"] == "document"
    )
    files = site_files(doc, lists)
    paths = [f["path"] for f in files]
    assert paths == sorted(paths) and len(set(paths)) == len(paths)
    assert programme["poster"] in paths and programme["play"] in paths and f"{handout}/document.pdf" in paths
    assert any(p.endswith(".ts") for p in paths) and doc["bytes"] == sum(f["size"] for f in files)
    assert doc["file_count"] == len(files) == programme["files"] == own["files"] + sheet["files"]
    assert programme["bytes"] == own["bytes"] + sheet["bytes"] == doc["bytes"]
    for f in files:  # every URL serves exactly the bytes the lists promise
        got = client.get(f["url"], headers=box_h)
        assert got.status_code == 200, f["url"]
        assert len(got.content) == f["size"] and hashlib.sha256(got.content).hexdigest() == f["sha256"]
        assert f["url"] == "/hls/" + f["path"]

    # The rendition follows the device: no file of another profile's renditions.
    mobile = _manifest(client, phone, phone_h)
    legacy = _manifest(client, old, old_h)
    assert mobile["programmes"][0]["play"] == f"{film}/master.m3u8"
    assert legacy["programmes"][0]["play"] == f"{film}/iptv-sd.m3u8"
    segments = [
        {p["path"].rsplit("/", 2)[-2] for p in _files(client, d, h) if p["path"].endswith(".ts")}
        for d, h in ((doc, box_h), (mobile, phone_h), (legacy, old_h))
    ]
    assert segments[0].isdisjoint(segments[1]) and segments[0].isdisjoint(segments[2])
    # One list per (asset, generation, presentation), stored once whatever the number of sites.
    with db.session_scope() as s:
        assert s.query(FileList).count() == 4  # iptv, master, iptv-sd, and the handout's document

    # Deterministic: the same state gives the same bytes, in this process and in a fresh one.
    again = client.get(f"/api/v1/sites/{box}/manifest", headers=box_h)
    assert again.content == canonical(doc) and again.headers["x-manifest-version"] == "1"
    fresh = ManifestService(db, client.app.state.signing_key, epochs.EpochWatch(db))  # type: ignore[attr-defined]
    current = fresh.current(box, today_in_china())
    assert current.version == 1 and b"".join(fresh.body(current, gzip=False).parts) == again.content


def test_file_lists_are_immutable_and_only_for_whoever_may_play_them(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    film = ready_asset(producer, "video")
    publish_programme(client, producer, admin, film, title="本地节目")
    box, box_h = _site(client, db, admin, "box", "iptv")
    phone, phone_h = _site(client, db, admin, "phone", "mobile")
    [iptv] = list_digests(_manifest(client, box, box_h))
    [master] = list_digests(_manifest(client, phone, phone_h))
    url = f"/api/v1/file-lists/{iptv}"
    r = client.get(url, headers={**box_h, "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    # Kept forever by its reader, by no shared cache: it is not everyone's to read.
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert client.get(url, headers={**box_h, "If-None-Match": r.headers["etag"]}).status_code == 304
    # A site fetches only what its own manifest names: the phone's list is not the box's to read.
    refused = client.get(f"/api/v1/file-lists/{master}", headers=box_h)
    assert refused.status_code == 404 and refused.json()["code"] == "delivery.no_file_list"
    assert client.get(f"/api/v1/file-lists/{'0' * 64}", headers=admin).status_code == 404
    assert client.get(f"/api/v1/file-lists/{master}", headers=admin).status_code == 200
    assert (
        client.get(f"/api/v1/file-lists/{master}", headers=producer).status_code == 200
    )  # their department's
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/file-lists/not-a-digest", headers=admin).status_code == 422


def test_quota_pins_required_programmes_and_drops_optional_ones_with_reasons(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    a, b, c = (
        publish_programme(client, producer, admin, ready_asset(producer, "video"), title=t)
        for t in ("必学一", "选学二", "选学三")
    )
    _required_list(client, admin, [a])
    site, headers = _site(client, db, admin, "village", "iptv")
    full = _manifest(client, site, headers)
    required = {p["id"]: p["required"] for p in full["programmes"]}
    assert full["order"] == [a, c, b] and required == {a: True, b: False, c: False}
    size = {p["id"]: p["bytes"] for p in full["programmes"]}
    assert full["pinned_bytes"] == size[a] and full["bytes"] == sum(size.values())

    def with_quota(quota: int) -> dict[str, Any]:
        assert (
            client.patch(f"/api/v1/sites/{site}", headers=admin, json={"quota_bytes": quota}).status_code
            == 200
        )
        return _manifest(client, site, headers)

    fits_c = with_quota(size[a] + size[c])
    assert fits_c["order"] == [a, c] and fits_c["quota_bytes"] == size[a] + size[c]
    [dropped] = fits_c["dropped"]
    assert dropped["id"] == b and dropped["bytes"] == size[b] and dropped["reason"].startswith("over quota")
    assert not fits_c["over_quota"] and fits_c["bytes"] <= fits_c["quota_bytes"]
    tiny = with_quota(1)  # required study is never dropped: the site is told it is over quota
    assert tiny["order"] == [a] and tiny["over_quota"]
    assert [d["id"] for d in tiny["dropped"]] == sorted([c, b])
    assert tiny["version"] == 3 and fits_c["version"] == 2


def test_polls_deltas_and_versions(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    first = publish_programme(client, producer, admin, ready_asset(producer, "video"), title="第一课")
    site, headers = _site(client, db, admin, "village", "iptv")
    url = f"/api/v1/sites/{site}/manifest"
    docs = [_manifest(client, site, headers)]
    etag = client.get(url, headers=headers).headers["etag"]
    assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304
    # A change that touches nothing this site holds does not make a new version.
    r = client.post("/api/v1/programmes", headers=producer, json={"title": "草稿", "category": "health"})
    assert r.status_code == 201
    assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304

    second = publish_programme(client, producer, admin, ready_asset(producer, "video"), title="第二课")
    docs.append(_manifest(client, site, headers))
    list_id = _required_list(client, admin, [second])
    docs.append(_manifest(client, site, headers))
    assert (
        client.post(
            f"/api/v1/programmes/{first}/withdraw", headers=admin, json={"reason": "过时"}
        ).status_code
        == 200
    )
    docs.append(_manifest(client, site, headers))
    assert client.post(f"/api/v1/study-lists/{list_id}/archive", headers=admin).status_code == 200
    current = _manifest(client, site, headers)
    assert [d["version"] for d in docs] == [1, 2, 3, 4] and current["version"] == 5
    assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 200

    for old in docs:  # from any older version, the delta leads to the current manifest
        delta = _manifest(client, site, headers, since=old["version"])
        rebuilt = apply_delta(old, delta)
        assert delta["since"] == old["version"] and rebuilt == current
        assert hashlib.sha256(canonical(rebuilt)).hexdigest() == delta["sha256"]  # checkable
    newest = docs[-1]
    delta = _manifest(client, site, headers, since=newest["version"])  # the change, not the catalog
    assert [p["id"] for p in delta["programmes"]["added"]] == [second]  # no longer required
    assert delta["programmes"]["removed"] == [] and delta["pinned_bytes"] == 0
    same = _manifest(client, site, headers, since=current["version"])
    assert all(same[c] == {"added": [], "removed": []} for c in ("programmes", "dropped"))
    assert set(same) == {"dropped", "format", "programmes", "sha256", "since", "site", "version"}
    unknown = client.get(url, headers=headers, params={"since": 999})
    assert unknown.headers["x-manifest-kind"] == "full" and json.loads(unknown.content) == current
    with db.session_scope() as s:  # versions are written once per change, not once per poll
        assert s.query(SiteManifest).filter_by(site_id=site).count() == 5


def test_a_publication_writes_the_versions_of_the_sites_alike_at_once(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    """After a change, the first poll of a content writes the new versions of every site alike that
    has a manifest in one statement, not one transaction per site at its next poll; their polls are
    then answered from memory, and each still verifies and takes a delta."""
    publish_programme(client, producer, admin, ready_asset(producer, "video"), title="第一课")
    alike = [_site(client, db, admin, f"alike-{k}", "iptv") for k in range(4)]
    phone = _site(client, db, admin, "phone", "mobile")  # another content: left to its own poll
    quiet, _ = _site(client, db, admin, "never-polled", "iptv")  # no manifest yet: no rows for it
    before = [_manifest(client, s, h) for s, h in [*alike, phone]]
    publish_programme(client, producer, admin, ready_asset(producer, "video"), title="第二课")

    inserts: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SITE_MANIFESTS "):
            inserts.append(len(params) if many else 1)

    manifests: ManifestService = client.app.state.manifests  # type: ignore[attr-defined]
    today = today_in_china()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        first = _manifest(client, *alike[0])
        assert sum(inserts) == 4 and len(inserts) <= 2  # the polled site's, then the others' at once
        assert all(manifests.cached(s, today) is not None for s, _ in alike)  # no query for the others
        assert manifests.cached(phone[0], today) is None
        after = [first, *(_manifest(client, s, h) for s, h in alike[1:])]
        assert sum(inserts) == 4
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    for old, new, (site, headers) in zip(before[:-1], after, alike, strict=True):
        assert new["version"] == old["version"] + 1 and new["site"]["id"] == site
        assert {**new, "site": None} == {**first, "site": None}
        assert apply_delta(old, _manifest(client, site, headers, since=old["version"])) == new
    assert _manifest(client, *phone)["version"] == before[-1]["version"] + 1
    # Another API process finds the versions written: it answers from them and writes nothing.
    other = ManifestService(db, client.app.state.signing_key, epochs.EpochWatch(db))  # type: ignore[attr-defined]
    with db.session_scope() as s:
        rows = s.query(SiteManifest).count()
    assert [other.current(s, today).version for s, _ in alike] == [d["version"] for d in after]
    with db.session_scope() as s:
        assert s.query(SiteManifest).count() == rows
        assert s.query(SiteManifest).filter_by(site_id=quiet).count() == 0


def test_a_rank_change_rewrites_the_order_and_no_programme(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    ids = [
        publish_programme(client, producer, admin, ready_asset(producer, "video"), title=t)
        for t in ("第一课", "第二课", "第三课")
    ]
    list_id = _required_list(client, admin, ids)
    site, headers = _site(client, db, admin, "village", "iptv")
    before = _manifest(client, site, headers)
    assert before["order"] == ids
    r = client.patch(f"/api/v1/study-lists/{list_id}", headers=admin, json={"programme_ids": ids[::-1]})
    assert r.status_code == 200, r.text
    delta = _manifest(client, site, headers, since=before["version"])
    assert delta["order"] == ids[::-1] and delta["programmes"] == {"added": [], "removed": []}
    assert set(delta) == {"dropped", "format", "order", "programmes", "sha256", "since", "site", "version"}
    assert apply_delta(before, delta) == _manifest(client, site, headers)


def test_a_site_holding_a_format_1_version_is_answered_with_the_full_manifest(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    site, headers = _site(client, db, admin, "upgrading", "iptv")
    first = _manifest(client, site, headers)
    # What a server before format 2 stored for that version: a flat content.
    raw = (
        b'{"bytes":0,"device_profile":"iptv","dropped":[],"files":[],"format":1,"over_quota":false,'
        b'"pinned_bytes":0,"programmes":[],"quota_bytes":null'
    )
    sha = hashlib.sha256(raw).hexdigest()
    with db.session_scope() as s:
        s.add(ManifestContent(sha256=sha, deflated=deflate_piece(raw), raw_size=len(raw)))
        s.flush()
        s.get_one(SiteManifest, (site, first["version"])).content_sha256 = sha
    r = client.patch(f"/api/v1/sites/{site}", headers=admin, json={"name": "新名字"})
    assert r.status_code == 200, r.text
    url = f"/api/v1/sites/{site}/manifest"
    answer = client.get(url, headers=headers, params={"since": first["version"]})
    assert answer.headers["x-manifest-kind"] == "full" and answer.json()["format"] == FORMAT
    assert answer.json()["version"] == first["version"] + 1


def test_withdrawal_removes_a_programme_from_every_manifest(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    film = ready_asset(producer, "video")
    pid = publish_programme(client, producer, admin, film, title="将撤下的节目")
    sites = [
        _site(client, db, admin, code, profile)
        for code, profile in (("a", "iptv"), ("b", "mobile"), ("c", "pc"))
    ]
    before = [_manifest(client, s, h) for s, h in sites]
    assert all(
        any(f["path"].startswith(film) for f in _files(client, d, h))
        for d, (_, h) in zip(before, sites, strict=True)
    )
    assert (
        client.post(
            f"/api/v1/programmes/{pid}/withdraw", headers=admin, json={"reason": "内容有误"}
        ).status_code
        == 200
    )
    for (s, h), old in zip(sites, before, strict=True):
        delta = _manifest(client, s, h, since=old["version"])
        assert delta["programmes"]["removed"] == [pid] and delta["order"] == []
        assert apply_delta(old, delta)["programmes"] == [] == _manifest(client, s, h)["programmes"]


def test_a_site_reads_only_its_own_manifest(
    client: TestClient, db: Database, admin: dict[str, str], producer: dict[str, str]
) -> None:
    mine, mine_h = _site(client, db, admin, "mine", "iptv")
    other, _ = _site(client, db, admin, "other", "iptv")
    assert client.get("/auth/session", headers=mine_h).json()["site_id"] == mine  # how an agent learns it
    assert client.get(f"/api/v1/sites/{mine}/manifest", headers=mine_h).status_code == 200
    refused = client.get(f"/api/v1/sites/{other}/manifest", headers=mine_h)
    assert refused.status_code == 403 and refused.json()["code"] == "sites.own_records_only"
    assert client.get(f"/api/v1/sites/{other}/manifest", headers=producer).status_code == 403
    assert client.get(f"/api/v1/sites/{other}/manifest", headers=admin).status_code == 200
    assert client.get(f"/api/v1/sites/{other}/manifest").status_code == 401
    assert client.get("/api/v1/sites/99999/manifest", headers=admin).status_code == 404
    bad = client.get(f"/api/v1/sites/{mine}/manifest", headers=mine_h, params={"since": -1})
    assert bad.status_code == 422 and "since" in bad.json()["message"]

    # The 304 shortcut before routing keeps the route's rules: another site's ETag is no way in,
    # and a revoked token stops working at once, however recently it was trusted.
    theirs = {"If-None-Match": client.get(f"/api/v1/sites/{other}/manifest", headers=admin).headers["etag"]}
    assert client.get(f"/api/v1/sites/{other}/manifest", headers={**admin, **theirs}).status_code == 304
    assert client.get(f"/api/v1/sites/{other}/manifest", headers={**mine_h, **theirs}).status_code == 403
    own = {"If-None-Match": client.get(f"/api/v1/sites/{mine}/manifest", headers=mine_h).headers["etag"]}
    assert client.get(f"/api/v1/sites/{mine}/manifest", headers={**mine_h, **own}).status_code == 304
    token = next(t for t in client.get("/api/v1/tokens", headers=admin).json() if t["site_id"] == mine)
    assert client.delete(f"/api/v1/tokens/{token['id']}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/sites/{mine}/manifest", headers={**mine_h, **own}).status_code == 401


# --- the delta algebra, for any manifests -----------------------------------------------------

_names = st.text("abcdef", min_size=1, max_size=3)
_list = st.fixed_dictionaries(
    {
        "bytes": st.integers(0, 10**12),
        "files": st.integers(0, 9),
        "sha256": st.sampled_from(["0" * 64, "f" * 64]),
    }
)


@st.composite
def _manifests(draw: st.DrawFn, version: int) -> dict[str, Any]:
    ids = draw(st.lists(_names, unique=True, max_size=6))
    order = draw(st.permutations(ids))
    kept = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
    entries = [
        {
            "id": i,
            "title": draw(st.sampled_from(["党课", "政策", "健康"])),
            "required": draw(st.booleans()),
            "lists": draw(st.lists(_list, max_size=2)),
        }
        for i in ids
    ]
    held = {e["id"] for e, k in zip(entries, kept, strict=True) if k}
    return {
        "bytes": draw(st.integers(0, 10**12)),
        "device_profile": draw(st.sampled_from(["iptv", "mobile"])),
        "dropped": sorted(
            ({"id": e["id"], "reason": "over quota"} for e in entries if e["id"] not in held),
            key=lambda e: e["id"],
        ),
        "file_count": draw(st.integers(0, 9)),
        "format": 2,
        "order": [i for i in order if i in held],
        "over_quota": draw(st.booleans()),
        "programmes": sorted((e for e in entries if e["id"] in held), key=lambda e: e["id"]),
        "quota_bytes": draw(st.none() | st.integers(1, 10**12)),
        "site": {"code": "s", "id": 7, "name": "西塘村"},
        "version": version,
    }


@st.composite
def _histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(_manifests(v)) for v in range(1, draw(st.integers(2, 6)) + 1)]


@settings(max_examples=200, deadline=None)
@given(_histories())
def test_applying_the_delta_from_any_older_version_gives_the_current_manifest(
    history: list[dict[str, Any]],
) -> None:
    current = history[-1]
    for old in history:
        wire = json.loads(canonical(diff(old, current)))  # as a site receives it
        assert apply_delta(old, wire) == current
    with pytest.raises(ValueError, match="fetch the full manifest"):
        apply_delta(history[0], diff(history[1], current))
    with pytest.raises(ValueError, match="fetch the full manifest"):  # a site still on format 1
        apply_delta({**history[-2], "format": 1}, diff(history[-2], current))


def test_stitched_gzip_is_one_ordinary_gzip_member() -> None:
    content, head = "党员教育".encode() * 5000, b',"site":{"id":1},"version":2}'
    whole = content + head
    data = b"".join(
        gzip_parts([deflate_piece(content), deflate_piece(head)], crc32=zlib.crc32(whole), size=len(whole))
    )
    assert gzip.decompress(data) == whole
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)  # what HTTP clients use
    assert stream.decompress(data) == whole and stream.eof and not stream.unused_data
    assert len(data) < len(whole) / 10


def test_garbage_collection_keeps_what_some_version_points_at(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    site, headers = _site(client, db, admin, "gc", "iptv")
    kept = _manifest(client, site, headers)
    with db.session_scope() as s:
        s.add(ManifestContent(sha256="0" * 64, deflated=deflate_piece(b"{}"), raw_size=2))
    assert collect_garbage(db) == 1
    assert collect_garbage(db) == 0
    fresh = ManifestService(db, client.app.state.signing_key, epochs.EpochWatch(db))  # type: ignore[attr-defined]
    body = fresh.body(fresh.current(site, today_in_china()), gzip=False)  # from the database, not memory
    assert json.loads(b"".join(body.parts)) == kept


def test_file_lists_no_kept_version_names_are_collected(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    """A list goes when no kept version names it and its generation is no longer the asset's (a site
    may fetch any list of the versions it may hold or ask a delta from; a build may name a current
    generation's list again without reading the row, so that one stays)."""
    film, spare = ready_asset(producer, "video"), ready_asset(producer, "video")
    publish_programme(client, producer, admin, film, title="留下的节目")
    withdrawn = publish_programme(client, producer, admin, spare, title="撤下的节目")
    site, headers = _site(client, db, admin, "gc-lists", "iptv")
    named = set(list_digests(_manifest(client, site, headers)))
    assert len(named) == 2
    assert client.post(f"/api/v1/programmes/{withdrawn}/withdraw", headers=admin, json={}).status_code == 200
    now = _manifest(client, site, headers)  # the previous version, still kept, names the withdrawn one
    [current] = list_digests(now)
    with db.session_scope() as s:
        for sha, asset, generation in (("a" * 64, film, "replaced"), ("b" * 64, "gone-asset", "g1")):
            s.add(FileList(sha256=sha, asset_id=asset, generation=generation, presentation="iptv", body=b"{}",
                           size_bytes=0, file_count=0, play=f"{asset}/iptv.m3u8", poster=None))  # fmt: skip
    assert collect_file_lists(db) == 2  # the two stale lists that nothing names
    # Both of the site's lists stay: one named by its current version, the other by the kept previous
    # one (and its generation is current, so it would stay unnamed too).
    with db.session_scope() as s:
        assert set(s.scalars(select(FileList.sha256))) == named
        # The film re-transcoded (a new generation): its list is stale, but the site's kept versions
        # name it.
        s.get(Asset, film).published_generation = "newer"  # type: ignore[union-attr]
    assert collect_file_lists(db) == 0
    with db.session_scope() as s:  # the site's versions aged out: now nothing names it
        s.execute(delete(SiteManifest).where(SiteManifest.site_id == site))
    assert collect_garbage(db) >= 1
    assert collect_file_lists(db) == 1  # the withdrawn programme's list is unnamed but current: it stays
    with db.session_scope() as s:
        assert set(s.scalars(select(FileList.sha256))) == named - {current}
    assert collect_file_lists(db) == 0


def test_a_content_evicted_from_memory_is_read_back_from_the_database(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    first_site, first_headers = _site(client, db, admin, "ev-a", "iptv")
    second_site, second_headers = _site(client, db, admin, "ev-b", "iptv")
    first = _manifest(client, first_site, first_headers)
    client.app.state.manifests._contents.clear()  # type: ignore[attr-defined]  # as under memory pressure
    second = _manifest(client, second_site, second_headers)
    assert {**first, "site": None} == {**second, "site": None} and second["site"]["code"] == "ev-b"
