"""Read what a media file contains (ffprobe) and reject files that cannot become renditions."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.kit.i18n import Text
from mediasrv.media import languages

# ffmpeg reads only the upload. Its demuxers are chosen by content, and several of them open other
# files when they read one: hls and dash (playlists naming segments, `file:///etc/...` included),
# concat/ffconcat (lists of files), image2 (numbered sequences: `img%03d.jpg` reads img000.jpg...),
# imf (a composition naming its assets), vobsub (.idx opens the .sub beside it), webm_dash_manifest,
# sdp/rtp/rtsp/sap (network streams), lavfi (generated input), the capture devices (alsa, v4l2,
# x11grab...), and mov only when its dref following is enabled (off by default). So probe and
# transcode name the accepted containers instead: exactly those the upload sniffer admits. ffmpeg
# checks the list against the demuxer it picked and against every demuxer a nested read would open.
ACCEPTED_FORMATS = (
    "mov",  # MP4, MOV, M4A, 3GP (ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2")
    "matroska",  # MKV, WebM
    "mpegts",  # TS, M2TS
    "mpeg",  # program stream: VOB, .mpg
    "mpegvideo",  # MPEG-1/2 elementary video
    "avi",
    "flv",
    "asf",  # WMV, WMA
    "rm",  # RealMedia
    "mp3",
    "aac",  # ADTS
    "wav",
    "flac",
    "ogg",
    "amr",
)
# Probed only to say what the file is instead (a picture, a text): each reads nothing but the file.
_NAMED_REFUSALS = ("tty", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif", "gif_pipe")
# "file" only: no http, no data:, no subfile:/concat: protocols layered over the path.
PROTOCOLS = "file"
# A recording needs bytes for every second it claims to last: 500 B/s (4 kb/s) is below the
# lowest speech codec rate (AMR-NB 4.75 kb/s), so only a damaged or crafted file claims more time.
MIN_BYTES_PER_SECOND = 500
_SHORT_ENOUGH = 60.0  # a file claiming this little time costs nothing to try, whatever its size
# Demuxers that only ever hold still pictures; "*_pipe" covers png_pipe, jpeg_pipe, bmp_pipe, webp_pipe...
_PICTURE_FORMATS = {"image2", "gif", "apng", "webp", "ico", "svg"}
# What a refused demuxer's name means to a producer.
_REFUSED_NAMES = {
    "hls": Text("media.refers.hls"),
    "dash": Text("media.refers.dash"),
    "concat": Text("media.refers.concat"),
    "image2": Text("media.refers.image2"),
    "imf": Text("media.refers.imf"),
    "lavfi": Text("media.refers.lavfi"),
    "sdp": Text("media.refers.sdp"),
    "webm_dash_manifest": Text("media.refers.dash"),
}
_FORMATS = Text("media.accepted_formats")  # what to upload instead
_NOT_ON_WHITELIST = re.compile(
    r"^\[(?P<demuxer>[\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist", re.MULTILINE
)
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
    language: str = ""  # languages.from_container of the stream's tag; "" when unknown


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: float
    size: int
    bit_rate: int
    video: VideoInfo | None
    audio: AudioInfo | None
    # The upload's other audio streams (a:1, a:2...): a dubbed version in the same file.
    extra_audio: tuple[AudioInfo, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        """The inverse of as_dict (a probe kept with the asset, read back without the file)."""
        video, audio = data.get("video"), data.get("audio")
        return cls(
            **{k: v for k, v in data.items() if k not in ("video", "audio", "extra_audio")},
            video=VideoInfo(**video) if video else None,
            audio=AudioInfo(**audio) if audio else None,
            extra_audio=tuple(AudioInfo(**a) for a in data.get("extra_audio") or ()),
        )


def input_options(format_name: str | None = None) -> dict[str, str]:
    """ffprobe/ffmpeg options for the upload's input (they go before its path) that keep the read to
    that one file. Probing (no format yet) lets ffmpeg pick among the accepted formats, plus the
    harmless ones named in refusals; the transcode is forced (`-f`) to the format the probe found."""
    if format_name is None:
        return {
            "protocol_whitelist": PROTOCOLS,
            "format_whitelist": ",".join(ACCEPTED_FORMATS + _NAMED_REFUSALS),
        }
    name = demuxer(format_name)
    if name not in ACCEPTED_FORMATS:
        raise _refused_format(name)
    return {"protocol_whitelist": PROTOCOLS, "format_whitelist": name, "f": name}


def input_url(path: Path) -> str:
    """The path as ffmpeg must see it: absolute behind `file:`, so no part of it ("concat:",
    "subfile,,", "http:") is taken for a protocol whatever the name."""
    return "file:" + str(path.absolute())


def demuxer(format_name: str) -> str:
    """The name to force a probed format with (`-f mov` for "mov,mp4,m4a,3gp,3g2,mj2")."""
    return format_name.split(",", 1)[0]


def _refused_format(name: str) -> MediaProcessingError:
    refers = _REFUSED_NAMES.get(name)
    if refers is not None:
        return MediaProcessingError("media.refused_refers", what=refers, formats=_FORMATS)
    return MediaProcessingError("media.refused_container", format=name, formats=_FORMATS)


def _picture(kind: str | None) -> MediaProcessingError:
    """A still picture (kind: JPEG, PNG...; None when ffmpeg does not say which)."""
    if kind is None:
        return MediaProcessingError("media.picture_any")
    return MediaProcessingError("media.picture", kind=kind)


def _unreadable(detail: str) -> MediaProcessingError:
    # ffprobe's own words stay English: a detail after the sentence, for whoever helps the producer.
    return MediaProcessingError("media.unreadable", detail=detail)


def _ffprobe_detail(stderr: str, path: Path) -> str:
    lines = [_LOG_PREFIX.sub("", ln).strip() for ln in stderr.splitlines()]
    # The temporary upload path means nothing to the producer.
    names = (input_url(path), str(path))
    for name in names:
        lines = [ln.replace(f"{name}: ", "").replace(name, "the file") for ln in lines if ln.strip()]
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
        language=languages.from_container(str(s.get("tags", {}).get("language", ""))) or "",
    )


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _check_claimed_duration(longest: float, size: int) -> None:
    """Refuse a file that claims far more time than its bytes can hold (a 2 KB file "lasting" ten
    hours): the transcode would write hours of frames or silence out of nothing."""
    if longest > max(_SHORT_ENOUGH, size / MIN_BYTES_PER_SECOND):
        raise MediaProcessingError(
            "media.claims_too_long",
            duration=_clock(longest),
            size=f"{size:,}",
            kbps=MIN_BYTES_PER_SECOND * 8 // 1000,
        )


def probe(path: Path, *, timeout: float = 60.0) -> MediaInfo:
    """Describe `path`, or raise MediaProcessingError saying why it cannot be used."""
    cmd = [
        "ffprobe",
        *["-v", "error", "-show_format", "-show_streams", "-of", "json"],
        *(arg for key, value in input_options().items() for arg in (f"-{key}", value)),
        input_url(path),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise MediaProcessingError("media.probe_timeout", seconds=f"{timeout:g}") from e
    if proc.returncode != 0:
        if refused := _NOT_ON_WHITELIST.search(proc.stderr):
            name = demuxer(refused["demuxer"])
            if name == "image2" and not any(c in path.name for c in "%*?["):
                raise _picture(None)  # ffmpeg picks its image-sequence reader for one picture too
            raise _refused_format(name)
        raise _unreadable(_ffprobe_detail(proc.stderr, path))
    data = json.loads(proc.stdout or "{}")
    fmt: dict[str, Any] = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    format_name = str(fmt.get("format_name", ""))

    if format_name == "tty" or any(s.get("codec_name") == "ansi" for s in streams):
        # ffprobe "plays" text files as ANSI art; for us that is a document, not media.
        raise MediaProcessingError("media.text_document")
    if format_name in _PICTURE_FORMATS or format_name.endswith("_pipe"):
        codec = next((str(s.get("codec_name", "")) for s in streams), "")
        raise _picture({"mjpeg": "JPEG", "": None}.get(codec, codec.upper()))
    if demuxer(format_name) not in ACCEPTED_FORMATS:
        raise _refused_format(demuxer(format_name))

    # Cover art in MP3/M4A is a one-frame "video" stream: the file is still audio.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and not audios:
        raise MediaProcessingError("media.no_tracks")

    duration = _float(fmt.get("duration"))
    if duration <= 0:
        duration = max((_float(s.get("duration")) for s in videos + audios), default=0.0)
    if duration <= 0:
        raise MediaProcessingError("media.no_duration")
    if videos and (_int(videos[0].get("width")) <= 0 or _int(videos[0].get("height")) <= 0):
        raise MediaProcessingError("media.no_picture_size")
    size = _int(fmt.get("size")) or (path.stat().st_size if path.exists() else 0)
    _check_claimed_duration(max([duration, *(_float(s.get("duration")) for s in videos + audios)]), size)
    bit_rate = _int(fmt.get("bit_rate")) or round(size * 8 / duration)
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        size=size,
        bit_rate=bit_rate,
        video=_video_info(videos[0]) if videos else None,
        audio=_audio_info(audios[0]) if audios else None,
        extra_audio=tuple(_audio_info(s) for s in audios[1:]),
    )
