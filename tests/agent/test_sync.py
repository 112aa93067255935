"""The site agent's sync against the real app in-process: manifests, resume, verification, reports.

The agent's HTTP client goes through the app's own ASGI transport; where a test needs the line to
misbehave (drops, tampering) a small transport sits in between and alters what really came back.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mediasrv.agent import player, records, viewing
from mediasrv.agent.cli import _run_once
from mediasrv.agent.layout import AgentConfig, AgentError, Layout
from mediasrv.agent.reports import Reporter, make_report, queued
from mediasrv.agent.sync import Syncer, SyncResult, TokenBucket, download_order, in_window, parse_window
from mediasrv.db import Database
from mediasrv.delivery.manifest.build import sign
from mediasrv.kit.caller import Role
from mediasrv.protocol import china
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import canonical, list_digests, list_url, ranked, site_files
from mediasrv.protocol.vendor import pinned_sha256
from mediasrv.protocol.viewing import player_id
from mediasrv.sites.models import SitePresence
from tests.fixtures import ReadyAsset, make_token, publish_programme

Handler = Callable[[httpx.Request, Callable[[httpx.Request], httpx.Response]], httpx.Response]


class Line(httpx.BaseTransport):
    """The way between agent and server: passes requests to the real app (through the transport of
    Starlette's TestClient, which speaks httpx2) unless `handler` (which gets the request and a
    function that sends it on) decides otherwise."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner
        self.handler: Handler | None = None
        self.requests: list[httpx.Request] = []

    def send(self, request: httpx.Request) -> httpx.Response:
        forward = httpx2.Request(
            request.method, str(request.url), headers=request.headers.multi_items(), content=request.read()
        )
        answer = self.inner.handle_request(forward)
        raw = b"".join(answer.iter_raw())  # as sent: still gzip when the app compressed it
        return httpx.Response(answer.status_code, headers=answer.headers.multi_items(), content=raw)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is None:
            return self.send(request)
        return self.handler(request, self.send)


@dataclass
class Site:
    id: int
    headers: dict[str, str]
    layout: Layout
    line: Line
    agent: httpx.Client

    def syncer(self, **kwargs: Any) -> Syncer:
        return Syncer(self.layout, self.agent, backoff=0, **kwargs)

    def sync(self, **kwargs: Any) -> SyncResult:
        download = kwargs.pop("download", True)
        verify = kwargs.pop("verify", False)
        return self.syncer(**kwargs).sync(download=download, verify=verify)

    def files(self) -> dict[str, str]:
        """What files/ holds: path -> SHA-256."""
        root = self.layout.files
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")
            if p.is_file()
        }


def listed(client: TestClient, site: Site, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a manifest asks for, through its file lists as the server gives them to the site."""
    lists = {sha: client.get(list_url(sha), headers=site.headers).json() for sha in list_digests(doc)}
    return site_files(doc, lists)


def expected(client: TestClient, site: Site, doc: dict[str, Any]) -> dict[str, str]:
    return {e["path"]: e["sha256"] for e in listed(client, site, doc)}


def make_agent_site(client: TestClient, db: Database, tmp_path: Path) -> Site:
    """A site set up (`mediasrv-site init`) in tmp_path, its agent talking to the app over `Line`."""
    headers = make_token(db, Role.SITE, "xt-agent")
    site_id = client.get("/auth/session", headers=headers).json()["site_id"]
    layout = Layout(tmp_path / "site")
    key = client.get("/api/v1/sites/manifest-key").json()["public_key"]
    layout.save_config(
        AgentConfig(server="http://testserver", site_id=site_id, site_code="xt-agent", public_key=key)
    )
    layout.save_token(headers["Authorization"].removeprefix("Bearer "))
    line = Line(client._transport)
    agent = httpx.Client(transport=line, base_url="http://testserver", headers=headers)
    return Site(site_id, headers, layout, line, agent)


@pytest.fixture
def site(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> Site:
    return make_agent_site(client, db, tmp_path)


@pytest.fixture
def programme(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> str:
    return publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="党课录音")


def manifest(client: TestClient, site: Site) -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"/api/v1/sites/{site.id}/manifest", headers=site.headers).json()
    return doc


def resign(client: TestClient, body: bytes) -> str:
    """A valid signature for altered bytes: what only someone holding the server's key could make."""
    key = client.app.state.manifests.key  # type: ignore[attr-defined]
    return sign(key, hashlib.sha256(body).hexdigest())


def altered(response: httpx.Response, body: bytes, **headers: str) -> httpx.Response:
    response.read()
    drop = {"content-length", "content-encoding", *(k.lower() for k in headers)}
    keep = {k: v for k, v in response.headers.items() if k.lower() not in drop}
    return httpx.Response(response.status_code, headers={**keep, **headers}, content=body)


# --- a fresh sync, polling, deltas, deletion ------------------------------------------------------------


def test_a_fresh_sync_mirrors_the_manifest_and_then_polls_cheaply(
    client: TestClient, site: Site, programme: str
) -> None:
    result = site.sync()
    doc = manifest(client, site)
    assert result.complete and result.manifest == "full" and result.version == doc["version"]
    assert site.files() == expected(client, site, doc)  # byte-identical, and nothing else
    assert result.files_fetched == len(listed(client, site, doc)) and result.bytes_downloaded == doc["bytes"]
    assert site.layout.manifest.read_bytes() == canonical(doc)
    assert list(site.layout.partial.iterdir()) == []

    site.line.requests.clear()
    again = site.sync()
    assert again.complete and again.manifest == "unchanged" and again.files_fetched == 0
    assert again.files_hashed == 0  # known good: same size and mtime as when hashed
    [poll] = site.line.requests  # one conditional request, answered 304
    assert poll.headers["If-None-Match"] and poll.url.params["since"] == str(doc["version"])


def test_a_new_programme_arrives_as_a_delta_and_a_withdrawn_one_is_deleted(
    client: TestClient,
    site: Site,
    programme: str,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    assert site.sync().complete
    second = publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="第二课")
    added = site.sync()
    doc = manifest(client, site)
    assert added.complete and added.manifest == "delta" and added.version == doc["version"]
    assert len(doc["programmes"]) == 2 and site.files() == expected(client, site, doc)
    assert 0 < added.files_fetched < len(listed(client, site, doc))  # only the new programme's files

    assert (
        client.post(
            f"/api/v1/programmes/{second}/withdraw", headers=admin, json={"reason": "过时"}
        ).status_code
        == 200
    )
    removed = site.sync()
    doc = manifest(client, site)
    assert removed.complete and removed.manifest == "delta" and removed.deleted > 0
    assert removed.files_fetched == 0 and site.files() == expected(client, site, doc)


def test_a_delta_that_does_not_rebuild_the_manifest_falls_back_to_the_full_one(
    client: TestClient,
    site: Site,
    programme: str,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    assert site.sync().complete
    publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="第二课")

    def wrong_digest(
        request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
    ) -> httpx.Response:
        r = send(request)
        if r.headers.get("x-manifest-kind") != "delta":
            return r
        r.read()
        delta = json.loads(r.content)
        delta["sha256"] = "0" * 64  # signed, yet it does not describe what it rebuilds
        body = canonical(delta)
        return altered(r, body, **{"X-Manifest-Signature": resign(client, body)})

    site.line.handler = wrong_digest
    result = site.sync()
    assert result.complete and result.manifest == "full"
    assert site.files() == expected(client, site, manifest(client, site))
    assert [r.url.params.get("since") for r in site.line.requests[-len(site.line.requests) :]][-1] is None


# --- refusing bad manifests -------------------------------------------------------------------------------


def test_a_tampered_manifest_is_refused_and_nothing_changes(
    client: TestClient, site: Site, programme: str
) -> None:
    def tamper(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        r = send(request)
        if "/manifest" not in request.url.path:
            return r
        r.read()
        return altered(r, r.content.replace(b'"format":2', b'"format":2 '))

    site.line.handler = tamper
    result = site.sync()
    assert result.error is not None and "signature does not match the pinned server key" in result.error
    assert not result.complete and site.files() == {} and site.layout.applied() is None
    assert not any("/hls/" in r.url.path for r in site.line.requests)  # nothing downloaded on its word


def test_a_signed_manifest_naming_a_path_outside_the_cache_is_refused(
    client: TestClient, site: Site, programme: str, tmp_path: Path
) -> None:
    # Only someone holding the server's key could do this: a list naming '../../evil.ts', and a
    # manifest naming that list, signed.
    [sha] = list_digests(manifest(client, site))
    evil = client.get(list_url(sha), headers=site.headers).json()
    evil["files"][0]["path"] = "../../evil.ts"
    evil_raw = canonical(evil)
    evil_sha = hashlib.sha256(evil_raw).hexdigest()

    def traversal(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        if request.url.path == list_url(evil_sha):
            return httpx.Response(200, content=evil_raw)
        r = send(request)
        if "/manifest" not in request.url.path:
            return r
        r.read()
        body = r.content.replace(sha.encode(), evil_sha.encode())
        return altered(r, body, **{"X-Manifest-Signature": resign(client, body)})

    site.line.handler = traversal
    result = site.sync()
    assert result.error is not None and "Refusing the manifest path" in result.error
    assert "../../evil.ts" in result.error
    assert not (tmp_path / "evil.ts").exists() and site.files() == {}
    assert site.layout.applied() is None


def test_a_file_list_altered_on_the_way_is_refused_and_nothing_is_downloaded(
    client: TestClient, site: Site, programme: str
) -> None:
    def tamper(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        r = send(request)
        if not request.url.path.startswith("/api/v1/file-lists/"):
            return r
        r.read()
        doc = json.loads(r.content)
        doc["files"][0]["size"] += 1
        return altered(r, canonical(doc))

    site.line.handler = tamper
    result = site.sync()
    assert result.error is not None and result.problem == "signature"
    assert "does not match the digest the signed manifest gives" in result.error
    assert site.files() == {} and site.layout.applied() is None and list(site.layout.lists.iterdir()) == []
    assert not any("/hls/" in r.url.path for r in site.line.requests)

    site.line.handler = None  # the next sync fetches it again, whole
    assert site.sync().complete and site.files() == expected(client, site, manifest(client, site))


def test_each_file_list_is_fetched_once(
    client: TestClient,
    site: Site,
    programme: str,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    assert site.sync().complete
    [first] = list_digests(manifest(client, site))
    publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="第二课")
    site.line.requests.clear()
    assert site.sync().complete
    fetched = [r.url.path for r in site.line.requests if r.url.path.startswith("/api/v1/file-lists/")]
    assert len(fetched) == 1 and fetched != [list_url(first)]  # the new programme's alone
    kept = {p.name for p in site.layout.lists.iterdir()}
    assert kept == {f"{sha}.json" for sha in list_digests(manifest(client, site))}


def test_a_site_holding_a_format_1_manifest_upgrades_without_fetching_its_media(
    client: TestClient, site: Site, programme: str
) -> None:
    """What an agent synced before format 2 has on disk: every file at its path, and manifest.json
    listing them all. The next sync adopts format 2 and downloads no file."""
    assert site.sync().complete
    doc = manifest(client, site)
    files = listed(client, site, doc)
    old = {
        "bytes": doc["bytes"],
        "device_profile": doc["device_profile"],
        "dropped": [],
        "files": files,
        "format": 1,
        "over_quota": doc["over_quota"],
        "pinned_bytes": doc["pinned_bytes"],
        "programmes": [
            {k: v for k, v in {**p, "rank": rank}.items() if k not in ("files", "lists")}
            for rank, p in enumerate(ranked(doc), start=1)
        ],
        "quota_bytes": doc["quota_bytes"],
        "site": doc["site"],
        "version": doc["version"],
    }
    site.layout.adopt(old)
    for kept in site.layout.lists.iterdir():
        kept.unlink()
    site.layout.lists.rmdir()
    assert site.layout.files_of(old) == files  # what the site view and status read meanwhile

    site.line.requests.clear()
    result = site.sync()
    assert result.complete and result.manifest == "full" and result.files_fetched == 0
    assert result.bytes_downloaded == 0 and result.files_hashed == 0  # known good: not even hashed
    assert not any(r.url.path.startswith("/hls/") for r in site.line.requests)
    assert site.layout.manifest.read_bytes() == canonical(doc) and site.files() == expected(client, site, doc)


def test_layout_refuses_paths_and_digests_that_leave_the_cache(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "site")
    for bad in ("../x", "/etc/passwd", "a/../../x", "a\\..\\b", "", "..", "a/.."):
        with pytest.raises(AgentError, match="not a plain relative path"):
            layout.file(bad)
    assert layout.file("a/b/seg_00001.ts") == tmp_path / "site" / "files" / "a" / "b" / "seg_00001.ts"
    with pytest.raises(AgentError, match="64 lowercase hex"):
        layout.partial_for("../" + "a" * 61)


# --- resume, verification, faults ---------------------------------------------------------------------


def test_a_partial_download_resumes_with_range(client: TestClient, site: Site, programme: str) -> None:
    doc = manifest(client, site)
    big = max(listed(client, site, doc), key=lambda e: e["size"])
    data = client.get(big["url"], headers={**site.headers, "Accept-Encoding": "identity"}).content
    half = len(data) // 2
    site.layout.ensure()
    site.layout.partial_for(big["sha256"]).write_bytes(data[:half])  # what an interrupted run left

    result = site.sync()
    assert result.complete and site.files() == expected(client, site, doc)
    assert result.bytes_resumed == half
    assert result.bytes_downloaded == doc["bytes"] - half  # the kept half was not fetched again
    [ranged] = [r for r in site.line.requests if r.url.path == big["url"]]
    assert ranged.headers["Range"] == f"bytes={half}-"


def test_a_bad_partial_is_discarded_and_fetched_whole(client: TestClient, site: Site, programme: str) -> None:
    doc = manifest(client, site)
    big = max(listed(client, site, doc), key=lambda e: e["size"])
    site.layout.ensure()
    # Garbage of the right length prefix: the resumed file fails its SHA-256 and is fetched again.
    site.layout.partial_for(big["sha256"]).write_bytes(b"\0" * (big["size"] // 2))
    result = site.sync()
    assert result.complete and site.files() == expected(client, site, doc)
    assert result.bytes_downloaded == doc["bytes"] - big["size"] // 2 + big["size"]
    # Longer than the file: dropped before asking (no Range the server would answer 416 to).
    site.layout.file(big["path"]).unlink()
    site.layout.partial_for(big["sha256"]).write_bytes(b"\0" * (big["size"] + 10))
    again = site.sync()
    assert (
        again.complete
        and again.bytes_downloaded == big["size"]
        and site.files() == expected(client, site, doc)
    )


def test_a_server_that_ignores_range_restarts_the_file(
    client: TestClient, site: Site, programme: str
) -> None:
    doc = manifest(client, site)
    big = max(listed(client, site, doc), key=lambda e: e["size"])
    data = client.get(big["url"], headers={**site.headers, "Accept-Encoding": "identity"}).content
    site.layout.ensure()
    site.layout.partial_for(big["sha256"]).write_bytes(data[:100])

    def no_ranges(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        if "range" in request.headers:
            del request.headers["range"]
        return send(request)

    site.line.handler = no_ranges
    result = site.sync()
    assert result.complete and site.files() == expected(client, site, doc)
    assert result.bytes_resumed == 0 and result.bytes_downloaded == doc["bytes"]


def test_a_damaged_cached_file_is_found_and_fetched_again(
    client: TestClient, site: Site, programme: str
) -> None:
    assert site.sync().complete
    doc = manifest(client, site)
    victim = site.layout.file(max(listed(client, site, doc), key=lambda e: e["size"])["path"])
    before = victim.stat()
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))  # bit rot: size and mtime unchanged

    trusting = site.sync()
    assert trusting.complete and trusting.files_hashed == 0 and site.files() != expected(client, site, doc)
    verified = site.sync(verify=True)
    assert verified.complete and verified.files_corrupt == 1 and verified.files_fetched == 1
    assert verified.files_hashed == len(listed(client, site, doc)) and site.files() == expected(
        client, site, doc
    )

    # A change that moves the mtime (a person, another program) is noticed without --verify.
    victim.write_bytes(b"x" * before.st_size)
    noticed = site.sync()
    assert (
        noticed.files_corrupt == 1
        and noticed.files_fetched == 1
        and site.files() == expected(client, site, doc)
    )


def test_line_drops_are_retried_and_a_cut_body_resumes(
    client: TestClient, site: Site, programme: str
) -> None:
    doc = manifest(client, site)
    big = max(listed(client, site, doc), key=lambda e: e["size"])
    calls = {"manifest": 0, "cut": 0}

    def flaky(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        if "/manifest" in request.url.path and calls["manifest"] < 2:
            calls["manifest"] += 1
            raise httpx.ConnectError("connection refused", request=request)
        r = send(request)
        if request.url.path == big["url"] and calls["cut"] == 0:
            calls["cut"] += 1
            r.read()
            return httpx.Response(200, headers=r.headers, stream=_Cut(r.content[:1000]))
        return r

    site.line.handler = flaky
    result = site.sync()
    assert result.complete and site.files() == expected(client, site, doc)
    assert result.bytes_resumed == 1000 and result.bytes_downloaded == doc["bytes"]  # nothing twice
    assert [r.headers.get("Range") for r in site.line.requests if r.url.path == big["url"]] == [
        None,
        "bytes=1000-",
    ]


class _Cut(httpx.SyncByteStream):
    """A body that breaks off after `data`, as when the server dies mid-transfer."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset by peer")


def test_an_unreachable_server_ends_the_run_with_a_clear_error_and_keeps_the_old_manifest(
    client: TestClient,
    site: Site,
    programme: str,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    assert site.sync().complete
    old = site.layout.manifest.read_bytes()
    publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="第二课")

    def down_for_files(
        request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
    ) -> httpx.Response:
        if request.url.path.startswith("/hls/"):
            raise httpx.ConnectError("connection refused", request=request)
        return send(request)

    site.line.handler = down_for_files
    result = site.sync()
    assert result.error is not None and "stopped answering" in result.error and "resumes" in result.error
    assert result.version == result.target_version - 1 and result.files_missing > 0
    assert site.layout.manifest.read_bytes() == old  # never claims files it lacks
    site.line.handler = None
    assert site.sync().complete and site.files() == expected(client, site, manifest(client, site))


def test_a_file_the_server_no_longer_has_is_a_failure_not_a_crash(
    client: TestClient, site: Site, programme: str
) -> None:
    doc = manifest(client, site)
    gone = listed(client, site, doc)[-1]

    def missing(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        if request.url.path == gone["url"]:
            return httpx.Response(404, json={"error": "not_found", "message": "No such HLS file."})
        return send(request)

    site.line.handler = missing
    result = site.sync()
    assert [f.path for f in result.failures] == [gone["path"]] and "404 No such HLS file." in result.failures[
        0
    ].message
    assert result.files_fetched == len(listed(client, site, doc)) - 1 and site.layout.applied() is None


# --- window, bandwidth, priority ----------------------------------------------------------------------


def test_download_windows_may_wrap_midnight() -> None:
    at = lambda h, m=0: datetime(2025, 6, 1, h, m)  # noqa: E731
    assert parse_window(None) is None and parse_window("") is None
    assert in_window(None, at(12))
    assert in_window("01:00-05:00", at(1)) and in_window("01:00-05:00", at(4, 59))
    assert not in_window("01:00-05:00", at(5)) and not in_window("01:00-05:00", at(0, 59))
    assert (
        in_window("22:30-06:00", at(23))
        and in_window("22:30-06:00", at(0))
        and in_window("22:30-06:00", at(5))
    )
    assert not in_window("22:30-06:00", at(22, 29)) and not in_window("22:30-06:00", at(12))
    for bad in ("1:00-5:00", "01:00-24:00", "05:00-05:00", "nonsense"):
        with pytest.raises(AgentError, match="download window"):
            parse_window(bad)


def test_the_daemon_waits_for_the_window_while_a_hand_run_sync_does_not(
    client: TestClient, site: Site, programme: str, admin: dict[str, str]
) -> None:
    r = client.patch(f"/api/v1/sites/{site.id}", headers=admin, json={"download_window": "01:00-05:00"})
    assert r.status_code == 200
    noon = site.syncer(clock=lambda: datetime(2025, 6, 1, 12, 0)).sync(download=None)
    assert noon.deferred and noon.files_fetched == 0 and noon.files_missing > 0
    assert noon.error is None and site.layout.applied() is None
    night = site.syncer(clock=lambda: datetime(2025, 6, 1, 2, 0)).sync(download=None)
    assert night.complete and not night.deferred
    assert site.files() == expected(client, site, manifest(client, site))


def test_the_window_is_beijing_time_on_a_pc_whose_clock_is_utc(
    client: TestClient, site: Site, programme: str, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator sets windows in Beijing time; a village PC set to UTC (or without a zone
    database) must not download eight hours off. The clock is mediasrv.protocol.china's, moved here."""
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        moment = datetime.now(UTC).replace(second=0, microsecond=0)
        monkeypatch.setattr(china, "utc_now", lambda: moment)
        hour = china.now_in_china().hour  # the PC's own clock says hour - 8
        window = f"{hour:02d}:00-{(hour + 2) % 24:02d}:00"
        r = client.patch(f"/api/v1/sites/{site.id}", headers=admin, json={"download_window": window})
        assert r.status_code == 200
        result = site.syncer().sync(download=None)  # the daemon's run, with the agent's own clock
        assert result.complete and not result.deferred, result
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()


def test_the_token_bucket_holds_the_average_rate() -> None:
    now, slept = [0.0], []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(1000.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        bucket.take(500)
    assert now[0] == pytest.approx(5.0)  # 5,000 bytes at 1,000 bytes a second, no initial burst


def test_required_programmes_come_first_and_playlists_after_their_segments() -> None:
    def f(path: str) -> dict[str, Any]:
        return {"path": path, "size": 1, "sha256": "0" * 64, "url": "/hls/" + path}

    files = [
        f("a/iptv.m3u8"),
        f("a/g/seg_0.ts"),
        f("b/iptv.m3u8"),
        f("b/g/seg_0.ts"),
        f("d/document.pdf"),
        f("z/x"),
    ]
    doc = {
        "format": 2,
        "order": ["pb", "pa"],
        "programmes": [
            {"id": "pa", "asset_id": "a", "attachments": []},
            {"id": "pb", "asset_id": "b", "attachments": ["d/document.pdf"]},
        ],
    }
    order = [e["path"] for e in download_order(doc, files)]
    assert order == ["b/g/seg_0.ts", "b/iptv.m3u8", "d/document.pdf", "a/g/seg_0.ts", "a/iptv.m3u8", "z/x"]


def test_one_sync_at_a_time(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "site")
    with (
        layout.lock(),
        pytest.raises(AgentError, match=f"being synced by process {os.getpid()}"),
        layout.lock(),
    ):
        pass
    with layout.lock():  # released
        pass


# --- heartbeats -----------------------------------------------------------------------------------------


def test_reports_queue_offline_and_arrive_once(
    client: TestClient, db: Database, site: Site, programme: str, admin: dict[str, str]
) -> None:
    result = site.sync()
    reporter = Reporter(site.layout, site.agent, site.id)

    def offline(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]) -> httpx.Response:
        raise httpx.ConnectError("network unreachable", request=request)

    site.line.handler = offline
    first, second = make_report(site.layout, result), make_report(site.layout, result)
    assert reporter.deliver(first).queued == 1 and reporter.deliver(second).queued == 2
    assert [r["report_id"] for r in queued(site.layout)] == [first["report_id"], second["report_id"]]

    site.line.handler = None
    latest = make_report(site.layout, result)
    delivery = reporter.deliver(latest)
    assert (delivery.sent, delivery.queued, delivery.error) == (3, 0, None)
    assert delivery.ack is not None and delivery.ack["in_sync"] and delivery.ack["counted"]
    assert queued(site.layout) == []

    # The answer to `second` was lost on the way and the agent sends it again: acknowledged, not counted.
    site.layout.reports.write_bytes(canonical(second) + b"\n")
    resent = reporter.deliver()
    assert resent.sent == 1 and resent.ack is not None and resent.ack["counted"] is False
    with db.session_scope() as s:
        presence = s.scalars(select(SitePresence).where(SitePresence.site_id == site.id)).one()
        assert (presence.day, presence.heartbeats) == (today_in_china(), 3)
    [row] = client.get("/api/v1/fleet/sites", headers=admin).json()["items"]
    assert row["heartbeats_today"] == 3 and row["in_sync"] and row["applied_version"] == result.version
    assert row["observed_at"] is not None
    assert datetime.fromisoformat(row["observed_at"]) == datetime.fromisoformat(latest["observed_at"])


def test_reports_older_than_a_week_are_dropped_from_the_queue(site: Site) -> None:
    old = {"report_id": "a" * 32, "observed_at": (datetime.now(UTC) - timedelta(days=8)).isoformat()}
    site.layout.ensure()
    site.layout.reports.write_bytes(canonical(old) + b"\n")
    delivery = Reporter(site.layout, site.agent, site.id).deliver()
    assert (delivery.sent, delivery.queued) == (0, 0) and not site.layout.reports.exists()


class CaptivePortal(http.server.BaseHTTPRequestHandler):
    """A hotel or village Wi-Fi's login page: 200 and HTML to whatever is asked."""

    PAGE = b"<!doctype html><html><head><title>WiFi Login</title></head><body>Sign in</body></html>"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.PAGE)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def captive_portal() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CaptivePortal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_captive_portal_holds_everything_back_and_loses_nothing(
    client: TestClient, site: Site, programme: str, admin: dict[str, str], captive_portal: str
) -> None:
    """A portal answers the sync run with 200 and its login page: heartbeat, viewing evidence and
    study records all wait (none is taken for delivered, none skipped), and all arrive once the
    line reaches the server again."""
    site.sync()
    player_hash = player_id(site.id, "192.168.1.31", "IPTV STB")
    day = today_in_china()
    line = {
        "day": day.isoformat(),
        "programme_id": programme,
        "player": player_hash,
        "segment": 0,
        "seconds": 6.0,
    }
    viewing.queue_path(site.layout).write_text(json.dumps(line) + "\n")
    outbox = records.Outbox(site.layout)
    session = outbox.add(
        records.new_session(
            {
                "started_at": datetime.now(UTC).isoformat(),
                "minutes": 45,
                "members_present": 8,
                "programmes": [programme],
            }
        )
    )
    outbox.add(records.new_demand({"topic": "果树冬季修剪"}, set()))

    with httpx.Client(base_url=captive_portal, headers=site.headers) as portal:
        result, delivery, recorded = _run_once(site.layout, portal, verify=False, download=True, attempts=1)
    assert result.error is not None  # the portal's page is no manifest
    assert (delivery.sent, delivery.queued) == (0, 1) and delivery.error and "WiFi Login" in delivery.error
    assert delivery.viewing is not None and (delivery.viewing.sent, delivery.viewing.queued) == (0, 1)
    assert (recorded.sent, recorded.refused, recorded.queued) == (0, 0, 2)
    assert {r.state for r in outbox.all()} == {records.State.PENDING}
    assert len(queued(site.layout)) == 1

    result, delivery, recorded = _run_once(site.layout, site.agent, verify=False, download=True, attempts=1)
    assert result.error is None
    assert (delivery.sent, delivery.queued, delivery.error) == (2, 0, None)  # the held report and this one
    assert delivery.viewing is not None and (delivery.viewing.sent, delivery.viewing.queued) == (1, 0)
    assert (recorded.sent, recorded.queued, recorded.error) == (2, 0, None)
    [row] = client.get("/api/v1/fleet/sites", headers=admin).json()["items"]
    assert row["heartbeats_today"] == 2  # the one held back, and this run's
    [seen] = client.get(f"/api/v1/sites/{site.id}/viewing", headers=admin).json()
    assert (seen["programme_id"], seen["players"]) == (programme, 1)
    sessions = client.get(
        f"/api/v1/sites/{site.id}/sessions", headers=admin, params={"month": day.strftime("%Y-%m")}
    ).json()
    assert [s["id"] for s in sessions] == [session.id]


def test_signature_check_uses_the_pinned_key(client: TestClient, site: Site, programme: str) -> None:
    config = site.layout.load_config()
    other = base64.b64encode(b"\x01" * 32).decode()
    site.layout.save_config(config.model_copy(update={"public_key": other}))
    result = site.sync()
    assert result.error is not None and "MEDIASRV_SECRET_KEY changed" in result.error


def test_the_player_component_comes_from_the_server_when_the_pc_lacks_it(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site PC installed without npm access gets hls.js from its server, checked against the pin;
    a server whose copy is not the pinned one is asked again a day later, not at every sync."""
    monkeypatch.setattr(player, "INSTALLED", tmp_path / "not-in-the-package")
    assert player.path(site.layout) is None
    site.line.handler = lambda request, send: httpx.Response(503)  # the line is down
    assert "503" in (player.ensure(site.layout, site.agent) or "")
    site.line.handler = lambda request, send: httpx.Response(200, content=b"x" * (player.LIMIT + 1))
    assert "over 5 MB" in (player.ensure(site.layout, site.agent) or "")
    site.line.handler = lambda request, send: httpx.Response(200, content=b"alert('not hls.js')")
    refused_at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert "refused" in (player.ensure(site.layout, site.agent, now=refused_at) or "")
    assert player.path(site.layout) is None  # nothing kept from any of these answers

    site.line.handler = None  # the server has the right one now: still not asked until a day passed
    asked = len(site.line.requests)
    later = player.ensure(site.layout, site.agent, now=refused_at + timedelta(hours=23))
    assert later and "a day later" in later and len(site.line.requests) == asked
    assert player.ensure(site.layout, site.agent, now=refused_at + timedelta(days=1, minutes=1)) is None
    kept = player.path(site.layout)
    assert kept == site.layout.root / "vendor" / "hls.min.js"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == pinned_sha256("hls.min.js")
    assert not player.refused_path(site.layout).exists()
    asked = len(site.line.requests)
    assert player.ensure(site.layout, site.agent) is None and len(site.line.requests) == asked  # once
