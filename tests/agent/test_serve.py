"""The site's local origin (`mediasrv-site serve`): boxes on the LAN play the cached copy."""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.agent import player
from mediasrv.agent.layout import AgentConfig, Layout
from mediasrv.agent.serve import CHUNK, _FileStream, _read, create_app
from mediasrv.agent.sync import USER_AGENT, Syncer
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import list_digests, list_url, site_files
from mediasrv.protocol.sizes import PLAIN, human_size
from tests.e2e.stack import free_port
from tests.fixtures import ReadyAsset, make_token, publish_programme
from tests.mediafactory import hlscheck
from tests.vlc import play


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
    lists: dict[str, bytes]  # the file lists the manifest names, their exact bytes

    @property
    def files(self) -> list[dict[str, Any]]:
        """Every file the manifest asks for, through its lists."""
        return site_files(self.doc, {sha: json.loads(raw) for sha, raw in self.lists.items()})


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
    today = today_in_china().isoformat()
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
    lists = {sha: client.get(list_url(sha), headers=headers).content for sha in list_digests(r.json())}
    return ServedSite(
        site_id,
        code,
        headers,
        r.content,
        r.headers["x-manifest-signature"],
        r.json(),
        required,
        optional,
        lists,
    )


def mirror(client: TestClient, site: ServedSite, layout: Layout) -> None:
    """What a network sync ends with: every listed file fetched from its URL, the manifest adopted."""
    layout.ensure()
    for sha, raw in site.lists.items():
        layout.save_list(sha, raw)
    for f in site.files:
        # As the agent asks (its User-Agent): a download for the cache is not viewing at the centre.
        got = client.get(f["url"], headers={**site.headers, "User-Agent": USER_AGENT})
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
    """(#EXTINF line, URL) pairs of the programmes of the site's M3U8 channel list: after its
    header, which names the guide, and the site's own channel, which comes first when it has
    something to play (tests/agent/test_channel.py)."""
    lines = text.splitlines()
    assert lines[0].startswith('#EXTM3U url-tvg="http') and lines[0].endswith('/epg.xml"'), lines[0]
    pairs = list(zip(lines[1::2], lines[2::2], strict=True))
    if pairs and pairs[0][1].endswith("/channel.m3u8"):
        assert pairs[0][0].endswith(",本站频道") and 'group-title="本站频道"' in pairs[0][0]
        return pairs[1:]
    return pairs


def test_playlist_lists_local_urls_required_first(local: LocalClient, site: ServedSite) -> None:
    r = local.get("/playlist.m3u8")
    # A list of programmes, not an HLS playlist: VLC reads this type with its playlist module.
    assert r.status_code == 200 and r.headers["content-type"] == "audio/x-mpegurl"
    by_id = {p["id"]: p for p in site.doc["programmes"]}
    assert r.text.splitlines()[2] == "http://192.168.1.20:8080/channel.m3u8"  # the site's channel first
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
    files = {f["path"]: f for f in site.files}
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
    listed = next(f["path"] for f in site.files if f["path"].endswith(".ts"))
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
    assert facts["bytes"] == site.doc["bytes"] == sum(f["size"] for f in site.files)

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
    playlist = httpx.get(f"{http_origin}/playlist.m3u8", timeout=30)
    urls = [url for _, url in channels(playlist.text)]
    assert urls and all(url.startswith(f"{http_origin}/files/") for url in urls)
    hlscheck(urls[0])  # master, media playlists and segments all come from the site's copy


def test_a_file_is_closed_when_its_response_is_dropped_before_its_body(tmp_path: Path) -> None:
    """A box that hangs up before its body begins: the response's iterator is dropped unstarted, and
    the segment's file must close then, not when the garbage collector finds it (a ResourceWarning
    in the CI log, and a descriptor held on a village PC)."""
    segment = tmp_path / "seg_00000.ts"
    segment.write_bytes(b"x" * 1000)
    f = segment.open("rb")
    body = _read(f, 10, 100)
    del body
    assert f.closed
    f = segment.open("rb")
    assert b"".join(_read(f, 10, 100)) == b"x" * 100 and f.closed


def test_a_file_is_closed_when_its_response_is_cancelled_mid_body(tmp_path: Path) -> None:
    """A box that stopped reading mid-segment while the origin shuts down (or its connection task is
    cancelled): the response ends cancelled, and the segment's file closes then, while the response
    and its half-read iterator are still alive. Starlette leaves a sync body iterator it was reading
    in a thread unclosed, and the garbage collector may finalise the file first (a ResourceWarning in
    a clean CI run, after `hlscheck` against the local origin)."""
    import anyio

    segment = tmp_path / "seg_00000.ts"
    segment.write_bytes(b"x" * (30 * CHUNK))
    f = segment.open("rb")
    response = _FileStream(f, 0, 30 * CHUNK, status_code=200, media_type="video/mp2t")
    started = anyio.Event()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        return {}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            started.set()
            await anyio.sleep_forever()  # the box stopped reading

    async def serve() -> None:
        scope = {"type": "http", "asgi": {"spec_version": "2.3"}, "method": "GET", "path": "/"}
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(response, scope, receive, send)
            await started.wait()
            tasks.cancel_scope.cancel()  # the server shutting down

    anyio.run(serve)
    assert f.closed and response.body_iterator is not None  # closed with the response still held


def test_vlc_plays_the_first_entry_of_the_local_channel_list(http_origin: str) -> None:
    """Debian's VLC on a village PC or box opens the site's channel list, no header, and plays its
    first entry, the site's own channel (live: still playing when stopped), from the site's own copy
    (the HLS type made VLC find nothing to play)."""
    played = play(f"{http_origin}/playlist.m3u8", seconds=20)
    assert played.opened(f"{http_origin}/channel.m3u8"), played.log[-4000:]
    assert played.segments and all(s.startswith(f"{http_origin}/files/") for s in played.segments)
    assert played.decoders == {"video", "audio"}, played.log[-4000:]


# --- the site view (GET /, mediasrv.agent.page) ------------------------------------------------------


def verdict_of(html: str) -> str:
    return html.split('data-verdict="')[1].split('"')[0]


def test_site_view_shows_required_then_optional_and_a_complete_site(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    state = layout.load_state()
    state.last_complete = "2026-03-01T18:30:00+00:00"  # after 16:00 UTC it is the next day in Beijing
    state.last_sync = {"complete": True, "finished_at": "2026-03-01T18:30:00+00:00"}
    layout.save_state(state)
    by_id = {p["id"]: p for p in site.doc["programmes"]}
    required, optional = by_id[site.required], by_id[site.optional]

    text = local.get("/").text
    assert verdict_of(text) == "complete" and ">完整</strong>" in text and "断网也能播放" in text
    assert "西塘村" in text and "（xitang）" in text
    files = len(site.files)
    assert f"<dd>{files} / {files}</dd>" in text and "<dd>0 B</dd>" in text  # present / listed, missing
    assert "<dd>2026-03-02 02:30（北京时间）</dd>" in text and "2026-03-02 02:30（北京时间） 成功" in text
    # Required first under its own heading, then optional; each with its poster, length, category
    # and handout, every URL relative to this origin (it works under any name the PC is reached by).
    # (The site's channel comes before them: tests/agent/test_channel.py.)
    first_card = text.index(f'data-programme-id="{site.required}"')
    assert text.index(">今日必学</h2>") < first_card < text.index(">选学</h2>")
    assert text.index(">选学</h2>") < text.index(
        "乡村 振兴 战略", first_card
    )  # one line, however it was typed
    card = text.split(f'data-programme-id="{site.required}"')[1].split("</li>")[0]
    assert f'data-src="/files/{required["play"]}"' in card
    assert f'<img src="/files/{required["poster"]}"' in card
    seconds = round(required["duration_seconds"])  # a short test film: under a minute
    assert seconds < 60 and f'<span class="duration">0:{seconds:02d}</span>' in card
    assert f'href="/files/{required["attachments"][0]}"' in card and "讲义 1（PDF）" in card
    assert f'data-src="/files/{optional["play"]}"' in text
    assert '<script src="/static/site.js" defer></script>' in text.replace("'", '"')

    english = local.get("/?lang=en").text
    assert "<html lang='en'>" in english and ">Complete</strong>" in english
    assert ">Required today</h2>" in english and "Handout 1 (PDF)" in english
    assert "2026-03-02 02:30 (Beijing time)" in english and "href='?lang=zh'" in english

    # JSON stays what it was, with the verdict beside it.
    facts = local.get("/", headers={"Accept": "application/json"}).json()
    assert facts["verdict"] == "complete" and facts["missing_files"] == 0
    assert facts["last_complete"] == "2026-03-01T18:30:00+00:00"
    # The open page polls this JSON and reloads when it differs from what the page shows (site.js
    # compares JSON.stringify([verdict, version, missing_files])): unchanged, they must be equal.
    shown = [facts["verdict"], facts["version"], facts["missing_files"]]
    assert f'data-state="{html.escape(json.dumps(shown, separators=(",", ":")))}"' in text


def test_site_view_says_which_files_are_missing_and_what_to_do(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    by_id = {p["id"]: p for p in site.doc["programmes"]}
    gone = layout.file(by_id[site.required]["play"])  # the required programme cannot play now
    size = gone.stat().st_size
    gone.unlink()
    text = local.get("/").text
    assert verdict_of(text) == "missing" and ">缺少文件</strong>" in text
    assert f"还缺 1 个文件（{size:,.0f} B）" in text and "mediasrv-site sync" in text
    files = len(site.files)
    assert f"<dd>{files - 1} / {files}</dd>" in text
    assert site.required not in text and "今天没有必学节目" in text  # listed only once playable
    assert "另有 1 个节目还在下载" in text

    # A sync running now (it holds the directory's lock): the page says so instead.
    with layout.lock():
        assert verdict_of(local.get("/").text) == "syncing"
        assert local.get("/", headers={"Accept": "application/json"}).json()["verdict"] == "syncing"
    assert verdict_of(local.get("/").text) == "missing"


def test_site_view_reports_a_newer_manifest_the_last_sync_could_not_finish(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    state = layout.load_state()
    state.last_sync = {
        "complete": False,
        "target_version": site.doc["version"] + 1,
        "files_missing": 3,
        "bytes_missing": 5 * 2**20,
        "error": "http://edu.example.cn did not answer <GET> after 6 attempts",
        "finished_at": "2026-03-01T08:00:00+08:00",
    }
    layout.save_state(state)
    text = local.get("/").text
    assert verdict_of(text) == "missing"
    assert f"新的节目单（版本 {site.doc['version'] + 1}）还缺 3 个文件（5.0 MB）" in text
    assert "上次完整同步</dt><dd>从未</dd>" in text
    # A sync of an agent before agent.words kept no problem: a general sentence, the reason as 详情.
    assert "2026-03-01 08:00（北京时间） 失败：同步没有完成：请联系县里" in text
    assert "<dt>详情</dt><dd>http://edu.example.cn did not answer &lt;GET&gt; after 6 attempts</dd>" in text


def test_with_the_line_down_the_site_view_says_so_in_chinese_and_keeps_the_detail_apart(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    layout.save_config(
        AgentConfig(server="http://127.0.0.1:9", site_id=site.id, site_code=site.code, public_key="k")
    )

    def line_down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    line = httpx.Client(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(line_down))
    result = Syncer(layout, line, attempts=2, sleep=lambda _: None).sync()
    assert result.problem == "unreachable" and result.error and "ConnectError" in result.error
    text = local.get("/").text
    said = text.split("上次同步</dt><dd>")[1].split("</dd>")[0]
    assert said.endswith("失败：暂时连不上县里的服务器，会自动重试；本机节目照常播放。"), said
    assert "ConnectError" not in said and "did not answer" not in said  # the headline is for people
    assert "ConnectError" in text.split("<dt>详情</dt><dd>")[1].split("</dd>")[0]  # for the technicians
    english = local.get("/?lang=en").text
    assert "failed: The county server cannot be reached for now" in english


@pytest.mark.parametrize(
    ("status", "problem", "says"),
    [
        (401, "token", "请联系县里重新发放站点令牌"),
        (403, "token", "请联系县里重新发放站点令牌"),
        (503, "unreachable", "暂时连不上县里的服务器"),
    ],
)
def test_a_refused_or_failing_manifest_says_what_the_site_administrator_can_do(
    local: LocalClient, layout: Layout, site: ServedSite, status: int, problem: str, says: str
) -> None:
    layout.save_config(
        AgentConfig(server="http://edu.example.cn", site_id=site.id, site_code=site.code, public_key="k")
    )
    answer = {"error": "unauthorized", "message": "令牌无效。", "code": "x", "params": {}}
    line = httpx.Client(
        base_url="http://edu.example.cn",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=answer)),
    )
    result = Syncer(layout, line, attempts=2, sleep=lambda _: None).sync()
    assert result.problem == problem
    said = local.get("/").text.split("上次同步</dt><dd>")[1].split("</dd>")[0]
    assert "失败：" in said and says in said, said


def test_site_view_lists_what_the_manifest_left_out_and_what_to_do(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    tmp_path: Path,
) -> None:
    whole = make_site(client, db, producer, admin, ready_asset)
    quota = whole.doc["pinned_bytes"] + 1  # the required programme and a byte: the optional one is left out
    r = client.patch(f"/api/v1/sites/{whole.id}", headers=admin, json={"quota_bytes": quota})
    assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/sites/{whole.id}/manifest", headers=whole.headers)
    lists = {sha: client.get(list_url(sha), headers=whole.headers).content for sha in list_digests(r.json())}
    site = replace(
        whole, raw=r.content, signature=r.headers["x-manifest-signature"], doc=r.json(), lists=lists
    )
    layout = Layout(tmp_path / "mediasrv-site")
    mirror(client, site, layout)
    [entry] = site.doc["dropped"]
    assert entry["id"] == site.optional and entry["code"] == "over_quota"

    with LocalClient(create_app(layout), base_url="http://192.168.1.20:8080") as local:
        text = local.get("/").text
        english = local.get("/?lang=en").text
    need, whole_quota = human_size(entry["need"], PLAIN), human_size(quota, PLAIN)
    listed = text.split("<h2 id='left-out-heading'>未下载的节目</h2>")[1].split("</section>")[0]
    assert f"《乡村 振兴 战略》未下载：超出存储配额，还需 {need}，剩余 1 B（共 {whole_quota}）" in listed
    assert "请联系县里调高本站点的存储配额" in listed and f"data-programme-id='{site.optional}'" in listed
    assert "“乡村 振兴 战略” is not downloaded: over the storage quota" in english
    assert "Programmes not downloaded" in english

    # Nothing left out, nothing said; a title from the manifest is escaped like every other.
    doc = json.loads(site.raw)
    doc["version"] += 1
    doc["dropped"][0]["title"] = "<script>alert(1)</script>"
    layout.adopt(doc)
    with LocalClient(create_app(layout), base_url="http://192.168.1.20:8080") as local:
        text = local.get("/").text
        assert "<script>alert" not in text and "《&lt;script&gt;alert(1)&lt;/script&gt;》未下载" in text
        doc["version"] += 1
        doc["dropped"] = []
        layout.adopt(doc)
        assert "未下载的节目" not in local.get("/").text


def test_site_view_escapes_titles_from_the_manifest(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    doc = json.loads(site.raw)
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    for p in doc["programmes"]:
        p["title"] = hostile
    doc["site"]["name"] = "<b>西塘村</b>"
    doc["version"] += 1
    layout.adopt(doc)
    text = local.get("/").text
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>西塘村" not in text
    assert 'data-title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;' in text
    assert "&lt;b&gt;西塘村&lt;/b&gt;" in text


def test_a_fresh_site_view_names_the_site_and_says_how_to_start(tmp_path: Path) -> None:
    cache = Layout(tmp_path / "site")
    cache.save_config(
        AgentConfig(server="http://edu.example.cn", site_id=7, site_code="sg-07", public_key="k")
    )
    with LocalClient(create_app(cache)) as c:
        text = c.get("/").text
    assert verdict_of(text) == "none" and ">尚未同步</strong>" in text and "（sg-07）" in text
    assert "mediasrv-site sync" in text and "mediasrv-site import" in text and "今日必学" not in text
    assert 'data-state="[&quot;none&quot;,null,null]"' in text  # as site.js writes the JSON facts


def test_static_files_are_a_fixed_list_and_hls_js_only_when_installed(
    local: LocalClient, layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    js = local.get("/static/site.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text
    assert local.get("/static/site.css").headers["content-type"].startswith("text/css")
    for name in ("app.js", "../serve.py", "%2e%2e/page.py", "vendor/hls.js.LICENSE", "site.js/"):
        assert local.get(f"/static/{name}").status_code == 404, name

    monkeypatch.setattr(player, "INSTALLED", tmp_path / "not-in-the-package")
    installed = layout.root / "vendor" / "hls.min.js"  # as the sync run keeps it (agent.player)
    installed.parent.mkdir(parents=True, exist_ok=True)
    installed.write_text("window.Hls = function () {};\n")
    served = local.get("/static/vendor/hls.min.js")
    assert served.status_code == 200 and served.text == installed.read_text()
    assert served.headers["content-type"].startswith("text/javascript")
    assert '<script src="/static/vendor/hls.min.js">' in local.get("/").text

    installed.unlink()  # not here yet: a 404 that says the next sync brings it; the page does not load it
    missing = local.get("/static/vendor/hls.min.js")
    assert missing.status_code == 404 and "next sync fetches it" in missing.text
    assert 'hls.min.js"' not in local.get("/").text.replace("'", '"').split("<body>")[0]
