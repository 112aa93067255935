"""A site cache made on disk for the channel's tests, without a server: a format-1 manifest (its
files listed in itself) whose programmes each have an iptv master playlist, a media playlist and TS
segments, and a schedule in the shape the centre sends. Segments are real (ffmpeg) or stand-ins of
the listed size (`fake`: the channel only checks that they are all on disk)."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediasrv.agent.layout import Layout

MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",'
    "RESOLUTION=320x240,FRAME-RATE=25.000\ng1/iptv/index.m3u8\n"
)


@dataclass(frozen=True)
class Film:
    id: str
    title: str
    segments: tuple[float, ...]  # seconds of each segment
    required: bool = False


def media_playlist(segments: tuple[float, ...]) -> str:
    target = max(1, round(max(segments) + 0.499))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for n, s in enumerate(segments):
        lines += [f"#EXTINF:{s:.3f},", f"seg_{n:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def encode(folder: Path, seconds: float, *, hue: int = 0) -> tuple[float, ...]:
    """A 25 fps H.264 + AAC film of `seconds` cut into 2 s TS segments (an IDR each), as the iptv
    rendition is; the segments' durations as ffmpeg wrote them."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds},hue=h={hue}",
         "-f", "lavfi", "-i", f"sine=frequency={440 + hue}:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-pix_fmt", "yuv420p",
         "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "600k",
         "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-ar", "48000",
         "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
         "-hls_segment_filename", str(folder / "seg_%05d.ts"), str(folder / "ffmpeg.m3u8")],
        check=True,
        timeout=120,
    )  # fmt: skip
    durations = []
    for line in (folder / "ffmpeg.m3u8").read_text().splitlines():
        if line.startswith("#EXTINF:"):
            durations.append(float(line[8:].split(",")[0]))
    (folder / "ffmpeg.m3u8").unlink()
    return tuple(durations)


def build(
    root: Path,
    films: list[Film],
    schedule: dict[str, Any] | None,
    *,
    missing: set[str] = frozenset(),  # type: ignore[assignment]
    real: dict[str, Path] | None = None,
) -> Layout:
    """The site's cache at `root`: every film listed, those in `missing` without their last segment
    on disk (not fully cached); `real` gives films encoded already (their folder of segments)."""
    layout = Layout(root)
    layout.ensure()
    files: list[dict[str, Any]] = []
    programmes = []

    def put(path: str, data: bytes, *, keep: bool = True) -> None:
        files.append(
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "url": f"/hls/{path}",
            }
        )
        if keep:
            target = layout.file(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    for rank, f in enumerate(films, start=1):
        asset = f"a-{f.id}"
        put(f"{asset}/iptv.m3u8", MASTER.encode())
        put(f"{asset}/g1/iptv/index.m3u8", media_playlist(f.segments).encode())
        for n in range(len(f.segments)):
            if real and f.id in real:
                data = (real[f.id] / f"seg_{n:05d}.ts").read_bytes()
            else:
                data = f"{f.id}-{n}".encode().ljust(188, b"\xff")
            put(
                f"{asset}/g1/iptv/seg_{n:05d}.ts",
                data,
                keep=not (f.id in missing and n == len(f.segments) - 1),
            )
        programmes.append(
            {
                "id": f.id,
                "rank": rank,
                "required": f.required,
                "title": f.title,
                "category": None,
                "duration_seconds": round(sum(f.segments)),
                "asset_id": asset,
                "play": f"{asset}/iptv.m3u8",
                "poster": None,
                "attachments": [],
                "bytes": 0,
                "files": 0,
            }
        )
    doc: dict[str, Any] = {
        "format": 1,
        "site": {
            "id": 7,
            "code": "xitang",
            "name": "西塘村",
            "download_window": None,
            "bandwidth_kbps": None,
        },
        "version": 1,
        "device_profile": "iptv",
        "programmes": programmes,
        "dropped": [],
        "files": sorted(files, key=lambda e: e["path"]),
        "bytes": sum(e["size"] for e in files),
        "file_count": len(files),
        "quota_bytes": None,
        "over_quota": False,
        "pinned_bytes": 0,
    }
    if schedule is not None:
        doc["schedule"] = schedule
    layout.adopt(doc)
    return layout
