"""The site's local origin (`mediasrv-site serve`): boxes on the LAN play the cached copy."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.accounts.models import Role
from mediasrv.agent.layout import Layout
from mediasrv.agent.serve import create_app
from mediasrv.db import Database
from tests.e2e.stack import free_port
from tests.fixtures import ReadyAsset, make_token, publish_programme
from tests.mediafactory import hlscheck


@dataclass
class ServedSite:
    """A site of the in-process server and everything its manifest lists."""

    id: int
    code: str
    headers: dict[str, str]
    raw: bytes  # the manifest's exact bytes
    signature: str
    doc: dict[str, Any]
    required: str  # programme ids
    optional: str


def make_site(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    code: str = "xitang",
) -> ServedSite:
    """Two films (one required, with a PDF handout; one optional) and an iptv site named 西塘村."""
    optional = publish_programme(
        client, producer, admin, ready_asset(producer, "video"), title="乡村  振兴\n战略"
    )
    handout = ready_asset(producer, "pdf")
    required = publish_programme(
        client,
        producer,
        admin,
        ready_asset(producer, "video"),
        title="党的二十大精神",
        attachment_ids=[handout],
    )
    today = date.today().isoformat()
    study = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [required]},
    ).json()
    assert client.post(f"/api/v1/study-lists/{study['id']}/publish", headers=admin).status_code == 200
    headers = make_token(db, Role.SITE, code)
    site_id = next(s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    patch = {"device_profile": "iptv", "name": "西塘村"}
    assert client.patch(f"/api/v1/sites/{site_id}", headers=admin, json=patch).status_code == 200
    r = client.get(f"/api/v1/sites/{site_id}/manifest", headers=headers)
    assert r.status_code == 200, r.text
    return ServedSite(
        site_id, code, headers, r.content, r.headers["x-manifest-signature"], r.json(), required, optional
    )


def mirror(client: TestClient, site: ServedSite, layout: Layout) -> None:
    """What a network sync ends with: every listed file fetched from its URL, the manifest adopted."""
    layout.ensure()
    for f in site.doc["files"]:
        got = client.get(f["url"], headers=site.headers)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == f["sha256"], f["path"]
        layout.file(f["path"]).parent.mkdir(parents=True, exist_ok=True)
        layout.file(f["path"]).write_bytes(got.content)
    assert layout.adopt(json.loads(site.raw)) == site.raw


@pytest.fixture
def site(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> ServedSite:
    return make_site(client, db, producer, admin, ready_asset)


@pytest.fixture
def layout(client: TestClient, site: ServedSite, tmp_path: Path) -> Layout:
    cache = Layout(tmp_path / "mediasrv-site")
    mirror(client, site, cache)
    return cache


@pytest.fixture
def local(layout: Layout) -> Iterator[LocalClient]:
    # The box reached the site's PC at this address: the playlist must point back at it.
    with LocalClient(create_app(layout), base_url="http://192.168.1.20:8080") as c:
        yield c


def channels(text: str) -> list[tuple[str, str]]:
    """(#EXTINF line, URL) pairs of an M3U8 channel list."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    return list(zip(lines[1::2], lines[2::2], strict=True))


def test_playlist_lists_local_urls_required_first(local: LocalClient, site: ServedSite) -> None:
    r = local.get("/playlist.m3u8")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    by_id = {p["id"]: p for p in site.doc["programmes"]}
    listed = channels(r.text)
    assert [ext.split('tvg-id="')[1].split('"')[0] for ext, _ in listed] == [site.required, site.optional]
    (first, first_url), (second, second_url) = listed
    assert 'group-title="必学"' in first and first.endswith(",党的二十大精神")
    assert 'group-title="选学"' in second and second.endswith(",乡村 振兴 战略")  # one line
    assert first_url == "http://192.168.1.20:8080/files/" + by_id[site.required]["play"]
    assert second_url == "http://192.168.1.20:8080/files/" + by_id[site.optional]["play"]
    duration = round(by_id[site.required]["duration_seconds"])
    poster = by_id[site.required]["poster"]
    assert (
        first.startswith(f"#EXTINF:{duration} ")
        and f'tvg-logo="http://192.168.1.20:8080/files/{poster}"' in first
    )

    # Built from the Host the box used, whatever name or address that was.
    other = local.get("/playlist.m3u8", headers={"Host": "jiaoxue.lan:8080"})
    assert all(url.startswith("http://jiaoxue.lan:8080/files/") for _, url in channels(other.text))
    assert local.get("/playlist.m3u8", headers={"If-None-Match": r.headers["etag"]}).status_code == 304

    as_json = local.get("/playlist.json").json()
    assert as_json["version"] == site.doc["version"] and as_json["site"]["name"] == "西塘村"
    [required, optional] = as_json["programmes"]
    assert (required["title"], required["group"], required["url"]) == ("党的二十大精神", "必学", first_url)
    assert required["attachments"] == [
        f"http://192.168.1.20:8080/files/{by_id[site.required]['attachments'][0]}"
    ]
    assert optional["title"] == "乡村  振兴\n战略" and optional["group"] == "选学"


def test_files_are_served_with_range_etag_and_types(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    files = {f["path"]: f for f in site.doc["files"]}
    segment = next(f for p, f in files.items() if p.endswith(".ts"))
    data = layout.file(segment["path"]).read_bytes()

    whole = local.get(f"/files/{segment['path']}")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp2t" and whole.headers["etag"] == f'"{segment["sha256"]}"'
    assert "immutable" in whole.headers["cache-control"] and whole.headers["accept-ranges"] == "bytes"

    part = local.get(f"/files/{segment['path']}", headers={"Range": "bytes=188-375"})
    assert part.status_code == 206 and part.content == data[188:376]
    assert part.headers["content-range"] == f"bytes 188-375/{len(data)}"
    tail = local.get(f"/files/{segment['path']}", headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    beyond = local.get(f"/files/{segment['path']}", headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"

    head = local.head(f"/files/{segment['path']}")
    assert (
        head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))
    )
    again = local.get(f"/files/{segment['path']}", headers={"If-None-Match": whole.headers["etag"]})
    assert again.status_code == 304

    expected = {".m3u8": "application/vnd.apple.mpegurl", ".jpg": "image/jpeg", ".pdf": "application/pdf"}
    for suffix, content_type in expected.items():
        path = next(p for p in files if p.endswith(suffix))
        r = local.get(f"/files/{path}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(content_type), path
        assert hashlib.sha256(r.content).hexdigest() == files[path]["sha256"]
    master = next(p["play"] for p in site.doc["programmes"])
    assert (
        local.get(f"/files/{master}").headers["cache-control"] == "no-cache"
    )  # changes with a new generation


def test_only_manifest_files_are_served(local: LocalClient, layout: Layout, site: ServedSite) -> None:
    asset = site.doc["programmes"][0]["asset_id"]
    (layout.files / "stray.ts").write_bytes(b"not listed")  # on disk, but not in the manifest
    for path in (
        "stray.ts",
        f"{asset}/master.m3u8",
        "%2e%2e/manifest.json",
        "..%2fagent.json",
        "%2Fetc%2Fpasswd",
    ):
        r = local.get(f"/files/{path}")
        assert r.status_code == 404, path
    assert local.get("/manifest.json").status_code == 404
    assert local.get("/agent.json").status_code == 404

    # Listed but not on disk yet (a sync still fetching it): not a 404 that would look final.
    listed = next(f["path"] for f in site.doc["files"] if f["path"].endswith(".ts"))
    layout.file(listed).unlink()
    missing = local.get(f"/files/{listed}")
    assert missing.status_code == 503 and "mediasrv-site sync" in missing.text


def test_status_page_and_a_replaced_manifest(local: LocalClient, layout: Layout, site: ServedSite) -> None:
    page = local.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert (
        "西塘村" in page.text
        and "党的二十大精神" in page.text
        and "http://192.168.1.20:8080/playlist.m3u8" in page.text
    )
    facts = local.get("/", headers={"Accept": "application/json"}).json()
    assert facts["site"]["name"] == "西塘村" and facts["version"] == site.doc["version"]
    assert (facts["programmes"], facts["required"], facts["missing_files"]) == (2, 1, 0)
    assert facts["bytes"] == site.doc["bytes"] == sum(f["size"] for f in site.doc["files"])

    # A sync adopts a new manifest: the running origin follows it without a restart.
    doc = json.loads(site.raw)
    doc["programmes"] = [p for p in doc["programmes"] if p["required"]]
    doc["version"] += 1
    layout.adopt(doc)
    assert [url for _, url in channels(local.get("/playlist.m3u8").text)] == [
        "http://192.168.1.20:8080/files/" + doc["programmes"][0]["play"]
    ]
    assert local.get("/", headers={"Accept": "application/json"}).json()["version"] == doc["version"]


def test_a_fresh_site_says_what_to_do(tmp_path: Path) -> None:
    with LocalClient(create_app(Layout(tmp_path / "empty"))) as c:
        assert "mediasrv-site import" in c.get("/").text
        r = c.get("/playlist.m3u8")
        assert r.status_code == 503 and "mediasrv-site sync" in r.text
        assert c.get("/files/a/b.ts").status_code == 404


@pytest.fixture
def http_origin(layout: Layout) -> Iterator[str]:
    """The local origin on a real loopback port, as boxes reach it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(layout), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the local origin did not start")
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_the_local_presentation_plays_over_http(http_origin: str) -> None:
    import httpx

    playlist = httpx.get(f"{http_origin}/playlist.m3u8", timeout=30)
    urls = [url for _, url in channels(playlist.text)]
    assert urls and all(url.startswith(f"{http_origin}/files/") for url in urls)
    hlscheck(urls[0])  # master, media playlists and segments all come from the site's copy
