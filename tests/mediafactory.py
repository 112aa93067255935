"""Tiny test media generated with ffmpeg at test time (lavfi testsrc2 + sine), so no binaries live in git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_AUDIO_SUFFIXES = {".m4a", ".mp3", ".aac", ".wav"}
# The shared HLS authoring checker lives beside the repository (../shared/tools).
HLSCHECK = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "hlscheck.py"


def hlscheck(src: str | Path, *extra: str) -> str:
    """Run hlscheck on a playlist URL or file; fail the test with its findings unless it is clean."""
    r = subprocess.run(
        [sys.executable, str(HLSCHECK), str(src), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, f"hlscheck {src}:\n{r.stdout}{r.stderr}"
    return r.stdout


def _ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"test media generation failed: {' '.join(cmd)}\n{proc.stderr}")


def make_media(
    path: Path,
    *,
    seconds: float = 4,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    interlaced: bool = False,
    rotate: int = 0,
    audio_channels: int = 2,
    video: bool = True,
    vfr: bool = False,
) -> Path:
    """Write a small film or recording to `path`; the container follows the suffix.

    .mp4/.mov: H.264 + AAC.  .ts: MPEG-2 video + MP2 (AC-3 for surround), broadcast style, interlaced
    top field first when `interlaced`.  .m4a/.mp3: audio only.  `audio_channels=0`: no audio track.
    `rotate`: stored as a display matrix (remuxed with -c copy, the way ffmpeg 5.1 writes one).
    """
    suffix = path.suffix.lower()
    video = video and suffix not in _AUDIO_SUFFIXES
    path.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio_channels:
        # 44.1 kHz on purpose: renditions must come out at 48 kHz.
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    if video:
        vf = ["format=yuv420p"]
        if interlaced:
            vf.insert(0, "setfield=tff")
        if vfr:
            # Alternate 30 ms / 50 ms frame intervals: monotonic, but not a constant rate.
            vf.append(f"setpts='(N*{1 / fps}+0.01*mod(N,2))/TB'")
        args += ["-vf", ",".join(vf)]
        if suffix == ".ts":
            args += ["-c:v", "mpeg2video", "-b:v", "2M"]
            if interlaced:
                args += ["-flags", "+ilme+ildct", "-top", "1"]
        else:
            args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps)]
            if interlaced:
                args += ["-flags", "+ilme+ildct", "-top", "1"]
        if vfr:
            args += ["-fps_mode", "passthrough"]
    if audio_channels:
        args += ["-ac", str(audio_channels)]
        if suffix == ".mp3":
            args += ["-c:a", "libmp3lame", "-b:a", "64k"]
        elif suffix == ".ts":
            args += ["-c:a", "ac3" if audio_channels > 2 else "mp2"]
        elif suffix == ".wav":
            args += ["-c:a", "pcm_s16le"]
        else:
            args += ["-c:a", "aac", "-b:a", "96k"]
    if rotate and video:
        plain = path.with_name(f"{path.stem}.unrotated{path.suffix}")
        _ffmpeg(*args, str(plain))
        _ffmpeg("-i", str(plain), "-map", "0", "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path))
        plain.unlink()
    else:
        _ffmpeg(*args, str(path))
    return path


def make_cover_art_mp3(path: Path, *, seconds: float = 3) -> Path:
    """An MP3 with an embedded cover picture (an attached_pic video stream)."""
    cover = make_picture(path.with_name(f"{path.stem}.cover.png"))
    audio = make_media(path.with_name(f"{path.stem}.plain.mp3"), seconds=seconds)
    _ffmpeg(
        "-i",
        str(audio),
        "-i",
        str(cover),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c",
        "copy",
        "-id3v2_version",
        "3",
        "-disposition:v:0",
        "attached_pic",
        str(path),
    )
    cover.unlink()
    audio.unlink()
    return path


def make_picture(path: Path, *, width: int = 320, height: int = 240) -> Path:
    """A still picture (PNG or JPEG by suffix)."""
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate=1",
        "-frames:v",
        "1",
        "-update",
        "1",
        str(path),
    )
    return path


def make_truncated(src: Path, dst: Path, *, keep: float = 0.5) -> Path:
    """The first `keep` fraction of `src`, like an interrupted upload (an MP4 loses its moov atom)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def make_not_media(dst: Path) -> Path:
    """A text document, whatever its name says."""
    dst.write_text("Minutes of the meeting\n\nNot a film at all.\n" * 20, encoding="utf-8")
    return dst
