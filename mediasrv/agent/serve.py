"""`mediasrv-site serve`: the site's local origin. Set-top boxes on the village LAN play the cached
copy from here, so study goes on when the village line is down.

    GET /                the site view for the administrator (mediasrv.agent.page: sync state,
                         today's programmes, a player; ?lang=en; JSON with Accept: application/json)
    GET /static/<name>   the site view's script and style, and hls.js when installed (a fixed list)
    GET /playlist.m3u8   the applied manifest's programmes as an M3U8 channel list: the site's own
                         channel (本站频道) first, then required (必学), then optional (选学), in rank
                         order; URLs point at this server; its header names the guide (url-tvg)
    GET /channel.m3u8    the site's own channel, a live HLS playlist of the cached segments played
                         to the manifest's schedule (mediasrv.agent.channel)
    GET /epg.xml         the channel's guide for the next 7 days (XMLTV, Beijing times)
    GET /epg.json        the same for the site view: what plays now and next, and the week
                         (both from the slot playing now; ?hours=N for less)
    GET /playlist.json   the same as JSON
    GET /files/<path>    a file of the applied manifest (Range, ETag = its SHA-256, HEAD); a
                         programme's segment going to a player is noted as viewing evidence
                         (mediasrv.agent.viewing)
    GET /records         this month's study records and those not yet delivered, with their states,
                         and this PC's time ("now": the form's start time goes by it, not the box's)
    POST /records/sessions, /records/ratings, /records/demands   (JSON, at most 256 KB) a record,
                         kept in the outbox (mediasrv.agent.records) until the sync run delivers
                         it; 201, or 200 with the record kept before when its form's "id" was sent
                         already
    POST /records/sessions/<id>/photos   (multipart, field "photo") photos of a session
    GET /faults          the faults reported here (报告故障) with their states, and what the centre
                         last said of them (mediasrv.agent.faults)
    POST /faults         (JSON, at most 16 KB) a fault report, kept in its outbox until the sync run
                         delivers it; 201, or 200 when its form's "id" was sent already

No authentication, on purpose: it listens on the site's LAN and serves nothing but the files the
signed manifest lists (study material the site's boxes must play without logging in), and study
records anyone at the site may add. What stands in for it:
- every route answers only a Host header that names this PC (an address, a one-label or local name
  such as jiaoxue.lan, its own name, or a --name given): a web page whose name an attacker points at
  the PC (DNS rebinding) gets 403, so it can read neither records nor pages (Guard);
- posts must come from the site view itself (same_origin): a page elsewhere that a member's browser
  opens cannot write records; they are rate-limited per LAN address and in all (PostRate, 429), and
  the outbox they fill is bounded and leaves the media cache its disk (outbox.Outbox.check_room);
- every answer carries X-Content-Type-Options: nosniff and a Content-Security-Policy (the site view:
  its own scripts and styles only; everything else: no scripts at all).
It reads manifest.json again whenever that file is replaced, and every file is opened once per
request, so a sync or an import replacing files (atomic renames) never shows a half-written file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import posixpath
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

import typer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders, UploadFile
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasrv.agent import channel, faults, page, player, records
from mediasrv.agent.layout import AgentError, Layout
from mediasrv.agent.masters import held_master
from mediasrv.agent.outbox import Full, State
from mediasrv.agent.viewing import Recorder
from mediasrv.agent.words import said
from mediasrv.protocol.channels import Channel, channel_list, group_title, language_channel
from mediasrv.protocol.china import utc_now
from mediasrv.protocol.document import ranked
from mediasrv.protocol.http import CHANNEL_LIST_TYPE, PLAYLIST_TYPE, Unsatisfiable, etag_matches, parse_range

log = logging.getLogger("mediasrv.agent")

IMMUTABLE = "public, max-age=31536000, immutable"  # files inside a generation never change
REVALIDATE = "no-cache"  # master playlists, the channel list: may change with the next sync (ETag)
CONTENT_TYPES = {
    ".m3u8": PLAYLIST_TYPE,
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",  # subtitle segments
    ".aac": "audio/aac",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".pdf": "application/pdf",
}
CHUNK = 256 * 1024
NO_MANIFEST = (
    "This site has no manifest yet: run `mediasrv-site sync` (with a line) or "
    "`mediasrv-site import DIR` (from a bundle), then reload."
)
SITE_VIEW_HEADER = "X-Site-View"  # site.js sends it; a cross-origin page cannot without a preflight
JSON_MAX_BYTES = 256 * 1024  # a record posted as JSON: notes of 10,000 characters are well under it
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
# Names no public DNS gives, so no web page can be served under them: mDNS (RFC 6762), home.arpa
# (RFC 8375), ICANN's private-use .internal, and what home and village routers hand out.
LOCAL_NAMES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain")
# The site view runs its own script and style only; hls.js plays through blob: URLs (MSE) and may
# start a worker from one. Every other answer (files, JSON, text) runs nothing; a PDF handout still
# opens in Chrome's viewer (an <embed> of itself, styled inline).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
FILE_POLICY = (
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
    "object-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# Posts a LAN address may make: a burst, then one every few seconds (a member records a session and
# its photos in two posts); all addresses together somewhat more.
POST_BURST, POST_EVERY = 20, 3.0
ALL_BURST, ALL_EVERY = 60, 1.0


@dataclass(frozen=True)
class Applied:
    """The applied manifest, parsed once per version of manifest.json."""

    stamp: tuple[int, int, int]  # inode, mtime, size: a rename over manifest.json changes it
    doc: dict[str, Any]
    files: dict[str, dict[str, Any]]  # path -> entry


class LocalOrigin:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._applied: Applied | None = None
        self._lock = threading.Lock()

    def applied(self) -> Applied | None:
        """The manifest as it is now on disk (one stat when unchanged); None on a fresh site."""
        try:
            st = self.layout.manifest.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._applied is not None and self._applied.stamp == stamp:
                return self._applied
            try:
                with self.layout.manifest.open("rb") as f:
                    st = os.fstat(f.fileno())  # the stamp of the very bytes read
                    doc = json.loads(f.read())
            except FileNotFoundError:
                return None
            files = {e["path"]: e for e in self.layout.files_of(doc)}
            self._applied = Applied((st.st_ino, st.st_mtime_ns, st.st_size), doc, files)
            return self._applied

    def present(self, path: str) -> bool:
        try:
            return self.layout.file(path).is_file()
        except AgentError:
            return False


def base_url(request: Request) -> str:
    """http://<host> as the box reached this server (its Host header), for absolute playlist URLs."""
    host = request.headers.get("host", "")
    if not _HOST.match(host):  # absent (HTTP/1.0) or odd: the address the request came in on
        server = request.scope.get("server") or ("127.0.0.1", 80)
        name = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
        host = name if server[1] in (80, None) else f"{name}:{server[1]}"
    return f"http://{host}"


def file_url(base: str, path: str) -> str:
    return f"{base}/files/{quote(path)}"


def programmes(origin: LocalOrigin, applied: Applied, base: str) -> list[dict[str, Any]]:
    """The programmes a box can play now, required first, each in rank order, with local URLs.
    One whose play file is not on disk yet (a sync still fetching it) is left out."""
    chosen = sorted(enumerate(ranked(applied.doc), start=1), key=lambda rp: (not rp[1]["required"], rp[0]))
    listed = []
    for rank, p in chosen:
        if p["play"] not in applied.files or not origin.present(p["play"]):
            continue
        poster = p.get("poster")
        listed.append(
            {
                "id": p["id"],
                "rank": rank,
                "required": p["required"],
                "group": group_title(p["required"]),
                "title": p["title"],
                "category": p.get("category"),
                "duration_seconds": p.get("duration_seconds"),
                "url": file_url(base, p["play"]),
                "poster_url": file_url(base, poster) if poster and origin.present(poster) else None,
                "attachments": [file_url(base, a) for a in p.get("attachments", []) if origin.present(a)],
                # A box's variant per language the site holds (iptv-bo.m3u8); phones choose in the master.
                "languages": [
                    {"language": lang["language"], "name": lang["name"], "url": file_url(base, lang["play"])}
                    for lang in p.get("languages", [])
                    if lang["play"] != p["play"]
                    and lang["play"] in applied.files
                    and origin.present(lang["play"])
                ],
            }
        )
    return listed


def channels(entries: list[dict[str, Any]]) -> list[Channel]:
    """`programmes` as the channel list's entries (protocol.channels writes it, as the server does)."""
    listed = []
    for e in entries:
        programme = Channel(
            e["id"], e["title"], e["required"], e["url"], e["duration_seconds"], e["poster_url"]
        )
        listed.append(programme)
        listed += [
            language_channel(programme, v["language"], v["name"], v["url"]) for v in e.get("languages", [])
        ]
    return listed


def _text(request: Request, body: str | bytes, media_type: str) -> Response:
    data = body.encode() if isinstance(body, str) else body
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(data, headers=headers, media_type=media_type)


def _unavailable(message: str, status: int = 503) -> Response:
    return PlainTextResponse(message + "\n", status_code=status, headers={"Retry-After": "30"})


def _read(f: BinaryIO, first: int, length: int) -> Iterator[bytes]:
    """The bytes of an open file's range, closing it however the response ends. The generator is
    started here: a box that hangs up before its body begins leaves a generator never run, and
    closing one of those skips its `finally`, so the file would wait for the garbage collector."""
    chunks = _chunks(f, first, length)
    next(chunks)  # inside the try: closing or collecting `chunks` from now on closes the file
    return chunks


def _chunks(f: BinaryIO, first: int, length: int) -> Iterator[bytes]:
    try:
        yield b""  # taken by _read, never sent
        f.seek(first)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        f.close()


class _FileStream(StreamingResponse):
    """A range of an open file as a response that closes the file however it ends: sent, or the box
    hung up mid-body. Starlette drops a sync body iterator it was reading in a thread without closing
    it; the generator then waits for the garbage collector, which, when the hang-up's traceback made a
    cycle, may finalise the file first (a ResourceWarning, and a descriptor held meanwhile)."""

    def __init__(self, f: BinaryIO, first: int, length: int, **kwargs: Any) -> None:
        self._file = f
        super().__init__(_read(f, first, length), **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A read still running in its thread holds the buffer's lock: close waits for it, and
            # the generator's next read fails in that thread, where nobody waits any more.
            self._file.close()


def lan_host(host: str, names: Iterable[str] = ()) -> bool:
    """Is this Host header the PC as the LAN reaches it? An address; a name of one label (localhost,
    the PC's name, what the village router calls it) or under a suffix for local names (LOCAL_NAMES);
    the PC's own name; or one of `names` (serve --name, e.g. a county intranet's DNS name). A web
    page whose public name an attacker points at the PC (DNS rebinding) has none of these: its
    requests would otherwise be served as if they came from the site view."""
    if host.startswith("["):  # an IPv6 literal: [fe80::1]:8080
        name = host[1:].partition("]")[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    if (name and "." not in name) or name.endswith(LOCAL_NAMES):
        return True
    return name in {socket.gethostname().lower(), *(n.rstrip(".").lower() for n in names)}


def same_origin(request: Request, *, json_body: bool) -> str | None:
    """Why a post did not come from the site view itself, or None when it did. Browsers say where a
    request comes from (Sec-Fetch-Site, Origin); a page elsewhere cannot add our custom header or a
    JSON body without a CORS preflight, which this origin never grants. Old TV browsers send neither
    Fetch metadata nor (for same-origin XHR) Origin: the custom header alone stands for them. (The
    Host header was checked already, for every route: Guard.)"""
    fetched_from = request.headers.get("sec-fetch-site")
    if fetched_from is not None and fetched_from != "same-origin":
        return f"只接受本站点页面提交的记录（来源：{fetched_from}）。"
    origin = request.headers.get("origin")
    if origin is not None and origin != base_url(request):
        return f"只接受本站点页面提交的记录（来源：{origin}）。"
    if request.headers.get(SITE_VIEW_HEADER) != "1":
        return f"只接受本站点页面提交的记录（缺少 {SITE_VIEW_HEADER} 请求头）。"
    if json_body and request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return "记录应以 JSON 提交（Content-Type: application/json）。"
    return None


def _said(message: str, status: int) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers={"Cache-Control": "no-store"})


class Guard:
    """Around every route: a Host that does not name this PC is refused (DNS rebinding), and every
    answer gets nosniff and its Content-Security-Policy. A request without a Host header (HTTP/1.0:
    an old box, never a browser) is the LAN's."""

    def __init__(self, app: ASGIApp, names: Iterable[str] = ()) -> None:
        self.app, self.names = app, tuple(names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Content-Security-Policy"] = PAGE_POLICY if html else FILE_POLICY
            await send(message)

        host = Headers(scope=scope).get("host")
        if host is not None and not lan_host(host, self.names):
            refused = _said(
                f"请用本机的 IP 地址或计算机名打开本站点（当前地址：{host[:100]}）。"
                "（只接受通过本机地址打开的页面，以防别的网站冒用本机。）",
                403,
            )
            await refused(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)


class PostRate:
    """Token buckets for the LAN posts: per address (a burst of POST_BURST, then one every POST_EVERY
    seconds) and for all addresses together (ALL_*). Used from the event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def _wait(self, key: str, burst: int, every: float, now: float) -> float:
        tokens, when = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - when) / every)
        self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 1 else (1 - tokens) * every

    def wait(self, address: str) -> float:
        """0 and one post taken, or the seconds until `address` may post again."""
        now = self.clock()
        if len(self._buckets) > 4096:  # many addresses: forget them (the shared bucket still holds)
            self._buckets = {"*": self._buckets["*"]} if "*" in self._buckets else {}
        waits = (
            self._wait(f"a:{address}", POST_BURST, POST_EVERY, now),
            self._wait("*", ALL_BURST, ALL_EVERY, now),
        )
        if max(waits) > 0:
            return max(waits)
        for key in (f"a:{address}", "*"):
            tokens, when = self._buckets[key]
            self._buckets[key] = (tokens - 1, when)
        return 0.0


def status_facts(origin: LocalOrigin, applied: Applied | None, base: str) -> dict[str, Any]:
    usage = shutil.disk_usage(origin.layout.root) if origin.layout.root.exists() else None
    facts: dict[str, Any] = {
        "site": None,
        "version": None,
        "playlist": f"{base}/playlist.m3u8",
        "disk_free_bytes": usage.free if usage else None,
    }
    if applied is None:
        return {**facts, "message": NO_MANIFEST}
    doc = applied.doc
    missing = [e for e in applied.files.values() if not origin.present(e["path"])]
    return {
        **facts,
        "site": doc["site"],
        "version": doc["version"],
        "device_profile": doc["device_profile"],
        "programmes": len(doc["programmes"]),
        "required": sum(1 for p in doc["programmes"] if p["required"]),
        "dropped": len(doc["dropped"]),
        "bytes": doc["bytes"],
        "files": len(applied.files),
        "missing_files": len(missing),
        "missing_bytes": sum(int(e["size"]) for e in missing),
    }


def create_app(
    layout: Layout,
    *,
    names: Iterable[str] = (),
    clock: Callable[[], float] = time.monotonic,
    outbox: records.Outbox | None = None,
    now: Callable[[], datetime] = utc_now,
) -> Starlette:
    """The LAN origin for `layout`. `names`: Host names besides the PC's own (lan_host); `clock` the
    post rate's; `outbox` the records' (its bounds); `now` the channel's wall clock (tests move it)."""
    origin = LocalOrigin(layout)
    recorder = Recorder(layout)
    rate = PostRate(clock)
    tv = channel.Channel(layout)

    def held(applied: Applied) -> channel.Holdings:
        return tv.holdings(applied.stamp, applied.doc, applied.files)

    def index(request: Request) -> Response:
        applied = origin.applied()
        facts = status_facts(origin, applied, base_url(request))
        state = layout.load_state()
        verdict = page.assess(facts, state, page.sync_running(layout))
        accept = request.headers.get("accept", "")
        if "application/json" in accept and "text/html" not in accept:
            facts |= {
                "verdict": verdict.key,
                "last_complete": state.last_complete,
                "last_sync": state.last_sync,
            }
            return JSONResponse(facts, headers={"Cache-Control": REVALIDATE})
        # URLs relative to this origin: the page works under whatever name the PC is reached by.
        entries = programmes(origin, applied, "") if applied is not None else []
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        try:
            code: str | None = layout.load_config().site_code  # named before the first manifest
        except (AgentError, ValueError):
            code = None
        guide = None
        if applied is not None:
            has, at = held(applied), now()
            guide = channel.guide_json(has, tv.slots(has, at), at)
        body = page.render(
            facts,
            entries,
            state,
            verdict,
            lang=lang,
            site_code=code,
            hls_installed=player.path(layout) is not None,
            guide=guide,
            left_out=applied.doc if applied is not None else None,
        )
        return HTMLResponse(body, headers={"Cache-Control": REVALIDATE})

    def static(request: Request) -> Response:
        name: str = request.path_params["name"]
        if name == f"vendor/{player.NAME}":
            script = player.path(layout)
            if script is None:
                return PlainTextResponse(page.NO_HLS_JS, status_code=404)
            return _text(request, script.read_bytes(), "text/javascript; charset=utf-8")
        found = page.ASSETS.get(name)
        if found is None:
            return PlainTextResponse(f"{name} is not a file of this site view.\n", status_code=404)
        path, media_type = found
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return PlainTextResponse(f"{name} is missing from this install.\n", status_code=404)
        return _text(request, data, media_type)

    def playlist_m3u8(request: Request) -> Response:
        applied = origin.applied()
        if applied is None:
            return _unavailable(NO_MANIFEST)
        # A list of programmes, not an HLS playlist: VLC gives the HLS type to its HLS module.
        base = base_url(request)
        listed = channels(programmes(origin, applied, base))
        has = held(applied)
        if has.media:  # the site's own channel first: switching to it is all a box needs to do
            own = Channel(
                channel.channel_id(has), channel.NAME, True, f"{base}/channel.m3u8", group=channel.NAME
            )
            listed.insert(0, own)
        return _text(request, channel_list(listed, tvg_url=f"{base}/epg.xml"), CHANNEL_LIST_TYPE)

    def channel_m3u8(request: Request) -> Response:
        applied = origin.applied()
        if applied is None:
            return _unavailable(NO_MANIFEST)
        text = tv.playlist(held(applied), now())
        if text is None:
            return _unavailable("本站频道现在没有可播放的节目：节目还没有下载到本机。")
        return _text(request, text, PLAYLIST_TYPE)

    def _guide(applied: Applied, request: Request) -> tuple[channel.Holdings, list[Any], datetime]:
        """The guide from what plays now: 7 days, or ?hours=N (1 to 168: the site view's today)."""
        has, at = held(applied), now()
        try:
            hours = min(max(int(request.query_params.get("hours", "")), 1), channel.GUIDE_DAYS * 24)
        except ValueError:
            hours = channel.GUIDE_DAYS * 24
        return has, tv.slots(has, at, hours=hours), at

    def epg_xml(request: Request) -> Response:
        applied = origin.applied()
        if applied is None:
            return _unavailable(NO_MANIFEST)
        has, slots, _ = _guide(applied, request)
        return _text(request, channel.guide_xml(has, slots), "application/xml; charset=utf-8")

    def epg_json(request: Request) -> Response:
        applied = origin.applied()
        if applied is None:
            return _unavailable(NO_MANIFEST)
        has, slots, at = _guide(applied, request)
        body = channel.guide_json(has, slots, at) | {"replacements": channel.replacements(layout)}
        return _text(request, json.dumps(body, ensure_ascii=False), "application/json")

    def playlist_json(request: Request) -> Response:
        applied = origin.applied()
        if applied is None:
            return _unavailable(NO_MANIFEST)
        doc = applied.doc
        body = {
            "site": doc["site"],
            "version": doc["version"],
            "programmes": programmes(origin, applied, base_url(request)),
        }
        return _text(request, json.dumps(body, ensure_ascii=False, indent=1), "application/json")

    def holds(path: str) -> bool:
        """Whether the site holds `path` whole: its manifest lists it and it is on disk. A sync fetches
        a rendition's playlist after its segments, so a held playlist is a playable rendition."""
        applied = origin.applied()
        path = posixpath.normpath(path)
        return applied is not None and path in applied.files and origin.present(path)

    def files(request: Request) -> Response:
        path: str = request.path_params["path"]
        applied = origin.applied()
        entry = applied.files.get(path) if applied is not None else None
        if applied is None or entry is None:
            return PlainTextResponse(f"{path} is not in this site's manifest.\n", status_code=404)
        try:
            f = layout.file(path).open("rb")
        except (FileNotFoundError, AgentError):
            return _unavailable(
                f"{path} is listed but not on this site's disk yet: run `mediasrv-site sync`."
            )
        size = os.fstat(f.fileno()).st_size
        if size != entry["size"]:  # replaced by a sync after this manifest was read
            f.close()
            return _unavailable(f"{path} is being updated by a sync: try again shortly.")
        parts = path.split("/")
        if len(parts) == 2 and path.endswith(".m3u8"):  # a master: naming only what this site holds
            text = f.read().decode("utf-8", "replace")
            served = held_master(text, lambda uri: holds(f"{parts[0]}/{uri}"))
            if served != text:
                f.close()
                return _text(request, served, PLAYLIST_TYPE)
            f.seek(0)  # all held: the file as verified, its own ETag and ranges
        etag = f'"{entry["sha256"]}"'
        headers = {
            "ETag": etag,
            "Cache-Control": IMMUTABLE if len(parts) > 2 else REVALIDATE,
            "Accept-Ranges": "bytes",
        }
        media_type = CONTENT_TYPES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")
        try:
            if etag_matches(request.headers.get("if-none-match"), etag):
                f.close()
                return Response(status_code=304, headers=headers)
            byte_range = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:  # the range lies outside the file
            f.close()
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        status, first, length = 200, 0, size
        if byte_range is not None:
            first, last = byte_range
            status, length = 206, last - first + 1
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            f.close()
            return Response(status_code=status, headers=headers, media_type=media_type)
        try:  # a segment of a programme going to a player: viewing evidence (agent.viewing)
            recorder.served(
                applied.stamp,
                applied.doc,
                path,
                address=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent", ""),
            )
        except OSError as exc:  # a full disk must not stop the film
            log.warning("viewing evidence not recorded: %s", exc)
        return _FileStream(f, first, length, status_code=status, headers=headers, media_type=media_type)

    box = outbox if outbox is not None else records.Outbox(layout)

    def _doc() -> dict[str, Any] | None:
        applied = origin.applied()
        return applied.doc if applied is not None else None

    def _reserve(doc: dict[str, Any] | None) -> int:
        return records.media_room(doc, layout.load_state().last_sync)

    def _refused_post(request: Request, *, json_body: bool) -> Response | None:
        """A post not from the site view (403), or one too many from its address (429)."""
        if refusal := same_origin(request, json_body=json_body):
            return _said(refusal, 403)
        wait = rate.wait(request.client.host if request.client else "")
        if wait > 0:
            seconds = max(1, round(wait + 0.5))
            answer = _said(f"提交太频繁：请 {seconds} 秒后再试。", 429)
            answer.headers["Retry-After"] = str(seconds)
            return answer
        return None

    def list_records(request: Request) -> Response:
        body = {
            "now": datetime.now(UTC).isoformat(),  # this PC's clock: boxes' often are wrong
            "records": box.listing(),
            "delivery": records.last_delivery(layout),
            "photo_max_bytes": records.photo_limit(_doc()),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def json_post(request: Request, limit: int, advice: str) -> dict[str, Any] | Response:
        """A post's JSON object, read at most `limit` bytes (from the site view only: _refused_post),
        or the answer refusing it."""
        if refused := _refused_post(request, json_body=True):
            return refused
        too_big = _said(f"提交的内容超过 {limit // 1024} KB：{advice}", 413)
        try:
            if int(request.headers.get("content-length") or 0) > limit:
                return too_big
        except ValueError:
            return _said("Content-Length 不对。", 400)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                return too_big
        try:
            data = json.loads(raw)
        except ValueError:  # UnicodeDecodeError too
            return _said("提交的内容不是有效的 JSON。", 400)
        if not isinstance(data, dict):
            return _said("提交的内容应是一个 JSON 对象。", 400)
        return data

    async def post_record(request: Request) -> Response:
        kind: str = request.path_params["kind"]
        if kind not in ("sessions", "ratings", "demands"):
            return _said(f"/records/{kind} 不是这里的地址。", 404)
        data = await json_post(request, JSON_MAX_BYTES, "请缩短讨论记录或说明。")
        if isinstance(data, Response):
            return data
        doc = _doc()
        try:
            known = records.manifest_programmes(doc)  # what the form offers, when a manifest is applied
            if kind == "sessions":
                record = records.new_session(data, programmes=known)
            elif kind == "ratings":
                titles = {p["id"]: p["title"] for p in (doc or {}).get("programmes", [])}
                record = records.new_rating(
                    data, title=titles.get(str(data.get("programme_id")), ""), programmes=known
                )
            else:
                record = records.new_demand(data, set(page.CATEGORIES))
            kept = await run_in_threadpool(box.add, record, reserve=_reserve(doc))
        except (records.Invalid, Full) as exc:  # a mistake to correct, or no room
            return _said(str(exc), exc.status)
        if kept is not record and kept.kind != record.kind:  # an id of another form: never mixed
            return _said("记录编号已被另一条记录使用：请关闭表单后重新填写。", 409)
        # 201 when new, 200 when this form was sent before (a second OK, a retry): kept once.
        return JSONResponse(records.shown(kept), status_code=201 if kept is record else 200)

    async def post_photos(request: Request) -> Response:
        if refused := _refused_post(request, json_body=False):
            return refused
        session = box.get(request.path_params["id"])
        if session is None or session.kind != records.Kind.SESSION:
            return _said("没有这条学习记录：请先记录学习，再添加照片。", 404)
        if session.state is State.REFUSED:
            return _said("这条学习记录已被退回，不能再添加照片：请重新记录这次学习。", 409)
        doc = _doc()
        limit = records.photo_limit(doc)
        try:
            length = int(request.headers["content-length"])
        except (KeyError, ValueError):
            return _said("请用本站点页面上传照片（缺少 Content-Length）。", 411)
        if length > limit * records.PHOTOS_PER_POST + 2**20:
            return _said(
                f"一次最多上传 {records.PHOTOS_PER_POST} 张、每张不超过 {limit // 2**20} MB 的照片。", 413
            )
        reserve = _reserve(doc)
        photos: list[tuple[records.Record, bytes | None]] = []
        try:
            # Before reading the body: a full outbox (or disk) takes nothing in, not even to /tmp.
            await run_in_threadpool(box.check_room, length, reserve)
            async with request.form(max_files=records.PHOTOS_PER_POST, max_fields=5) as form:
                uploads = [f for f in form.getlist("photo") if isinstance(f, UploadFile)]
                if not uploads:
                    return _said("没有收到照片：请选择照片后再上传。", 400)
                for f in uploads:  # one at a time: made again from its pixels, the original let go
                    name = f.filename or "photo"
                    kind, data = await run_in_threadpool(
                        records.clean_photo, name, await f.read(limit + 1), limit
                    )
                    photos.append((records.new_photo(session, name, kind), data))
            kept = await run_in_threadpool(box.add_many, photos, reserve=reserve)
        except (records.Invalid, Full) as exc:
            return _said(str(exc), exc.status)
        except MultiPartException as exc:
            return _said(f"照片没有上传完整，请重试（{exc.message}）。", 400)
        return JSONResponse([records.shown(r) for r in kept], status_code=201)

    fault_box = faults.Outbox(layout)

    def list_faults(request: Request) -> Response:
        body = faults.listing(layout) | {
            "now": datetime.now(UTC).isoformat(),
            "delivery": faults.last_delivery(layout),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def post_fault(request: Request) -> Response:
        data = await json_post(request, faults.JSON_MAX_BYTES, "请缩短情况说明。")
        if isinstance(data, Response):
            return data
        try:
            report = faults.new_report(data)
            kept = await run_in_threadpool(fault_box.add, report, reserve=_reserve(_doc()))
        except (records.Invalid, Full) as exc:
            return _said(str(exc), exc.status)
        # 201 when new, 200 when this form was sent before (a second OK, a retry): kept once.
        return JSONResponse(faults.shown(kept), status_code=201 if kept is report else 200)

    return Starlette(
        routes=[
            Route("/", index, methods=["GET", "HEAD"]),
            Route("/faults", list_faults, methods=["GET"]),
            Route("/faults", post_fault, methods=["POST"]),
            Route("/records", list_records, methods=["GET"]),
            Route("/records/{kind:str}", post_record, methods=["POST"]),
            Route("/records/sessions/{id:str}/photos", post_photos, methods=["POST"]),
            Route("/static/{name:path}", static, methods=["GET", "HEAD"]),
            Route("/playlist.m3u8", playlist_m3u8, methods=["GET", "HEAD"]),
            Route("/playlist.json", playlist_json, methods=["GET", "HEAD"]),
            Route("/channel.m3u8", channel_m3u8, methods=["GET", "HEAD"]),
            Route("/epg.xml", epg_xml, methods=["GET", "HEAD"]),
            Route("/epg.json", epg_json, methods=["GET", "HEAD"]),
            Route("/files/{path:path}", files, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(Guard, names=names)],
    )


def register(app: typer.Typer) -> None:
    """Add `mediasrv-site serve` to the agent's command."""

    @app.command("serve", help="agent.help.serve")
    def serve_command(
        directory: Annotated[
            Path, typer.Option("--dir", envvar="MEDIASRV_SITE_DIR", help="agent.help.common.dir")
        ] = Path("mediasrv-site"),
        host: Annotated[str, typer.Option(help="agent.help.serve.host")] = "0.0.0.0",  # noqa: S104
        port: Annotated[int, typer.Option(help="agent.help.serve.port")] = 8080,
        name: Annotated[
            list[str] | None,
            typer.Option("--name", help="agent.help.serve.name"),
        ] = None,
    ) -> None:
        """Serve the cached programmes to the LAN: point set-top boxes at http://THIS-HOST:PORT/playlist.m3u8."""
        import uvicorn

        if not directory.is_dir():
            typer.echo(said("serve_no_cache", dir=directory), err=True)
            raise typer.Exit(2)
        app = create_app(Layout(directory), names=name or ())
        typer.echo(said("serve_start", port=port), err=True)
        uvicorn.run(app, host=host, port=port, log_level="info")
