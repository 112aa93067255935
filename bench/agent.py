"""Site agent sync over loopback: throughput against curl fetching the same files, and flat memory.

    .venv/bin/python bench/agent.py [--gigabytes 2] [--segment-mb 2] [--films 20] [--keep]

Generates a fresh data directory (SQLite at the default URL, the default local object store): --films
ready assets, each with one rendition in group "iptv" whose segments are real files of random bytes in
the object store (hls/<asset>/<generation>/iptv/seg_NNNNN.ts, --segment-mb each, --gigabytes in all,
SHA-256 taken while writing), a media playlist and a poster; their programmes published and on a
required study list in force everywhere; one iptv site without quota, window or bandwidth cap, and its
token. Then `mediasrv serve` on a free 127.0.0.1 port, and, each against a baseline in the same run:

1. curl: every file of the site's manifest (same URLs, same bearer token), in one curl process with
   keep-alive, to /dev/null: the network and server baseline.
2. agent: `mediasrv-site init`, then `mediasrv-site sync` (a subprocess) into an empty cache directory,
   its RSS sampled every 50 ms from /proc and its peak taken from the kernel (ru_maxrss) at exit.
   Throughput is bytes synced / wall time, including the agent's start-up, hashing, writes and fsyncs;
   target: peak RSS under 150 MB.
3. a second `sync` right after (nothing to download): its time.
4. resume: a fresh cache directory, the sync killed with SIGKILL at about half of the bytes, mid-file, then
   `sync` again: bytes fetched twice (the target is ~0: the partial resumes with Range).

Waits first until no bench/sites.py runs (the two would disturb each other on a small machine).
Needs about twice --gigabytes of free disk (object store + agent cache). Only 127.0.0.1 is used; every
process started here is stopped at the end and the temporary directory removed (unless --keep), also
on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import HOST, Processes, Report, free_port, verdict, wait_until_up

RSS_LIMIT_MB = 150.0
SEGMENT_SECONDS = 6.0
WRITE_CHUNK = 1024 * 1024
MB = 1000**2
GB = 1000**3
OTHER_BENCH = "bench/sites.py"

# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    data_dir: Path
    site_id: int
    token: str  # the site's plain bearer token
    segments: int
    segment_bytes: int  # bytes of segment files written to the store
    seconds: float


def write_random(path: Path, size: int) -> str:
    """A file of `size` random bytes, written in chunks (never all in memory); its hex SHA-256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(WRITE_CHUNK, left))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def write_text(path: Path, text: str) -> tuple[int, str]:
    body = text.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return len(body), hashlib.sha256(body).hexdigest()


def media_playlist(segments: int) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS:.0f}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for k in range(segments):
        lines += [f"#EXTINF:{SEGMENT_SECONDS:.3f},", f"seg_{k:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def generate(data_dir: Path, *, total_bytes: int, segment_bytes: int, films: int) -> Dataset:
    from sqlalchemy import insert

    from mediasrv import migrations
    from mediasrv.accounts.models import ApiToken, OrgUnit, User
    from mediasrv.accounts.service import TOKEN_PREFIX, hash_secret
    from mediasrv.catalog.models import Programme, ProgrammeStatus
    from mediasrv.config import Settings
    from mediasrv.db import Database
    from mediasrv.ingest.models import Asset, AssetFile, AssetKind, AssetStatus, Rendition
    from mediasrv.kit.caller import Role
    from mediasrv.protocol.china import today_in_china
    from mediasrv.sites.models import DeviceProfile, Site
    from mediasrv.storage.local import LocalStore
    from mediasrv.study.models import StudyKind, StudyList, StudyListItem, StudyListStatus

    started = time.perf_counter()
    # Explicit empty URLs: a MEDIASRV_* URL in this environment must not point the bench elsewhere.
    settings = Settings(data_dir=data_dir, database_url="", storage_url="", broker_url="")
    data_dir.mkdir(parents=True, exist_ok=True)
    objects = Path(settings.resolved_storage_url.removeprefix("file://"))
    store = LocalStore(objects)  # files at <data_dir>/objects/<key>, what `mediasrv serve` reads
    db = Database(settings.resolved_database_url)
    migrations.upgrade(db)
    now = datetime.now(UTC)
    today = today_in_china()
    count = max(films, round(total_bytes / segment_bytes))
    per_film = [count // films + (1 if k < count % films else 0) for k in range(films)]

    assets: list[dict[str, Any]] = []
    renditions: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    programmes: list[dict[str, Any]] = []
    written = 0
    for k, segments in enumerate(per_film):
        asset_id, generation, programme_id = (secrets.token_hex(16) for _ in range(3))
        prefix = f"hls/{asset_id}/{generation}/"
        for n in range(segments):
            rel = f"{generation}/iptv/seg_{n:05d}.ts"
            sha = write_random(objects / "hls" / asset_id / rel, segment_bytes)
            files.append({"asset_id": asset_id, "path": rel, "size_bytes": segment_bytes, "sha256": sha})
            written += segment_bytes
        size, sha = write_text(objects / prefix / "iptv/index.m3u8", media_playlist(segments))
        files.append(
            {"asset_id": asset_id, "path": f"{generation}/iptv/index.m3u8", "size_bytes": size, "sha256": sha}
        )
        poster_size = 40_000 + 1_000 * k
        sha = write_random(objects / prefix / "poster.jpg", poster_size)
        files.append(
            {
                "asset_id": asset_id,
                "path": f"{generation}/poster.jpg",
                "size_bytes": poster_size,
                "sha256": sha,
            }
        )
        assert store.stat(prefix + "iptv/seg_00000.ts") is not None  # where the server will look
        duration = segments * SEGMENT_SECONDS
        rate = int(segment_bytes * 8 / SEGMENT_SECONDS)
        renditions.append(
            {
                "asset_id": asset_id,
                "name": "iptv",
                "groups": ["iptv"],
                "playlist_key": prefix + "iptv/index.m3u8",
                "codecs": "avc1.640028,mp4a.40.2",
                "width": 1920,
                "height": 1080,
                "frame_rate": 25.0,
                "bandwidth": int(rate * 1.1),
                "average_bandwidth": rate,
                "segment_count": segments,
                "duration_seconds": duration,
                "size_bytes": segments * segment_bytes,
            }
        )
        title = f"基准测试影片 第{k + 1}集"
        published_at = now - timedelta(hours=k + 1)
        source_sha = secrets.token_hex(32)
        assets.append(
            {
                "id": asset_id,
                "sha256": source_sha,
                "filename": f"{title}.mp4",
                "title": title,
                "size_bytes": segments * segment_bytes,
                "source_key": f"sources/{source_sha[:2]}/{source_sha}",
                "kind": AssetKind.VIDEO,
                "status": AssetStatus.READY,
                "progress": 100.0,
                "duration_seconds": duration,
                "generation": generation,
                "published_generation": generation,
                "poster_key": prefix + "poster.jpg",
                "attempts": 1,
                "created_at": published_at - timedelta(hours=2),
                "updated_at": published_at - timedelta(hours=1),
            }
        )
        programmes.append(
            {
                "id": programme_id,
                "title": title,
                "description": "基准测试用的随机数据。",
                "category_code": "agri-tech",
                "language": "zh",
                "asset_id": asset_id,
                "status": ProgrammeStatus.PUBLISHED,
                "published_at": published_at,
                "created_at": published_at - timedelta(hours=2),
                "updated_at": published_at,
            }
        )

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.engine.begin() as conn:
        unit = conn.execute(
            insert(OrgUnit).values(name="县委组织部电教中心", created_at=now)
        ).inserted_primary_key
        admin = conn.execute(
            insert(User).values(
                username="bench-admin",
                display_name="基准测试管理员",
                role=Role.ADMIN,
                password_hash=None,
                is_active=True,
                created_at=now,
            )
        ).inserted_primary_key
        assert unit is not None and admin is not None
        conn.execute(insert(Asset), [{**a, "org_unit_id": unit[0]} for a in assets])
        conn.execute(insert(Rendition), renditions)
        conn.execute(insert(AssetFile), files)
        conn.execute(insert(Programme), [{**p, "org_unit_id": unit[0]} for p in programmes])
        listed = conn.execute(
            insert(StudyList).values(
                title=f"{today.year}年党员必学清单",
                kind=StudyKind.REQUIRED,
                status=StudyListStatus.PUBLISHED,
                starts_on=today - timedelta(days=30),
                ends_on=today + timedelta(days=60),
                expected_hours=10.0,
                regions=[],
                created_by_user_id=admin[0],
                created_at=now,
                updated_at=now,
                published_at=now,
            )
        ).inserted_primary_key
        assert listed is not None
        conn.execute(
            insert(StudyListItem),
            [
                {"study_list_id": listed[0], "programme_id": p["id"], "position": k}
                for k, p in enumerate(programmes)
            ],
        )
        conn.execute(
            insert(Site).values(
                id=1,
                code="hb-bench-0001",
                name="西塘村党群服务中心",
                region="河北省/邢台市/临城县/西竖镇/西塘村",
                device_profile=DeviceProfile.IPTV,
                quota_bytes=None,
                created_at=now,
            )
        )
        conn.execute(
            insert(ApiToken).values(
                name="site agent", token_hash=hash_secret(token), site_id=1, created_at=now
            )
        )
    db.dispose()
    return Dataset(data_dir, 1, token, count, written, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------
# Processes (the few lines of bench/sites.py this needs, copied: bench scripts are not a package)
# --------------------------------------------------------------------------------------------------


def command(name: str, module: str) -> list[str]:
    """This venv's console script `name`, or the module's main() through this interpreter."""
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-c", f"from {module} import main; main()"]


def clean_env(data_dir: Path | None = None) -> dict[str, str]:
    """This environment without any MEDIASRV_* setting (and, for the server, its data directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIASRV_")}
    if data_dir is not None:
        env["MEDIASRV_DATA_DIR"] = str(data_dir)
    return env


def wait_for_other_bench() -> None:
    """Block while bench/sites.py runs: on two cores the two would skew each other's timings."""
    said = 0.0
    while True:
        found = subprocess.run(["pgrep", "-f", OTHER_BENCH], capture_output=True, text=True).stdout.split()
        pids = [p for p in found if int(p) != os.getpid()]
        if not pids:
            return
        if time.monotonic() - said > 60:
            print(f"  waiting for {OTHER_BENCH} (pid {', '.join(pids)}) to finish", flush=True)
            said = time.monotonic()
        time.sleep(5)


# --------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    returncode: int
    rss_mb: list[float] = field(default_factory=list)  # VmRSS every SAMPLE seconds
    peak_mb: float = 0.0  # the kernel's high-water mark (ru_maxrss at exit)


SAMPLE = 0.05
PARTIAL_AT_KILL = 256 * 1024  # the resume case kills the agent with at least this much of a file


def proc_status_mb(pid: int, key: str) -> float | None:
    try:
        with Path(f"/proc/{pid}/status").open() as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run_sampled(
    procs: Processes,
    name: str,
    argv: list[str],
    env: dict[str, str],
    *,
    kill_when: Callable[[], bool] | None = None,
    every: float = SAMPLE,
) -> Run:
    """Start `argv`, sample its RSS every `every` s until it exits (or `kill_when()` says to SIGKILL
    it); the peak RSS is the kernel's, from wait4 (exact, unlike the samples)."""
    t0 = time.perf_counter()
    proc = procs.start(name, argv, env)
    samples: list[float] = []
    hwm = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            seconds = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
            procs.running.pop(name, None)
            return Run(seconds, proc.returncode, samples, max(hwm, usage.ru_maxrss / 1024))
        rss = proc_status_mb(proc.pid, "VmRSS")
        if rss is not None:
            samples.append(rss)
            hwm = max(hwm, proc_status_mb(proc.pid, "VmHWM") or 0.0)
        if kill_when is not None and kill_when():
            os.kill(proc.pid, signal.SIGKILL)
            kill_when = None
        time.sleep(every)


def agent(procs: Processes, site_dir: Path, *args: str, name: str = "agent") -> Run:
    return run_sampled(
        procs,
        name,
        [*command("mediasrv-site", "mediasrv.agent.cli"), *args, "--dir", str(site_dir)],
        clean_env(),
    )


def agent_status(site_dir: Path) -> dict[str, Any]:
    argv = [*command("mediasrv-site", "mediasrv.agent.cli"), "status", "--json", "--dir", str(site_dir)]
    out = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, check=True).stdout
    status: dict[str, Any] = json.loads(out)
    return status


def on_disk(folder: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += Path(dirpath, name).stat().st_size
    return total


def run_curl(tmp: Path, base: str, token: str, urls: list[str]) -> tuple[float, int]:
    """All `urls` in one curl process (keep-alive), bodies to /dev/null: seconds and bytes received."""
    cfg = tmp / "curl.cfg"
    lines = [f'header = "Authorization: Bearer {token}"', 'write-out = "%{size_download}\\n"']
    for url in urls:
        lines += [f'url = "{base}{url}"', 'output = "/dev/null"']
    cfg.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    done = subprocess.run(["curl", "-sS", "--fail", "-K", str(cfg)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return seconds, sum(int(n) for n in done.stdout.split())


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def rate(n: int, seconds: float) -> float:
    return n / MB / seconds if seconds else 0.0


def describe_rss(run: Run) -> str:
    s = run.rss_mb
    if not s:
        return f"peak {run.peak_mb:.0f} MB"
    late = s[len(s) // 2 :]  # the second half of the run: flat means no growth there
    return (
        f"peak {run.peak_mb:.0f} MB; sampled {len(s)}x: at 1 s {s[min(len(s) - 1, int(1 / SAMPLE))]:.0f},"
        f" mid {s[len(s) // 2]:.0f}, last {s[-1]:.0f}, 2nd half {min(late):.0f}-{max(late):.0f} MB"
    )


# --------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--gigabytes", type=float, default=2.0, help="bytes of segments to sync (GB, 10^9)")
    ap.add_argument("--segment-mb", type=float, default=2.0, help="size of one segment (MB, 10^6)")
    ap.add_argument("--films", type=int, default=20, help="assets the segments are spread over")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ns = ap.parse_args()
    if not shutil.which("curl"):
        sys.exit("bench/agent.py needs curl (Debian: apt-get install curl)")

    import httpx

    from mediasrv.protocol.document import list_digests, list_url, site_files

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks below
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    total = int(ns.gigabytes * GB)
    segment = int(ns.segment_mb * MB)
    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    need = 2 * total + 200 * MB  # the object store, the agent's cache (one at a time), slack
    free = shutil.disk_usage(tmp).free
    if free < need:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(f"{tmp.parent} has {free / GB:.1f} GB free; this run needs about {need / GB:.1f} GB")
    procs = Processes(tmp)
    report = Report(("what", "mediasrv-site", "curl", "ratio", "target"))
    started = time.monotonic()
    try:
        wait_for_other_bench()
        print(f"== data: {ns.gigabytes:g} GB in {ns.segment_mb:g} MB segments over {ns.films} films ({tmp})")
        print(f"  disk: {free / GB:.0f} GB free, about {need / GB:.1f} GB needed")
        ds = generate(tmp / "var", total_bytes=total, segment_bytes=segment, films=ns.films)
        print(f"  generated in {ds.seconds:.0f} s: {ds.segments} segments, {ds.segment_bytes / GB:.2f} GB")
        t0 = time.perf_counter()
        os.sync()  # the store's dirty pages written back now, not during the agent's fsyncs
        print(f"  written back to disk (sync) in {time.perf_counter() - t0:.1f} s")

        print("== server")
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = procs.start(
            "mediasrv",
            [*command("mediasrv", "mediasrv.cli"), "serve", "--host", HOST, "--port", str(port)],
            clean_env(ds.data_dir),
        )
        wait_until_up(f"{base}/healthz", server)
        auth = {"Authorization": f"Bearer {ds.token}"}
        r = httpx.get(f"{base}/api/v1/sites/{ds.site_id}/manifest", headers=auth, timeout=60)
        r.raise_for_status()
        manifest = r.json()
        lists = {}
        for sha in list_digests(manifest):  # format 2: the files are in the lists the manifest names
            got = httpx.get(f"{base}{list_url(sha)}", headers=auth, timeout=60)
            got.raise_for_status()
            lists[sha] = got.json()
        files = site_files(manifest, lists)
        listed = sum(f["size"] for f in files)
        print(
            f"  mediasrv serve on {base}; the site's manifest lists {len(manifest['programmes'])} programmes,"
            f" {len(files)} files, {listed / GB:.3f} GB"
        )
        if listed < ds.segment_bytes:
            raise RuntimeError(
                f"the manifest lists {listed} bytes, less than the {ds.segment_bytes} generated"
            )

        print("== 1. curl: every file of the manifest, one process, keep-alive, to /dev/null")
        wait_for_other_bench()
        curl_s, curl_bytes = run_curl(tmp, base, ds.token, [f["url"] for f in files])
        if curl_bytes != listed:
            raise RuntimeError(f"curl received {curl_bytes} bytes, the manifest lists {listed}")
        print(f"  {curl_bytes / GB:.3f} GB in {curl_s:.1f} s: {rate(curl_bytes, curl_s):,.0f} MB/s")

        print("== 2. mediasrv-site sync into an empty cache")
        site = tmp / "site"
        agent_cmd = command("mediasrv-site", "mediasrv.agent.cli")
        subprocess.run(
            [*agent_cmd, "init", "--server", base, "--token", ds.token, "--dir", str(site)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
        wait_for_other_bench()
        first = agent(procs, site, "sync", name="sync")
        print(
            f"  {procs.log('sync').strip().splitlines()[-1] if procs.log('sync').strip() else '(no output)'}"
        )
        if first.returncode != 0:
            raise RuntimeError(f"mediasrv-site sync exited with {first.returncode}:\n{procs.log('sync')}")
        status = agent_status(site)
        got = int(status["last_sync"]["bytes_downloaded"])
        complete = status["files_present"] == status["files"] and status["bytes_present"] == listed
        mbps = rate(got, first.seconds)
        ratio = mbps / rate(curl_bytes, curl_s)
        print(
            f"  {got / GB:.3f} GB in {first.seconds:.1f} s: {mbps:,.0f} MB/s ({ratio:.2f}x curl);"
            f" cache complete: {'yes' if complete else 'NO'}"
            f" ({status['files_present']}/{status['files']} files)"
        )
        print(
            f"  RSS: {describe_rss(first)};"
            f" under {RSS_LIMIT_MB:.0f} MB: {verdict(first.peak_mb < RSS_LIMIT_MB)}"
        )
        report.add(
            f"sync {listed / GB:.2f} GB, {len(files)} files, empty cache",
            f"{mbps:,.0f} MB/s ({first.seconds:.1f} s)",
            f"{rate(curl_bytes, curl_s):,.0f} MB/s ({curl_s:.1f} s)",
            f"{ratio:.2f}",
            f"complete {verdict(complete)}",
        )
        late = first.rss_mb[len(first.rss_mb) // 2 :] or [first.peak_mb]
        report.add(
            "agent RSS: peak (2nd half min-max)",
            f"{first.peak_mb:.0f} MB ({min(late):.0f}-{max(late):.0f})",
            "",
            "",
            f"< {RSS_LIMIT_MB:.0f} MB {verdict(first.peak_mb < RSS_LIMIT_MB)}",
        )

        print("== 3. sync again (nothing to do)")
        wait_for_other_bench()
        again = agent(procs, site, "sync", name="sync-again")
        last = agent_status(site)["last_sync"]
        print(
            f"  {again.seconds:.2f} s (exit {again.returncode}): manifest {last['manifest']},"
            f" {last['files_fetched']} files fetched, {last['files_hashed']} hashed;"
            f" peak RSS {again.peak_mb:.0f} MB"
        )
        report.add(
            "second sync, nothing to do",
            f"{again.seconds:.2f} s",
            "",
            "",
            f"{last['manifest']}, {last['files_fetched']} fetched, exit {again.returncode}",
        )
        shutil.rmtree(site)  # room for the next cache

        print("== 4. resume: SIGKILL at ~50% of the bytes, then sync again")
        resumed = tmp / "site-resume"
        subprocess.run(
            [*agent_cmd, "init", "--server", base, "--token", ds.token, "--dir", str(resumed)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
        wait_for_other_bench()
        half = listed // 2

        def mid_file() -> bool:
            """Past half of the bytes, and a download under way: the restart resumes it with Range."""
            if on_disk(resumed) < half:
                return False
            return PARTIAL_AT_KILL <= on_disk(resumed / "partial") <= segment - PARTIAL_AT_KILL

        cut = run_sampled(
            procs,
            "sync-cut",
            [*agent_cmd, "sync", "--dir", str(resumed)],
            clean_env(),
            kill_when=mid_file,
            every=0.005,
        )
        if cut.returncode != -signal.SIGKILL:
            print(f"  (the kill never caught a download mid-file: the sync exited with {cut.returncode})")
        at_kill = on_disk(resumed / "files") + on_disk(resumed / "partial")
        partial_bytes = on_disk(resumed / "partial")
        print(
            f"  killed after {cut.seconds:.1f} s (exit {cut.returncode}): {at_kill / GB:.3f} GB on disk,"
            f" {partial_bytes / MB:.2f} MB of it partial"
        )
        rest = agent(procs, resumed, "sync", name="sync-resumed")
        last = agent_status(resumed)["last_sync"]
        fetched_twice = at_kill + int(last["bytes_downloaded"]) - listed
        print(
            f"  restart: {rest.seconds:.1f} s (exit {rest.returncode}):"
            f" {int(last['bytes_downloaded']) / GB:.3f} GB downloaded,"
            f" {int(last['bytes_resumed']) / MB:.2f} MB resumed from partial/,"
            f" {int(last['bytes_skipped']) / GB:.3f} GB in place; complete: {last['complete']};"
            f" fetched twice: {fetched_twice / MB:.2f} MB"
        )
        report.add(
            "resume after SIGKILL at ~50%",
            f"{fetched_twice / MB:.2f} MB fetched twice",
            "",
            "",
            f"resumed {int(last['bytes_resumed']) / MB:.2f} MB, complete {verdict(bool(last['complete']))}",
        )

        for line in procs.errors("mediasrv"):
            print(f"  mediasrv logged: {line}")
        print(
            f"\n== summary ({os.cpu_count()} cores, {listed / GB:.2f} GB, {ds.segments} segments of"
            f" {ns.segment_mb:g} MB, {ns.films} films; {time.monotonic() - started:.0f} s)"
        )
        report.print()
    except Exception:
        for line in procs.errors("mediasrv"):
            print(f"mediasrv logged: {line}", file=sys.stderr)
        raise
    finally:
        procs.stop_all()
        if ns.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process started here was stopped")
