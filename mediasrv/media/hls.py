"""Finish HLS renditions (no runt last segment), measure them and write master playlists from exact figures.

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

from mediasrv.media import languages
from mediasrv.media.profiles import MAIN_AUDIO, RenditionSpec

AUDIO_CODEC = "mp4a.40.2"  # AAC-LC
# H.264 profile_idc and constraint flags as RFC 6381 wants them in avc1.PPCCLL.
_AVC_PROFILES = {"high": "6400", "main": "4d40", "baseline": "42c0", "constrained baseline": "42c0"}
# Apple HLS authoring spec 7.7: no segment more than 0.5 s over the target duration (and RFC 8216 wants
# every duration, rounded to the nearest integer, at most the target).
OVER_TARGET = 0.5
AUDIO_GROUP = "aud"  # the one group of the phones' language renditions


@dataclass(frozen=True)
class VariantInfo:
    """A finished rendition as measured. Every field but `playlist` is kept as a column of the same
    name on ingest.models.Rendition (Rendition.of / Rendition.variant copy them by name)."""

    name: str
    playlist: str  # "<name>/index.m3u8", relative to the rendition set's folder
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int  # 0 for audio-only
    height: int
    frame_rate: float
    segment_count: int
    duration_seconds: float
    size_bytes: int
    language: str = ""  # of its audio track ("" when unknown)
    # The first PTS of its first segment (90 kHz ticks), from the ffprobe that measures it: the mobile
    # ladder's is what subtitle segments' X-TIMESTAMP-MAP names, kept for captions changed later.
    start_pts: int | None = None


@dataclass(frozen=True)
class SubtitleTrack:
    """A subtitle rendition (segmented WebVTT, media.subtitles) as a master playlist declares it."""

    language: str  # BCP 47 tag: zh-Hans, bo...
    name: str  # what a player's menu shows: the language's Chinese name
    default: bool
    playlist: str  # "<folder>/index.m3u8", relative to the rendition set's folder


SUBTITLES_GROUP = "subs"


def _quoted(value: str) -> str:
    # A quoted-string may hold neither '"' nor a line break (RFC 8216 4.2).
    return '"' + value.replace('"', "'").replace("\n", " ").replace("\r", " ") + '"'


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


def _target(playlist: Path) -> float:
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            return float(line.split(":", 1)[1])
    raise RuntimeError(f"{playlist} has no EXT-X-TARGETDURATION")


def _foldable(playlist: Path) -> bool:
    segments = _segments(playlist)
    return len(segments) >= 2 and segments[-2][0] + segments[-1][0] < _target(playlist) + OVER_TARGET


def _fold_last(playlist: Path) -> None:
    """Append the last segment to the one before and list them as one. ffmpeg's HLS muxer writes each
    TS segment from one continuing muxer (continuity counters and timestamps run on, each segment
    opens with PAT/PMT), so the two files end to end are one valid segment."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    infs = [i for i, line in enumerate(lines) if line.startswith("#EXTINF:")]
    (prev_inf, prev_uri), (last_inf, last_uri) = ((i, _uri_after(lines, i)) for i in infs[-2:])
    prev_seg, last_seg = playlist.parent / lines[prev_uri], playlist.parent / lines[last_uri]
    with prev_seg.open("ab") as out:
        out.write(last_seg.read_bytes())
    last_seg.unlink()
    prev_d, title = lines[prev_inf].removeprefix("#EXTINF:").split(",", 1)
    last_d = lines[last_inf].removeprefix("#EXTINF:").split(",", 1)[0]
    lines[prev_inf] = f"#EXTINF:{float(prev_d) + float(last_d):.6f},{title}"
    del lines[last_inf : last_uri + 1]
    playlist.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _uri_after(lines: list[str], i: int) -> int:
    return next(j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith("#"))


def fold_runts(outdir: Path, specs: Sequence[RenditionSpec]) -> bool:
    """Fold a runt last segment into the one before, in every rendition or in none.

    Source and encoder padding leave a last segment of one or two frames (one AAC frame, 21 ms, after
    a 30 s lecture). Its TS headers alone make it read as ~280 kb/s: it sets every audio variant's
    peak (the same BANDWIDTH for 64k and 128k) and drags a per-segment mean far from the real one.
    It is folded when the merged segment stays within the authoring rule's 0.5 s over the target;
    all renditions decide together so that they keep being cut at the same times.
    """
    playlists = [outdir / spec.name / "index.m3u8" for spec in specs]
    if not playlists or not all(_foldable(p) for p in playlists):
        return False
    for playlist in playlists:
        _fold_last(playlist)
    return True


def _ffprobe_first(path: Path) -> tuple[list[dict[str, Any]], int | None]:
    """A first segment's streams and its first PTS (ticks), from one ffprobe."""
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-show_entries", "format=start_time", "-of", "json"]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=60, check=True)
    found = json.loads(proc.stdout)
    streams: list[dict[str, Any]] = found.get("streams", [])
    start = first_picture_time(found)
    return streams, (ticks(start) if start is not None else None)


def first_picture_time(found: dict[str, Any]) -> str | None:
    """Where the film's time 0 is in a segment ffprobe described (-show_streams, format=start_time):
    its first picture, not the earliest packet (the AAC priming starts 21 ms before the pictures);
    the earliest packet when it has no pictures."""
    video: dict[str, Any] = next((s for s in found.get("streams", []) if s.get("codec_type") == "video"), {})
    start = video.get("start_time") or found.get("format", {}).get("start_time")
    return str(start) if start is not None else None


def ticks(start_time: str | float) -> int:
    """ffprobe's start_time (seconds) in MPEG-TS 90 kHz ticks, as X-TIMESTAMP-MAP's MPEGTS names them."""
    return round(float(start_time) * 90_000)


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
    # 4.3.4.2). AVERAGE-BANDWIDTH is the average segment bit rate of the whole variant: total bits over
    # total time, what a player fetching it end to end measures. (fold_runts has removed the runt last
    # segment whose TS overhead would otherwise set the peak.)
    bandwidth = math.ceil(max(rates))
    average = math.ceil(sum(sizes) * 8 / sum(d for d, _ in segments))

    streams, start_pts = _ffprobe_first(segments[0][1])
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
        duration_seconds=sum(d for d, _ in segments),
        size_bytes=sum(sizes),
        language=spec.language,
        start_pts=start_pts,
    )


def finish_renditions(outdir: Path, specs: Sequence[RenditionSpec]) -> list[VariantInfo]:
    """What follows a successful transcode: fold runt last segments, then measure every rendition."""
    fold_runts(outdir, specs)
    return [measure_variant(outdir, spec) for spec in specs]


def _audio_media(audio: Sequence[VariantInfo], uri_prefix: str) -> list[str]:
    """EXT-X-MEDIA lines of the language renditions: the film's own sound first and DEFAULT."""
    lines: list[str] = []
    names: set[str] = set()
    for a in sorted(audio, key=lambda a: (a.name != MAIN_AUDIO, a.name)):
        name = languages.name(a.language)
        if name in names:  # NAME is unique within a group (zh and zh-Hans are both 普通话)
            name = f"{name}（{a.language or a.name}）"
        names.add(name)
        attrs = ["TYPE=AUDIO", f'GROUP-ID="{AUDIO_GROUP}"']
        if a.language:
            attrs.append(f"LANGUAGE={_quoted(a.language)}")
        attrs += [
            f"NAME={_quoted(name)}",
            f"DEFAULT={'YES' if a.name == MAIN_AUDIO else 'NO'}",
            "AUTOSELECT=YES",
            f"URI={_quoted(uri_prefix + a.playlist)}",
        ]
        lines.append(f"#EXT-X-MEDIA:{','.join(attrs)}")
    return lines


def _subtitles_media(subtitles: Sequence[SubtitleTrack], uri_prefix: str) -> list[str]:
    """EXT-X-MEDIA lines of the caption languages: one SUBTITLES group (at most one DEFAULT)."""
    lines: list[str] = []
    for track in subtitles:
        attrs = [
            "TYPE=SUBTITLES",
            f'GROUP-ID="{SUBTITLES_GROUP}"',
            f"LANGUAGE={_quoted(track.language)}",
            f"NAME={_quoted(track.name)}",
            f"DEFAULT={'YES' if track.default else 'NO'}",
            "AUTOSELECT=YES",
            f"URI={_quoted(uri_prefix + track.playlist)}",
        ]
        lines.append(f"#EXT-X-MEDIA:{','.join(attrs)}")
    return lines


def master_playlist(
    variants: Sequence[VariantInfo],
    *,
    uri_prefix: str = "",
    audio: Sequence[VariantInfo] = (),
    subtitles: Sequence[SubtitleTrack] = (),
) -> str:
    """Multivariant playlist listing `variants` lowest bandwidth first (players start at the top).

    `subtitles`: the caption languages, one SUBTITLES group every variant names.

    `audio`: audio-only renditions of the film's languages, one group the variants name. The
    variants keep their muxed sound (players that ignore groups play it); a player using the group
    fetches a rendition beside the variant, so BANDWIDTH adds the largest rendition's peak (RFC 8216
    4.3.4.2: the largest playable combination). AVERAGE-BANDWIDTH stays the variant's own, what
    hlscheck and players measure of its segments."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += _audio_media(audio, uri_prefix)
    lines += _subtitles_media(subtitles, uri_prefix)
    extra_peak = max((a.bandwidth for a in audio), default=0)
    for v in sorted(variants, key=lambda v: (v.bandwidth, v.name)):
        attrs = [
            f"BANDWIDTH={v.bandwidth + extra_peak}",
            f"AVERAGE-BANDWIDTH={v.average_bandwidth}",
            f'CODECS="{v.codecs}"',
        ]
        if v.width:
            attrs += [f"RESOLUTION={v.width}x{v.height}", f"FRAME-RATE={v.frame_rate:.3f}"]
        if audio:
            attrs.append(f'AUDIO="{AUDIO_GROUP}"')
        if subtitles:
            attrs.append(f'SUBTITLES="{SUBTITLES_GROUP}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attrs)}", f"{uri_prefix}{v.playlist}"]
    return "\n".join(lines) + "\n"
