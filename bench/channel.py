"""The site's channel under load: `mediasrv-site serve` answering /channel.m3u8 to many players on
loopback, against its static file serving of a media playlist in the same run.

    .venv/bin/python bench/channel.py [--players 50] [--seconds 20] [--interval 1.0] [--films 40] [--keep]

Generates a site cache (a format-1 manifest, nothing from a server): --films programmes of 300 six-
second segments each (stand-in bytes: a playlist never reads them), a weekly schedule of two blocks
a day and a filler loop. Starts `mediasrv-site serve` on a free 127.0.0.1 port, then, one after the
other, --players concurrent players (each its own keep-alive connection) fetch for --seconds:

1. static: a programme's media playlist through /files (a file read, ETag, Content-Length): baseline;
2. channel: /channel.m3u8 (the day's timeline from memory, a window of six segments).

Each player asks again --interval seconds after its last answer (1 s: six times what a player
refreshing at the target duration does; 0: as fast as it can). Prints p50/p99 of each and the
ratio, and the server's RSS at the start and end of each phase and its peak (sampled every 0.2 s).
Targets: channel p99 under 50 ms, its RSS flat (end within 5 MB of its start).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import HOST, Processes, Report, free_port, verdict, wait_until_up

P99_LIMIT_MS = 50.0
RSS_GROWTH_LIMIT_MB = 5.0
SEGMENTS, SECONDS = 300, 6.0


def generate(root: Path, films: int) -> str:
    """The site cache; returns the manifest path of the first programme's media playlist."""
    files: list[dict[str, Any]] = []

    def put(path: str, data: bytes) -> None:
        target = root / "files" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        files.append(
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "url": f"/hls/{path}",
            }
        )

    media = "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
        + [line for n in range(SEGMENTS) for line in (f"#EXTINF:{SECONDS:.3f},", f"seg_{n:05d}.ts")]
        + ["#EXT-X-ENDLIST", ""]
    ).encode()
    master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\ng1/iptv/index.m3u8\n"
    programmes = []
    for n in range(films):
        asset = f"asset-{n:03d}"
        put(f"{asset}/iptv.m3u8", master)
        put(f"{asset}/g1/iptv/index.m3u8", media)
        for s in range(SEGMENTS):
            put(f"{asset}/g1/iptv/seg_{s:05d}.ts", f"{asset}/{s}".encode().ljust(1880, b"\xff"))
        programmes.append(
            {"id": f"p{n:03d}", "rank": n + 1, "required": n < 5, "title": f"第{n + 1}讲", "category": None,
             "duration_seconds": SEGMENTS * SECONDS, "asset_id": asset, "play": f"{asset}/iptv.m3u8",
             "poster": None, "attachments": [], "bytes": 0, "files": 0}
        )  # fmt: skip
    blocks = [
        {"id": f"d{day}-{name}", "weekday": day, "start": start, "end": end, "title": name,
         "required": name == "晚间", "region": "",
         "programmes": [f"p{(day * 3 + k) % films:03d}" for k in range(3)]}
        for day in range(1, 8)
        for name, start, end in (("上午", "09:00", "11:30"), ("晚间", "19:00", "21:00"))
    ]  # fmt: skip
    doc = {
        "format": 1, "version": 1, "device_profile": "iptv", "dropped": [], "quota_bytes": None,
        "over_quota": False, "pinned_bytes": 0, "bytes": sum(f["size"] for f in files),
        "file_count": len(files),
        "site": {"id": 1, "code": "bench", "name": "压测站点", "download_window": None,
                 "bandwidth_kbps": None},
        "programmes": programmes, "files": sorted(files, key=lambda f: f["path"]),
        "schedule": {"timezone": "Asia/Shanghai", "blocks": blocks,
                     "filler": [f"p{n:03d}" for n in range(5, min(films, 12))], "card": None},
    }  # fmt: skip
    (root / "manifest.json").write_bytes(
        json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    return "asset-000/g1/iptv/index.m3u8"


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    rss: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def load(url: str, pid: int, *, players: int, seconds: float, interval: float) -> Phase:
    phase = Phase()
    stop = time.monotonic() + seconds

    async def player(n: int) -> None:
        async with httpx.AsyncClient(timeout=10, headers={"User-Agent": f"bench-player-{n}"}) as client:
            await asyncio.sleep(n * interval / max(players, 1))  # spread the first requests
            while time.monotonic() < stop:
                began = time.perf_counter()
                try:
                    r = await client.get(url)
                    ok = r.status_code == 200 and r.text.startswith("#EXTM3U")
                except httpx.HTTPError:
                    ok = False
                phase.latencies.append(time.perf_counter() - began)
                phase.errors += not ok
                if interval:
                    await asyncio.sleep(interval)

    async def sample() -> None:
        while time.monotonic() < stop:
            if (mb := rss_mb(pid)) is not None:
                phase.rss.append(mb)
            await asyncio.sleep(0.2)

    await asyncio.gather(sample(), *(player(n) for n in range(players)))
    return phase


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--players", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help="each phase's length")
    ap.add_argument("--interval", type=float, default=1.0, help="a player's pause between requests (s)")
    ap.add_argument("--films", type=int, default=40)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-channel-"))
    procs = Processes(tmp)
    try:
        site = tmp / "site"
        static_path = generate(site, args.films)
        port = free_port()
        serve = procs.start(
            "serve",
            [str(Path(sys.executable).parent / "mediasrv-site"), "serve", "--dir", str(site), "--host", HOST,
             "--port", str(port)],
        )  # fmt: skip
        base = f"http://{HOST}:{port}"
        wait_until_up(f"{base}/channel.m3u8", serve)
        httpx.get(f"{base}/channel.m3u8", timeout=30)  # the day's timeline is made once, not measured
        run = {
            name: asyncio.run(
                load(url, serve.pid, players=args.players, seconds=args.seconds, interval=args.interval)
            )
            for name, url in (("static", f"{base}/files/{static_path}"), ("channel", f"{base}/channel.m3u8"))
        }
        report = Report()
        static, channel = run["static"], run["channel"]
        for name, phase in run.items():
            report.add(f"{name}: requests (errors)", f"{len(phase.latencies)} ({phase.errors})")
        report.add(
            "p50 ms", f"{channel.p(0.5):.1f}", f"{static.p(0.5):.1f}", f"{channel.p(0.5) / static.p(0.5):.2f}"
        )
        p99_ok = channel.p(0.99) < P99_LIMIT_MS
        report.add(
            "p99 ms",
            f"{channel.p(0.99):.1f}",
            f"{static.p(0.99):.1f}",
            f"{channel.p(0.99) / static.p(0.99):.2f}",
            f"< {P99_LIMIT_MS:.0f} ms {verdict(p99_ok)}",
        )
        growth = channel.rss[-1] - channel.rss[0] if channel.rss else float("nan")
        rss_ok = growth < RSS_GROWTH_LIMIT_MB
        for name, phase in run.items():
            if phase.rss:
                report.add(
                    f"{name}: RSS MB start/end/peak",
                    f"{phase.rss[0]:.1f}/{phase.rss[-1]:.1f}/{max(phase.rss):.1f}",
                    target=f"end - start < {RSS_GROWTH_LIMIT_MB:.0f} MB {verdict(rss_ok)}"
                    if name == "channel"
                    else "",
                )
        print(
            f"{args.players} players, {args.seconds:.0f} s a phase, {args.interval:g} s between requests; "
            f"{args.films} programmes of {SEGMENTS} x {SECONDS:g} s; "
            f"mean channel {statistics.fmean(channel.latencies) * 1000:.1f} ms"
        )
        report.print()
        if errors := procs.errors("serve"):
            print("\nserver log:", *errors, sep="\n  ")
        if not (p99_ok and rss_ok and not channel.errors):
            sys.exit(1)
    finally:
        procs.stop_all()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
