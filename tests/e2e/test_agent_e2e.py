"""The site agent end to end: a real `mediasrv serve` and worker, and `mediasrv-site` as a subprocess.

A fresh sync ends byte-identical to the manifest; an agent killed mid-download resumes; a damaged
file is found by `sync --verify`; a server outage mid-sync loses nothing; heartbeats made offline
arrive once the server is back, each exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediasrv.protocol.document import list_digests, list_url, site_files
from tests.e2e.stack import BIN, Stack
from tests.mediafactory import make_media
from tests.web.test_site_view import serving

pytestmark = pytest.mark.e2e

AGENT = str(BIN / "mediasrv-site")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e-agent") / "var").start()
    try:
        tmp = tmp_path_factory.mktemp("media")
        film = s.wait(s.upload(make_media(tmp / "乡村振兴.mp4", seconds=16, width=320, height=180))["id"])
        assert film["status"] == "ready", film["error"]
        pdf = tmp / "讲义.pdf"
        pdf.write_bytes(b"%PDF-1.4\n% handout\ntrailer<<>>\n%%EOF\n")
        handout = s.wait(s.upload(pdf)["id"])
        assert handout["status"] == "ready", handout["error"]
        api = s.url + "/api/v1"
        body = {
            "title": "乡村振兴",
            "category": "agri-tech",
            "asset_id": film["id"],
            "attachment_ids": [handout["id"]],
        }
        programme = httpx.post(f"{api}/programmes", headers=s.headers, json=body)
        assert programme.status_code == 201, programme.text
        published = httpx.post(f"{api}/programmes/{programme.json()['id']}/publish", headers=s.admin)
        assert published.status_code == 200, published.text
        yield s
    finally:
        s.stop()


@dataclass
class Site:
    id: int
    code: str
    token: str
    dir: Path


_codes = iter(range(1, 100))


def new_site(stack: Stack, tmp_path: Path, **fields: Any) -> Site:
    """A registered site with a token, and its agent set up with `mediasrv-site init`."""
    api = stack.url + "/api/v1"
    code = f"xt-{next(_codes):02d}"
    site = httpx.post(f"{api}/sites", headers=stack.admin, json={"code": code, "name": "西塘村", **fields})
    assert site.status_code == 201, site.text
    sid = site.json()["id"]
    token = httpx.post(f"{api}/tokens", headers=stack.admin, json={"name": "agent", "site_id": sid})
    assert token.status_code == 201, token.text
    s = Site(sid, code, token.json()["token"], tmp_path / code)
    r = agent("init", "--server", stack.url, "--token", s.token, "--dir", str(s.dir))
    assert r.returncode == 0, r.stderr
    return s


# A village PC's locale: the agent speaks Chinese whatever the machine running the tests says.
CHINESE = {**{k: v for k, v in os.environ.items() if not k.startswith("LC_")}, "LANG": "zh_CN.UTF-8"}


def agent(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENT, *args], capture_output=True, text=True, timeout=timeout, check=False, env=CHINESE
    )


def start_agent(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [AGENT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=CHINESE,
    )


def status(site: Site) -> dict[str, Any]:
    r = agent("status", "--json", "--dir", str(site.dir))
    assert r.returncode == 0, r.stderr
    info: dict[str, Any] = json.loads(r.stdout)
    return info


def manifest(stack: Stack, site: Site) -> dict[str, Any]:
    r = httpx.get(
        f"{stack.url}/api/v1/sites/{site.id}/manifest", headers={"Authorization": f"Bearer {site.token}"}
    )
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def on_disk(site: Site) -> dict[str, str]:
    root = site.dir / "files"
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def listed(stack: Stack, site: Site, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a manifest asks for, through its file lists as the server gives them to the site."""
    auth = {"Authorization": f"Bearer {site.token}"}
    lists = {sha: httpx.get(stack.url + list_url(sha), headers=auth).json() for sha in list_digests(doc)}
    return site_files(doc, lists)


def expected(stack: Stack, site: Site, doc: dict[str, Any]) -> dict[str, str]:
    return {e["path"]: e["sha256"] for e in listed(stack, site, doc)}


def patch(stack: Stack, site: Site, **fields: Any) -> None:
    r = httpx.patch(f"{stack.url}/api/v1/sites/{site.id}", headers=stack.admin, json=fields)
    assert r.status_code == 200, r.text


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def partial_bytes(site: Site) -> int:
    return sum(p.stat().st_size for p in (site.dir / "partial").glob("*"))


def kill_server(stack: Stack) -> None:
    assert stack.server is not None
    os.killpg(stack.server.pid, signal.SIGKILL)
    stack.server.wait(timeout=10)


def restart_server(stack: Stack) -> None:
    """`mediasrv serve` again on the same port and data directory, as after a crash or a reboot."""
    stack.server = stack._spawn("server-again", "serve", "--port", str(stack.port))

    def up() -> bool:
        try:
            return httpx.get(stack.url + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, "the server to come back")


def fleet_row(stack: Stack, site: Site) -> dict[str, Any]:
    items = httpx.get(f"{stack.url}/api/v1/fleet/sites", headers=stack.admin, params={"limit": 200}).json()
    row: dict[str, Any] = next(i for i in items["items"] if i["site_id"] == site.id)
    return row


# --- the tests -----------------------------------------------------------------------------------------


def test_init_refuses_a_token_that_is_not_a_site_s(stack: Stack, tmp_path: Path) -> None:
    r = agent("init", "--server", stack.url, "--token", stack.token, "--dir", str(tmp_path / "x"))
    assert r.returncode == 2 and "不是站点的令牌" in r.stderr and "mediasrv token create --site" in r.stderr
    assert not (tmp_path / "x" / "agent.json").exists()
    bad = agent("init", "--server", stack.url, "--token", "msv_nonsense", "--dir", str(tmp_path / "y"))
    assert bad.returncode == 2 and "不接受这个令牌" in bad.stderr


def test_a_fresh_sync_ends_byte_identical_to_the_manifest(stack: Stack, tmp_path: Path) -> None:
    site = new_site(stack, tmp_path)
    r = agent("sync", "--dir", str(site.dir))
    assert r.returncode == 0, r.stderr
    doc = manifest(stack, site)
    assert on_disk(site) == expected(stack, site, doc)  # every file, byte for byte, and nothing else
    assert (site.dir / "manifest.json").read_bytes() == json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    info = status(site)
    assert info["applied_version"] == doc["version"]
    assert info["files_present"] == len(listed(stack, site, doc))
    assert info["last_sync"]["complete"] and info["last_sync"]["bytes_downloaded"] == doc["bytes"]
    assert info["queued_reports"] == 0
    row = fleet_row(stack, site)
    assert row["in_sync"] and row["applied_version"] == doc["version"] and row["agent_version"]

    # A damaged file (same size, same mtime: bit rot) is found by --verify and fetched again.
    victim = site.dir / "files" / max(listed(stack, site, doc), key=lambda e: e["size"])["path"]
    before = victim.stat()
    with victim.open("r+b") as f:
        f.seek(before.st_size // 2)
        f.write(b"\xde\xad\xbe\xef")
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    fixed = agent("sync", "--verify", "--dir", str(site.dir))
    assert fixed.returncode == 0, fixed.stderr
    assert "替换了 1 个损坏的文件" in fixed.stderr
    last = status(site)["last_sync"]
    assert (
        last["files_corrupt"] == 1
        and last["files_fetched"] == 1
        and last["bytes_downloaded"] == before.st_size
    )
    assert on_disk(site) == expected(stack, site, doc)


def test_an_agent_killed_mid_download_resumes(stack: Stack, tmp_path: Path) -> None:
    site = new_site(stack, tmp_path, bandwidth_kbps=400)  # 50 kB/s: slow enough to be caught mid-file
    doc = manifest(stack, site)
    total = doc["bytes"]
    proc = start_agent("sync", "--dir", str(site.dir))
    wait_for(lambda: partial_bytes(site) >= 100_000, "the first file to be half downloaded")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    have = partial_bytes(site) + sum(  # what the killed run left on disk
        e["size"]
        for e in listed(stack, site, doc)
        if (p := site.dir / "files" / e["path"]).is_file() and p.stat().st_size == e["size"]
    )
    assert 0 < have < total and not (site.dir / "manifest.json").exists()  # nothing claimed yet

    patch(stack, site, bandwidth_kbps=None)  # lift the cap (a new manifest version: a delta)
    r = agent("sync", "--dir", str(site.dir))
    assert r.returncode == 0, r.stderr
    assert on_disk(site) == expected(stack, site, manifest(stack, site))
    last = status(site)["last_sync"]
    redownloaded = last["bytes_downloaded"] - (total - have)
    print(
        f"total {total} B, on disk at the kill {have} B, fetched after restart {last['bytes_downloaded']} B"
    )
    print(f"re-downloaded {redownloaded} B, resumed {last['bytes_resumed']} B")
    assert last["bytes_resumed"] >= 100_000
    assert redownloaded <= 0.02 * total  # resumed, not restarted


def test_a_server_outage_mid_sync_loses_nothing(stack: Stack, tmp_path: Path) -> None:
    site = new_site(stack, tmp_path, bandwidth_kbps=2400)  # 300 kB/s: a sync of a few seconds
    doc = manifest(stack, site)
    proc = start_agent("sync", "--dir", str(site.dir))
    wait_for(lambda: partial_bytes(site) > 0, "the download to start")
    kill_server(stack)
    time.sleep(1.5)  # the agent meets refused connections and backs off
    restart_server(stack)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert on_disk(site) == expected(stack, site, doc)
    last = status(site)["last_sync"]
    # It met the outage (refused connections, maybe a body cut short) and waited it out. Whether a
    # file was cut mid-body depends on how much the dead server had already left in the socket.
    assert last["complete"] and ("ConnectError" in err or "RemoteProtocolError" in err), err
    assert last["bytes_downloaded"] == doc["bytes"]  # each byte fetched once: nothing lost, nothing twice
    assert fleet_row(stack, site)["in_sync"]


def test_heartbeats_made_offline_arrive_once_when_the_server_is_back(stack: Stack, tmp_path: Path) -> None:
    site = new_site(stack, tmp_path)
    assert agent("sync", "--dir", str(site.dir)).returncode == 0
    assert fleet_row(stack, site)["heartbeats_today"] == 1

    kill_server(stack)
    try:
        for _ in range(2):
            r = agent("sync", "--attempts", "1", "--dir", str(site.dir))
            assert r.returncode == 2 and "暂时连不上县里的服务器" in r.stderr, r.stderr
    finally:
        restart_server(stack)
    queue = {p: p.read_bytes() for p in (site.dir / "heartbeats").glob("*.json")}  # the heartbeats' outbox
    offline = sorted((json.loads(item)["body"] for item in queue.values()), key=lambda r: r["observed_at"])
    assert len(offline) == 2 and status(site)["queued_reports"] == 2

    r = agent("sync", "--dir", str(site.dir))
    assert r.returncode == 0 and "状态报告已发送（与县里一致）" in r.stderr, r.stderr
    assert not list((site.dir / "heartbeats").glob("*.json"))
    row = fleet_row(stack, site)
    assert row["heartbeats_today"] == 1 + 2 + 1  # the first, both queued, the newest: each once
    assert datetime.fromisoformat(row["observed_at"]) > datetime.fromisoformat(offline[-1]["observed_at"])

    # The answers were lost on the way: the agent sends the same reports again with the next one.
    for path, item in queue.items():
        path.write_bytes(item)
    assert agent("sync", "--dir", str(site.dir)).returncode == 0
    assert fleet_row(stack, site)["heartbeats_today"] == 5  # only the new report counted


def test_a_fault_reported_on_the_site_view_travels_through_an_outage_to_the_centre_once(
    stack: Stack, tmp_path: Path
) -> None:
    """Issue 20: a member reports a broken TV on the site view while the county's server is down; the
    report waits on the PC, reaches the centre once when the line is back (even when the answer is
    lost and the agent sends it again), and what the county did shows on the site view."""
    site = new_site(stack, tmp_path, region="河北省/邢台市/信都区/西黄村镇/西塘村")
    assert agent("sync", "--dir", str(site.dir)).returncode == 0
    as_site_view = {"X-Site-View": "1"}  # what static/site.js sends with its posts
    centre = f"{stack.url}/api/v1/sites/{site.id}/faults"
    with serving(site.dir) as lan:
        kill_server(stack)
        try:
            body = {"id": uuid.uuid4().hex, "kind": "tv_broken", "note": "电视不亮了"}
            made = httpx.post(f"{lan}/faults", json=body, headers=as_site_view, timeout=30)
            assert made.status_code == 201, made.text
            r = agent("sync", "--attempts", "1", "--dir", str(site.dir))
            assert r.returncode == 2, r.stderr
            (waiting,) = httpx.get(f"{lan}/faults", timeout=30).json()["reports"]
            assert waiting["state"] == "pending"
        finally:
            restart_server(stack)
        item = site.dir / "faults" / f"{body['id']}.json"
        queued = item.read_bytes()
        assert agent("sync", "--dir", str(site.dir)).returncode == 0
        (fault,) = httpx.get(centre, headers=stack.admin, params={"open_only": False}).json()["items"]
        assert (fault["kind"], fault["note"], fault["evidence"]["reports"]) == ("tv_broken", "电视不亮了", 1)
        (shown,) = httpx.get(f"{lan}/faults", timeout=30).json()["reports"]
        assert (shown["state"], shown["fault_id"]) == ("delivered", fault["id"])

        # The answer was lost on the way: the agent sends the same report again. Still one fault.
        item.write_bytes(queued)
        assert agent("sync", "--dir", str(site.dir)).returncode == 0
        (again,) = httpx.get(centre, headers=stack.admin, params={"open_only": False}).json()["items"]
        assert (again["id"], again["evidence"]["reports"]) == (fault["id"], 1)

        # The county repairs it; the next sync's heartbeat brings the word back to the site view.
        closed = httpx.post(
            f"{stack.url}/api/v1/faults/{fault['id']}/close", headers=stack.admin, json={"note": "换了新电视"}
        )
        assert closed.status_code == 200, closed.text
        assert agent("sync", "--dir", str(site.dir)).returncode == 0
        (shown,) = httpx.get(f"{lan}/faults", timeout=30).json()["reports"]
        assert (shown["state"], shown["closed_note"]) == ("delivered", "换了新电视") and shown["closed_at"]


def test_the_daemon_syncs_and_stops_cleanly_on_sigterm(stack: Stack, tmp_path: Path) -> None:
    site = new_site(stack, tmp_path)
    proc = start_agent("daemon", "--interval", "1", "--dir", str(site.dir))
    wait_for(lambda: (site.dir / "manifest.json").exists(), "the daemon's first sync")
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "后台同步已停止" in err and "状态报告已发送" in err
    assert on_disk(site) == expected(stack, site, manifest(stack, site))
