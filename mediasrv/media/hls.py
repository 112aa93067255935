"""Measure finished HLS renditions and write master playlists from exact figures.

ffmpeg's own master playlist guesses BANDWIDTH from the requested bitrate; players and hlscheck judge
the segments actually written, so we measure them.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from mediasrv.media.profiles import RenditionSpec

AUDIO_CODEC = "mp4a.40.2"  # AAC-LC
# H.264 profile_idc and constraint flags as RFC 6381 wants them in avc1.PPCCLL.
_AVC_PROFILES = {"high": "6400", "main": "4d40", "baseline": "42c0", "constrained baseline": "42c0"}


@dataclass(frozen=True)
class VariantInfo:
    name: str
    playlist: str  # "<name>/index.m3u8", relative to the rendition set's folder
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int  # 0 for audio-only
    height: int
    frame_rate: float
    segment_count: int
    duration: float
    size_bytes: int


def _segments(playlist: Path) -> list[tuple[float, Path]]:
    segments: list[tuple[float, Path]] = []
    duration: float | None = None
    for raw in playlist.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, playlist.parent / line))
            duration = None
    return segments


def _ffprobe_streams(path: Path) -> list[dict[str, Any]]:
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    streams: list[dict[str, Any]] = json.loads(proc.stdout).get("streams", [])
    return streams


def avc_codec(profile: str, level: int) -> str:
    """RFC 6381 name, e.g. ("High", 40) -> "avc1.640028"."""
    return f"avc1.{_AVC_PROFILES[profile.lower()]}{level:02x}"


def measure_variant(outdir: Path, spec: RenditionSpec) -> VariantInfo:
    playlist = f"{spec.name}/index.m3u8"
    segments = _segments(outdir / playlist)
    if not segments:
        raise RuntimeError(f"{outdir / playlist} lists no segments")
    sizes = [seg.stat().st_size for _, seg in segments]
    rates = [size * 8 / d for (d, _), size in zip(segments, sizes, strict=True) if d > 0]
    # BANDWIDTH is the peak segment rate: what a player must sustain for every segment (RFC 8216
    # 4.3.4.2). AVERAGE-BANDWIDTH is the mean of the per-segment rates, not total bits / total time:
    # a short last segment (a lone IDR frame plus TS overhead over a fraction of a second) weighs as
    # much as a full one in the per-segment mean that validators (Apple's, our hlscheck) compute, and
    # in a two- or three-segment film the time-weighted figure then misses it by more than 10%.
    bandwidth = math.ceil(max(rates))
    average = math.ceil(sum(rates) / len(rates))

    streams = _ffprobe_streams(segments[0][1])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    codecs, width, height, frame_rate = AUDIO_CODEC, 0, 0, 0.0
    if video is not None:
        codecs = f"{avc_codec(str(video.get('profile', '')), int(video.get('level', 0)))},{AUDIO_CODEC}"
        width, height = int(video["width"]), int(video["height"])
        rate = Fraction(str(video.get("avg_frame_rate", "0/1")))
        if rate <= 0:
            rate = Fraction(str(video.get("r_frame_rate", "0/1")))
        frame_rate = float(rate)
    return VariantInfo(
        name=spec.name,
        playlist=playlist,
        bandwidth=bandwidth,
        average_bandwidth=average,
        codecs=codecs,
        width=width,
        height=height,
        frame_rate=frame_rate,
        segment_count=len(segments),
        duration=sum(d for d, _ in segments),
        size_bytes=sum(sizes),
    )


def master_playlist(variants: Sequence[VariantInfo], *, uri_prefix: str = "") -> str:
    """Multivariant playlist listing `variants` lowest bandwidth first (players start at the top)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: (v.bandwidth, v.name)):
        attrs = [
            f"BANDWIDTH={v.bandwidth}",
            f"AVERAGE-BANDWIDTH={v.average_bandwidth}",
            f'CODECS="{v.codecs}"',
        ]
        if v.width:
            attrs += [f"RESOLUTION={v.width}x{v.height}", f"FRAME-RATE={v.frame_rate:.3f}"]
        lines += [f"#EXT-X-STREAM-INF:{','.join(attrs)}", f"{uri_prefix}{v.playlist}"]
    return "\n".join(lines) + "\n"
