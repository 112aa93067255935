"""Captions: read caption files (SRT, ASS/SSA, WebVTT) and subtitle streams of an upload, check them,
and write them as segmented WebVTT beside the mobile HLS renditions.

A library like the rest of media: no database, no storage. Cues are kept normalised (plain text,
times in seconds); `to_webvtt` is their stored form, `from_webvtt` reads it back.
"""

from __future__ import annotations

import html
import json
import math
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.kit.i18n import Text, render
from mediasrv.media import languages
from mediasrv.media.hls import first_picture_time, ticks
from mediasrv.media.probe import input_options, input_url

LANGUAGES = languages.CAPTION_LANGUAGES
MAX_CUES = 20_000  # a three-hour film has ~3,000; more is not a caption file
# A cue may end this far past the film's measured end: encoders pad, and editors round up.
END_TOLERANCE = 1.0
# Subtitle codecs of an upload that become caption tracks (bitmap ones, dvd/pgs, cannot).
TEXT_CODECS = ("mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text")
_TIMING = re.compile(r"-->")
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str  # plain text, lines joined by "\n"


def language_tag(value: str) -> str | None:
    """Our spelling of a caption language tag, or None when it is not one we carry."""
    return languages.caption_tag(value)


def language_name(tag: str) -> Text:
    """The language's name (简体中文, 藏文...) in the reader's language."""
    return Text(f"media.captions.language.{tag}")


def language_label(tag: str) -> str:
    """The Chinese name players' menus show (members read Chinese; the tag says the rest)."""
    return render(f"media.captions.language.{tag}", "zh")


def check_language(value: str, *, filename: str) -> str:
    tag = language_tag(value)
    if tag is None:
        raise MediaProcessingError(
            "media.captions.bad_language", filename=filename, tag=value[:32], tags="、".join(LANGUAGES)
        )
    return tag


def decode(data: bytes, *, filename: str) -> str:
    """The text of a caption file: a UTF-8 BOM first, then strict UTF-8, then GB18030 (what Chinese
    Windows editors save)."""
    encodings = ["utf-8-sig"] if data.startswith(b"\xef\xbb\xbf") else ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MediaProcessingError("media.captions.undecodable", filename=filename)


def _format_of(text: str) -> str | None:
    head = text.lstrip()[:200]
    if head.startswith("WEBVTT"):
        return "vtt"
    if "[Script Info]" in text[:2000] or "[V4" in text[:5000] or "[Events]" in text:
        return "ass"
    if _TIMING.search(text):
        return "srt"
    return None


def _cue_lines(text: str, fmt: str) -> list[int]:
    """The line number (from 1) of each cue's timing line, in file order."""
    lines = text.splitlines()
    if fmt == "ass":
        return [i + 1 for i, ln in enumerate(lines) if ln.lstrip().startswith("Dialogue:")]
    return [i + 1 for i, ln in enumerate(lines) if "-->" in ln]


def _cue_blocks(text: str) -> str:
    """A WebVTT file's cue blocks alone, each from its timing line: pysubs2 would read cue
    identifiers, NOTE and STYLE blocks as the text of the cue above them."""
    blocks = ["WEBVTT"]
    for block in re.split(r"\n[ \t]*\n", text):
        lines = block.split("\n")
        timing = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if timing is not None:
            blocks.append("\n".join(lines[timing:]))
    return "\n\n".join(blocks) + "\n"


def _plain(event: pysubs2.SSAEvent, fmt: str) -> str:
    text = event.plaintext if fmt == "ass" else _TAGS.sub("", event.plaintext)
    if fmt == "vtt":
        text = html.unescape(text)  # &amp; &lt; &gt; &nbsp;...
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def parse(data: bytes, *, filename: str, duration: float | None) -> list[Cue]:
    """The cues of a caption file, checked: every cue has text, starts before it ends, none starts
    before the one above it, and all lie inside the film (`duration` seconds, when known). A refusal
    names the file and the line (or cue) that is wrong, and what to do."""
    text = decode(data, filename=filename)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fmt = _format_of(text)
    if fmt is None:
        raise MediaProcessingError("media.captions.unknown_format", filename=filename)
    lines = _cue_lines(text, fmt)
    try:
        subs = pysubs2.SSAFile.from_string(_cue_blocks(text) if fmt == "vtt" else text, format_=fmt)
    except Exception as exc:  # pysubs2 raises several kinds for malformed files
        raise MediaProcessingError(
            "media.captions.unparsable", filename=filename, detail=str(exc)[:200]
        ) from exc
    events = [e for e in subs.events if not e.is_comment]
    # ASS comments are not in `lines` (only Dialogue lines are) nor in `events`.
    located = len(lines) == len(events)

    def where(i: int) -> Text:
        # By line when every cue was found on its own timing line, else by cue number.
        if located:
            return Text("media.captions.at_line", {"line": lines[i]})
        return Text("media.captions.at_cue", {"number": i + 1})

    if not events:
        raise MediaProcessingError("media.captions.no_cues", filename=filename)
    if len(events) > MAX_CUES:
        raise MediaProcessingError("media.captions.too_many", filename=filename, limit=MAX_CUES)
    cues: list[Cue] = []
    for i, event in enumerate(events):
        start, end = event.start / 1000, event.end / 1000
        body = _plain(event, fmt)
        if not body:
            raise MediaProcessingError("media.captions.empty_cue", filename=filename, where=where(i))
        if end <= start:
            raise MediaProcessingError("media.captions.end_before_start", filename=filename, where=where(i))
        if cues and start < cues[-1].start:
            raise MediaProcessingError(
                "media.captions.out_of_order",
                filename=filename,
                where=where(i),
                previous=clock(cues[-1].start),
            )
        if duration is not None and end > duration + END_TOLERANCE:
            raise MediaProcessingError(
                "media.captions.past_end",
                filename=filename,
                where=where(i),
                end=clock(end),
                duration=clock(duration),
            )
        cues.append(Cue(start, end, body))
    return cues


def clock(seconds: float) -> str:
    """H:MM:SS.mmm, as a person reads a time line."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _escape(text: str) -> str:
    # A cue's text may not hold "-->" or a blank line; &, < and > are markup in WebVTT.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in text.replace("-->", "→").splitlines() if line.strip())


def _cue_block(cue: Cue) -> str:
    return f"{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n{_escape(cue.text)}\n"


def to_webvtt(cues: Sequence[Cue]) -> str:
    """The stored form of checked cues: plain WebVTT, one block per cue."""
    return "WEBVTT\n\n" + "\n".join(_cue_block(c) for c in cues)


_STORED_CUE = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{3}) --> (\d+):(\d\d):(\d\d)\.(\d{3})$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def from_webvtt(text: str) -> list[Cue]:
    """The cues of a to_webvtt document (the stored form only, not any WebVTT)."""
    cues: list[Cue] = []
    for block in text.split("\n\n")[1:]:
        lines = block.strip("\n").split("\n")
        m = _STORED_CUE.match(lines[0]) if lines else None
        if m is None:
            continue
        body = "\n".join(lines[1:]).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append(Cue(_seconds(*m.groups()[:4]), _seconds(*m.groups()[4:]), body))
    return cues


# --- subtitle streams inside an upload ------------------------------------------------------------


@dataclass(frozen=True)
class SubtitleStream:
    index: int  # among the file's subtitle streams (-map 0:s:<index>)
    codec: str
    language: str | None  # our tag, from the stream's language tag when we know it


def subtitle_streams(source: Path, format_name: str, *, timeout: float = 60.0) -> list[SubtitleStream]:
    """The text subtitle streams of an upload (reading only that file, as the probe does)."""
    cmd = [
        "ffprobe",
        *["-v", "error", "-show_streams", "-select_streams", "s", "-of", "json"],
        *(arg for key, value in input_options(format_name).items() for arg in (f"-{key}", value)),
        input_url(source),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        return []
    found = []
    for n, stream in enumerate(json.loads(proc.stdout or "{}").get("streams", [])):
        codec = str(stream.get("codec_name", ""))
        if codec in TEXT_CODECS:
            tag = str(stream.get("tags", {}).get("language", ""))
            found.append(SubtitleStream(n, codec, language_tag(tag) if tag else None))
    return found


def extract_stream(
    source: Path,
    format_name: str,
    stream: SubtitleStream,
    out: Path,
    *,
    duration: float,
    timeout: float = 300.0,
) -> list[Cue]:
    """One subtitle stream of the upload as checked cues (ffmpeg writes it as WebVTT, which is then
    read like an uploaded file). Cues past the film are cut to it rather than refused: the producer
    did not write this file by hand."""
    cmd = [
        "ffmpeg",
        *["-hide_banner", "-nostdin", "-y", "-loglevel", "error"],
        *(arg for key, value in input_options(format_name).items() for arg in (f"-{key}", value)),
        *["-i", input_url(source), "-map", f"0:s:{stream.index}", "-f", "webvtt", str(out)],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not out.exists():
        raise MediaProcessingError("media.captions.stream_unreadable", number=stream.index + 1)
    data = out.read_bytes()
    if not data.strip().removeprefix(b"WEBVTT").strip():
        return []
    cues = parse(data, filename=f"#{stream.index + 1}", duration=None)
    kept = [Cue(c.start, min(c.end, duration), c.text) for c in cues if c.start < duration]
    return sorted(kept, key=lambda c: c.start)


# --- segmented WebVTT beside the mobile renditions ------------------------------------------------


def first_pts(segment: Path, *, timeout: float = 60.0) -> int:
    """The first presentation time stamp of a TS segment, in 90 kHz ticks: what X-TIMESTAMP-MAP maps
    a cue's time 0 to (ffmpeg starts TS output at 1.4 s, but that is its choice, not a rule)."""
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-show_entries", "format=start_time", "-of", "json"]
    proc = subprocess.run([*cmd, str(segment)], capture_output=True, text=True, timeout=timeout, check=True)
    start = first_picture_time(json.loads(proc.stdout))
    if start is None:
        raise ValueError(f"{segment} has no timestamps")
    return ticks(start)


def segment_durations(playlist: Path) -> tuple[list[float], int]:
    """A media playlist's segment durations and its target duration."""
    durations: list[float] = []
    target = 0
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            durations.append(float(line.split(":", 1)[1].split(",")[0]))
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
    return durations, target


def write_track(
    folder: Path, cues: Sequence[Cue], durations: Sequence[float], target: int, pts: int
) -> list[Path]:
    """Write `cues` as a WebVTT media playlist (index.m3u8) and one segment per video segment (the
    same durations, so a player fetches the captions of what it plays); a cue spanning a boundary is
    in both segments. Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    header = f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{pts},LOCAL:00:00:00.000\n\n"
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{max(target, math.ceil(max(durations, default=1)))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    written = []
    start = 0.0
    for n, duration in enumerate(durations):
        end = start + duration
        last = n == len(durations) - 1
        # What shows during the segment; the last one also takes a cue starting in the tolerated
        # second past the film's end.
        inside = [c for c in cues if (c.start < end and c.end > start) or (last and c.start >= end)]
        name = f"seg_{n:05d}.vtt"
        (folder / name).write_text(header + "\n".join(_cue_block(c) for c in inside), encoding="utf-8")
        written.append(folder / name)
        lines += [f"#EXTINF:{duration:.6f},", name]
        start = end
    lines.append("#EXT-X-ENDLIST")
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [folder / "index.m3u8", *written]
