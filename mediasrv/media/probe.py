"""Read what a media file contains (ffprobe) and reject files that cannot become renditions."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from mediasrv.errors import MediaProcessingError

# Demuxers that only ever hold still pictures; "*_pipe" covers png_pipe, jpeg_pipe, bmp_pipe, webp_pipe...
_PICTURE_FORMATS = {"image2", "gif", "apng", "webp", "ico", "svg"}
_INTERLACED_ORDERS = {"tt", "bb", "tb", "bt"}
# ffprobe prefixes messages with "[demuxer @ 0x...] "; producers do not need that noise.
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int  # display size: sample aspect ratio and rotation applied
    height: int
    rotation: int  # clockwise degrees the player applies: 0, 90, 180 or 270
    fps: float
    interlaced: bool
    field_order: str
    pix_fmt: str


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    channels: int
    channel_layout: str
    sample_rate: int


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: float
    size: int
    bit_rate: int
    video: VideoInfo | None
    audio: AudioInfo | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _unreadable(detail: str) -> MediaProcessingError:
    return MediaProcessingError(
        f"The file could not be read as video or audio (ffprobe: {detail}). "
        "It may be truncated or damaged: export it again and re-upload."
    )


def _ffprobe_detail(stderr: str, path: Path) -> str:
    lines = [_LOG_PREFIX.sub("", ln).strip() for ln in stderr.splitlines()]
    # The temporary upload path means nothing to the producer.
    lines = [ln.replace(f"{path}: ", "").replace(str(path), "the file") for ln in lines if ln.strip()]
    # The first line is the most specific one ("moov atom not found"); later ones are generic.
    return lines[0] if lines else "unknown error"


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _rate(value: Any) -> float:
    try:
        r = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(r) if r > 0 else 0.0


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []):
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            # ffprobe reports the matrix angle counter-clockwise; ffmpeg's autorotate negates it.
            return round(-_float(side["rotation"])) % 360
    return _int(stream.get("tags", {}).get("rotate")) % 360


def _video_info(s: dict[str, Any]) -> VideoInfo:
    width, height = _int(s.get("width")), _int(s.get("height"))
    try:
        sar = Fraction(str(s.get("sample_aspect_ratio", "1:1")).replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        sar = Fraction(1)
    if sar > 0 and sar != 1:
        # Anamorphic (e.g. DV/broadcast 720x576 at 16:9): renditions are sized from what viewers see.
        width = round(width * sar)
    rotation = _rotation(s)
    if rotation in (90, 270):
        width, height = height, width
    field_order = str(s.get("field_order", ""))
    return VideoInfo(
        codec=str(s.get("codec_name", "")),
        width=width,
        height=height,
        rotation=rotation,
        fps=_rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")),
        interlaced=field_order in _INTERLACED_ORDERS,
        field_order=field_order,
        pix_fmt=str(s.get("pix_fmt", "")),
    )


def _audio_info(s: dict[str, Any]) -> AudioInfo:
    return AudioInfo(
        codec=str(s.get("codec_name", "")),
        channels=_int(s.get("channels")),
        channel_layout=str(s.get("channel_layout", "")),
        sample_rate=_int(s.get("sample_rate")),
    )


def probe(path: Path, *, timeout: float = 60.0) -> MediaInfo:
    """Describe `path`, or raise MediaProcessingError saying why it cannot be used."""
    cmd = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise MediaProcessingError(
            f"The file could not be read within {timeout:g} s; it may be damaged. "
            "Export it again and re-upload."
        ) from e
    if proc.returncode != 0:
        raise _unreadable(_ffprobe_detail(proc.stderr, path))
    data = json.loads(proc.stdout or "{}")
    fmt: dict[str, Any] = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    format_name = str(fmt.get("format_name", ""))

    if format_name == "tty" or any(s.get("codec_name") == "ansi" for s in streams):
        # ffprobe "plays" text files as ANSI art; for us that is a document, not media.
        raise MediaProcessingError(
            "The file is a text document, not video or audio. Upload the film or recording itself "
            "(for example MP4, MOV, MPEG-TS, MP3 or M4A)."
        )
    if format_name in _PICTURE_FORMATS or format_name.endswith("_pipe"):
        codec = next((str(s.get("codec_name", "")) for s in streams), "")
        kind = {"mjpeg": "JPEG", "": "image"}.get(codec, codec.upper())
        raise MediaProcessingError(
            f"The file is a picture ({kind} image), not a film or an audio recording. "
            "Upload the video file itself; a poster is taken from the film automatically."
        )

    # Cover art in MP3/M4A is a one-frame "video" stream: the file is still audio.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and not audios:
        raise MediaProcessingError(
            "The file contains neither a video nor an audio track. "
            "Check the export settings and upload the film or recording again."
        )

    duration = _float(fmt.get("duration"))
    if duration <= 0:
        duration = max((_float(s.get("duration")) for s in videos + audios), default=0.0)
    if duration <= 0:
        raise MediaProcessingError(
            "The file has no playable duration (it is empty or its index is missing). "
            "Export it again and re-upload."
        )
    if videos and (_int(videos[0].get("width")) <= 0 or _int(videos[0].get("height")) <= 0):
        raise MediaProcessingError(
            "The video track has no picture size, so it cannot be decoded. "
            "Export the film again (H.264 or ProRes in MP4/MOV works best) and re-upload."
        )
    size = _int(fmt.get("size")) or (path.stat().st_size if path.exists() else 0)
    bit_rate = _int(fmt.get("bit_rate")) or round(size * 8 / duration)
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        size=size,
        bit_rate=bit_rate,
        video=_video_info(videos[0]) if videos else None,
        audio=_audio_info(audios[0]) if audios else None,
    )
