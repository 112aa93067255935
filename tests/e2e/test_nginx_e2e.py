"""deploy/nginx/mediasrv.conf in front of a real stack: one cached copy of each segment for every site,
whatever its credential, and the credential still checked on every request."""

from __future__ import annotations

import hashlib
import http.client
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mediasrv.accounts.signing import sign_playback, signing_key
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from mediasrv.protocol.document import list_digests
from tests.e2e.stack import Stack, ffprobe_url
from tests.mediafactory import hlscheck, make_media
from tests.nginxserver import NginxServer, NginxUnavailable, nginx_binary
from tests.servers import unavailable

pytestmark = pytest.mark.e2e

_URI = re.compile(r'URI="([^"]+)"')
OTHER = "f" * 32  # an asset id a signature is made for, not the one the tests play
VIEWER = Caller(role=Role.SITE, name="site-1", via="signed", site_id=1)


@dataclass
class Edge:
    stack: Stack
    nginx: NginxServer
    asset_id: str
    programme: str  # the published programme that holds it: sites may play it
    signed: str  # /s/<signature>/hls/<asset>/: a set-top box's prefix
    files: list[str]  # <generation>/<rendition>/<file>: every media playlist and (TS) segment
    site_a: dict[str, str]
    site_b: dict[str, str]
    used: set[str]

    def fresh(self, suffix: str) -> str:
        """A file ending in `suffix` no test has asked nginx for yet (so not in its cache)."""
        name = next(f for f in self.files if f.endswith(suffix) and f not in self.used)
        self.used.add(name)
        return name

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.get(self.nginx.url + path, headers=headers, timeout=30)


def raw_get(base: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """GET with the path sent as written ("/../" too: httpx resolves it before sending)."""
    host, _, port = base.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return httpx.Response(r.status, headers=r.getheaders(), content=r.read())
    finally:
        conn.close()


def _site_token(stack: Stack, code: str) -> dict[str, str]:
    api, admin = stack.url + "/api/v1", stack.admin
    site = httpx.post(f"{api}/sites", headers=admin, json={"code": code, "name": code}, timeout=30)
    assert site.status_code == 201, site.text
    token = httpx.post(
        f"{api}/tokens", headers=admin, json={"name": f"{code}-box", "site_id": site.json()["id"]}, timeout=30
    )
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _generation_files(stack: Stack, asset_id: str) -> list[str]:
    """Every file the masters lead to, read from the app directly (not through nginx)."""
    base = f"{stack.url}/hls/{asset_id}/"
    files: list[str] = []
    for master in ("master.m3u8", "iptv.m3u8", "iptv-sd.m3u8"):
        text = httpx.get(base + master, headers=stack.headers, timeout=30).text
        for variant in [line for line in text.splitlines() if line and not line.startswith("#")]:
            media = httpx.get(base + variant, headers=stack.headers, timeout=30).text
            folder = variant.rpartition("/")[0]
            names = [line for line in media.splitlines() if line and not line.startswith("#")]
            names += _URI.findall(media)  # an EXT-X-MAP initialisation segment
            files += [variant, *(f"{folder}/{name}" for name in names)]
    return list(dict.fromkeys(files))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    try:
        nginx_binary()
    except NginxUnavailable as exc:
        unavailable("NGINX", "edge cache", exc)
    tmp = tmp_path_factory.mktemp("e2e-nginx")
    stack = Stack(tmp / "var").start()
    nginx = NginxServer(tmp / "nginx", upstream=f"127.0.0.1:{stack.port}")
    try:
        nginx.start()
        film = make_media(tmp / "film.mp4", seconds=8, width=160, height=90)  # 2 segments a rendition
        asset = stack.wait(stack.upload(film)["id"])
        assert asset["status"] == "ready", asset["error"]
        programme = stack.publish(asset["id"], "乡村振兴 第一讲", "agri-tech")
        master = stack.play(asset)["master"].removeprefix(stack.url)
        signed = master.removesuffix("master.m3u8")
        assert signed.startswith("/s/") and signed.endswith(f"/hls/{asset['id']}/"), master
        files = _generation_files(stack, asset["id"])
        a, b = _site_token(stack, "edge-a"), _site_token(stack, "edge-b")
        yield Edge(stack, nginx, asset["id"], programme, signed, files, a, b, set())
    finally:
        nginx.stop()
        stack.stop()


def test_sites_with_different_tokens_share_one_copy(edge: Edge) -> None:
    path = f"/hls/{edge.asset_id}/{edge.fresh('.ts')}"
    first = edge.get(path, edge.site_a)
    again = edge.get(path, edge.site_a)
    other = edge.get(path, edge.site_b)
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200], edge.nginx.log_tail()
    assert [r.headers["x-cache-status"] for r in (first, again, other)] == ["MISS", "HIT", "HIT"]
    direct = httpx.get(edge.stack.url + path, headers=edge.site_a, timeout=30)
    assert first.content == again.content == other.content == direct.content
    assert other.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.headers["x-request-id"] != other.headers["x-request-id"]  # not the filler's id


def test_media_playlists_are_one_copy_whatever_the_encoding(edge: Edge) -> None:
    path = f"/hls/{edge.asset_id}/{edge.fresh('.m3u8')}"
    gzipped = edge.get(path, {**edge.site_a, "Accept-Encoding": "gzip"})
    plain = edge.get(path, {**edge.site_b, "Accept-Encoding": "identity"})
    assert (gzipped.headers["x-cache-status"], plain.headers["x-cache-status"]) == ("MISS", "HIT")
    assert gzipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzipped.text == plain.text and plain.text.startswith("#EXTM3U")


def test_signed_and_bearer_paths_share_the_entry(edge: Edge) -> None:
    name = edge.fresh(".m3u8")
    signed = edge.get(edge.signed + name)  # a set-top box: no header at all
    bearer = edge.get(f"/hls/{edge.asset_id}/{name}", edge.site_b)
    assert (signed.status_code, bearer.status_code) == (200, 200), edge.nginx.log_tail()
    assert (signed.headers["x-cache-status"], bearer.headers["x-cache-status"]) == ("MISS", "HIT")
    assert signed.content == bearer.content


def test_credentials_are_checked_on_cache_hits(edge: Edge) -> None:
    name = edge.fresh(".ts")
    bearer, signed = f"/hls/{edge.asset_id}/{name}", edge.signed + name
    assert [edge.get(bearer, edge.site_a).headers["x-cache-status"] for _ in "12"] == ["MISS", "HIT"]
    _subject, expires, mac = edge.signed.split("/")[2].split(".")
    settings = Settings(data_dir=edge.stack.data_dir)
    db = Database(settings.resolved_database_url)
    try:
        key = signing_key(settings, db)  # the stack's: a genuine signature
    finally:
        db.dispose()
    other = sign_playback(key, caller=VIEWER, asset_id=OTHER, expires=int(expires), generation=0)
    expired = sign_playback(
        key, caller=VIEWER, asset_id=edge.asset_id, expires=int(time.time()) - 60, generation=0
    )
    refused = {
        "no token": (bearer, {}),
        "unknown token": (bearer, {"Authorization": "Bearer not-a-token"}),
        "forged signature": (signed.replace(mac, "A" * len(mac)), {}),
        "expired signature": (f"/s/{expired}/hls/{edge.asset_id}/{name}", {}),
        "another asset's signature": (f"/s/{other}/hls/{edge.asset_id}/{name}", {}),
        # nginx resolves "..": judged, keyed and fetched as /s/<other>/hls/<asset>/..., refused.
        "a smuggled signature": (f"/s/{other}/hls/{OTHER}/../{edge.asset_id}/{name}", {}),
        "a token on a signed path": (signed.replace(mac, "A" * len(mac)), edge.site_a),
    }
    for why, (path, headers) in refused.items():
        response = raw_get(edge.nginx.url, path, headers)
        direct = httpx.get(edge.stack.url + path, headers=headers, timeout=30)  # ".." resolved
        # As the app itself refuses it, with its own answer; none of the cached bytes.
        assert response.status_code == direct.status_code == 401, why
        assert response.json() == direct.json(), why
        assert "x-cache-status" not in response.headers, why


def test_ranges_are_cut_from_the_cached_file(edge: Edge) -> None:
    path = f"/hls/{edge.asset_id}/{edge.fresh('.ts')}"
    whole = httpx.get(edge.stack.url + path, headers=edge.site_a, timeout=30).content
    ranged = {"Range": "bytes=100-1099"}
    miss = edge.get(path, {**edge.site_a, **ranged})
    hit = edge.get(path, {**edge.site_b, **ranged})
    suffix = edge.get(path, {**edge.site_b, "Range": "bytes=-50"})
    assert (miss.headers["x-cache-status"], hit.headers["x-cache-status"]) == ("MISS", "HIT")
    for r in (miss, hit):
        assert r.status_code == 206, r.headers
        assert r.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
        assert r.content == whole[100:1100]
    assert suffix.status_code == 206 and suffix.content == whole[-50:]
    full = edge.get(path, edge.site_a)  # the miss stored the whole file, not the range asked for
    assert (full.status_code, full.headers["x-cache-status"]) == (200, "HIT") and full.content == whole


def test_masters_pass_through_and_play(edge: Edge) -> None:
    master = f"/hls/{edge.asset_id}/master.m3u8"
    for _ in range(2):
        r = edge.get(master, edge.site_a)
        assert r.status_code == 200 and "x-cache-status" not in r.headers  # never cached: it changes
        assert r.headers["cache-control"] == "private, max-age=10"
    assert edge.get(master).status_code == 401
    token = edge.site_a["Authorization"]
    hlscheck(edge.nginx.url + master, "--header", f"Authorization: {token}")
    streams = ffprobe_url(edge.nginx.url + edge.signed + "master.m3u8")
    assert {s["codec_type"] for s in streams} == {"video", "audio"}


def test_everything_else_goes_to_the_app(edge: Edge, tmp_path: Path) -> None:
    ready = edge.get("/readyz")
    assert ready.status_code == 200 and "x-cache-status" not in ready.headers
    assert edge.get("/readyz", {"X-Request-ID": "edge-probe-1"}).headers["x-request-id"] == "edge-probe-1"
    recording = make_media(tmp_path / "lecture.m4a", seconds=2)
    with recording.open("rb") as f:  # an upload streams through (no nginx limit on uploads)
        r = httpx.post(
            edge.nginx.url + "/api/v1/assets",
            headers=edge.stack.headers,
            files={"file": (recording.name, f)},
            timeout=60,
        )
    assert r.status_code == 201, r.text


def test_bodies_are_limited_per_location_and_never_spooled_by_nginx(edge: Edge) -> None:
    """Small bodies everywhere but where files are uploaded; a stranger's large upload streams to
    the app, which refuses it unread, and nginx never writes it to its disk."""
    url, mib = edge.nginx.url, 1024 * 1024
    big_json = b'{"title": "' + b"x" * (3 * mib) + b'"}'
    json_type = {"Content-Type": "application/json"}
    r = httpx.post(
        url + "/api/v1/programmes", headers={**edge.stack.headers, **json_type}, content=big_json, timeout=60
    )
    # nginx's own refusal (over its 2 MiB), in the app's shape: the app never saw those bytes.
    assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text
    assert r.json()["code"] == "delivery.edge_body_too_large" and "本服务器" in r.json()["message"]
    assert "this server's limit" in r.json()["message"] and r.headers["x-content-type-options"] == "nosniff"
    r = httpx.post(url + "/auth/login", files={"username": ("a", b"x" * (40 * mib))}, timeout=60)
    assert r.status_code == 413 and "this server's limit" in r.json()["message"], r.text
    # Within the photo's limit (over nginx's default): it streams to the app, which says 401.
    photo = {"file": ("a.jpg", b"\xff" * (8 * mib), "image/jpeg")}
    r = httpx.post(url + "/api/v1/sites/1/sessions/s1/photos", files=photo, timeout=60)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    assert "buffered to a temporary file" not in edge.nginx.log_tail(100_000)


def test_the_access_check_is_not_reachable_from_outside(edge: Edge) -> None:
    """Asked directly, it would count a segment the caller never fetched as viewing evidence."""
    forged = {
        **edge.site_a,
        "X-Original-URI": f"/hls/{edge.asset_id}/{edge.files[1]}",
        "X-Original-Method": "GET",
    }
    assert edge.get("/api/v1/edge/hls-access", forged).status_code == 404
    assert (
        httpx.get(edge.stack.url + "/api/v1/edge/hls-access", headers=forged, timeout=30).status_code == 204
    )


def test_cache_hits_are_viewing_evidence(edge: Edge) -> None:
    """A segment nginx serves from its cache never reaches /hls; the access check counts it."""
    programme = edge.programme
    path = f"/hls/{edge.asset_id}/{edge.fresh('.ts')}"
    tv = {"User-Agent": "Mozilla/5.0 (Linux; IPTV STB)"}
    site_c = _site_token(edge.stack, "edge-c")  # a site no other test played anything for
    assert edge.get(path, {**edge.site_a, **tv}).headers["x-cache-status"] == "MISS"
    assert edge.get(path, {**site_c, **tv}).headers["x-cache-status"] == "HIT"
    sites = httpx.get(f"{edge.stack.url}/api/v1/sites", headers=edge.stack.admin, timeout=30).json()
    site_id = next(s["id"] for s in sites if s["code"] == "edge-c")
    url = f"{edge.stack.url}/api/v1/sites/{site_id}/viewing"
    deadline = time.monotonic() + 60  # the API process writes what it counted every 10 s
    rows: list[dict[str, object]] = []
    while not rows and time.monotonic() < deadline:
        time.sleep(1)
        rows = httpx.get(url, headers=edge.stack.admin, timeout=30).json()
    assert [(r["programme_id"], r["source"], r["players"]) for r in rows] == [(programme, "central", 1)]


def test_a_withdrawn_programme_stops_playing_from_the_cache(edge: Edge) -> None:
    """nginx asks the app on every hit, and the app answers from its playback scope: withdrawing a
    programme stops its cached copy for sites at once, through tokens and old signed links alike,
    while its own department still plays it. (Last: it withdraws the module's programme.)"""
    api, admin = f"{edge.stack.url}/api/v1", edge.stack.admin
    links = httpx.get(f"{api}/assets/{edge.asset_id}/playback", headers=edge.site_a, timeout=30).json()
    site_signed = links["master"].removesuffix("master.m3u8")
    assert site_signed.startswith("/s/site-"), links
    name = edge.fresh(".ts")
    bearer, signed = f"/hls/{edge.asset_id}/{name}", site_signed + name
    assert [edge.get(bearer, edge.site_a).headers["x-cache-status"] for _ in "12"] == ["MISS", "HIT"]
    assert edge.get(signed).status_code == 200
    r = httpx.post(
        f"{api}/programmes/{edge.programme}/withdraw", headers=admin, json={"reason": "内容需更新"}
    )
    assert r.status_code == 200, r.text
    try:
        for path, headers in ((bearer, edge.site_b), (signed, {})):
            refused = edge.get(path, headers)
            assert refused.status_code == 404, (path, refused.status_code)  # the app's own answer
            assert (
                refused.json()["code"] == "delivery.not_in_scope"
                and "不在已发布的节目中" in refused.json()["message"]
            )
            assert "x-cache-status" not in refused.headers  # none of the cached bytes
        mine = edge.get(bearer, edge.stack.headers)  # the producer's department owns the asset
        assert (mine.status_code, mine.headers["x-cache-status"]) == (200, "HIT")
    finally:
        httpx.post(f"{api}/programmes/{edge.programme}/publish", headers=admin, timeout=30)


def test_file_lists_pass_through_uncached_and_private(edge: Edge) -> None:
    """A file list is the caller's alone (deploy/nginx/mediasrv.conf says why nginx keeps none): each
    request reaches the app, which checks the credential; the answer tells shared caches to keep out."""
    sites = httpx.get(f"{edge.nginx.url}/api/v1/sites", headers=edge.stack.admin, timeout=30).json()
    site = next(s["id"] for s in sites if s["code"] == "edge-a")
    manifest = edge.get(f"/api/v1/sites/{site}/manifest", edge.site_a)
    assert manifest.status_code == 200, manifest.text
    digest = list_digests(manifest.json())[0]
    path = f"/api/v1/file-lists/{digest}"
    first, again = edge.get(path, edge.site_a), edge.get(path, edge.site_a)
    assert [first.status_code, again.status_code] == [200, 200], edge.nginx.log_tail()
    assert first.content == again.content and hashlib.sha256(first.content).hexdigest() == digest
    assert again.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert "x-cache-status" not in again.headers
    assert edge.get(path).status_code == 401  # asked again without credentials: refused, not a copy
