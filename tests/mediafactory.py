"""Tiny test media generated with ffmpeg at test time (lavfi testsrc2 + sine), so no binaries live in git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_AUDIO_SUFFIXES = {".m4a", ".mp3", ".aac", ".wav"}
# The shared HLS authoring checker lives beside the repository (../shared/tools), or beside the folder
# that holds a git worktree of it (/work/wt/<name> -> /work/shared).
HLSCHECK = next(
    (
        d / "shared" / "tools" / "hlscheck.py"
        for d in Path(__file__).resolve().parents[1].parents
        if (d / "shared" / "tools" / "hlscheck.py").is_file()
    ),
    Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "hlscheck.py",
)


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


def id3_wrapped(payload: bytes, *, tag_bytes: int = 0) -> bytes:
    """`payload` behind an ID3v2.3 tag of `tag_bytes` (NUL padding): what ffmpeg skips before probing."""
    size = bytes((tag_bytes >> shift) & 0x7F for shift in (21, 14, 7, 0))  # "syncsafe": 7 bits a byte
    return b"ID3\x03\x00\x00" + size + b"\0" * tag_bytes + payload


def make_playlist_trap(path: Path, target: Path | str, *, kind: str = "hls", tag_bytes: int = 0) -> Path:
    """The reviewed attack: an "MP3" that is an ID3 tag followed by a playlist naming `target` (an
    HLS media playlist with a `file://` URL, or an ffconcat list with the name as given). A small
    tag lets the upload sniffer see the playlist; one over 4 KiB hides it from the sniffer."""
    if kind == "hls":
        url = target.absolute().as_uri() if isinstance(target, Path) else target
        text = (
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            f"#EXTINF:3.0,\n{url}\n#EXT-X-ENDLIST\n"
        )
    elif kind == "ffconcat":
        text = f"ffconcat version 1.0\nfile '{target}'\n"
    else:
        raise ValueError(kind)
    path.write_bytes(id3_wrapped(text.encode(), tag_bytes=tag_bytes))
    return path


def make_duration_lie(path: Path, *, claimed_seconds: int = 36_000) -> Path:
    """A tiny MPEG-TS that claims to last `claimed_seconds`: one second of picture and sound, then
    one more whose timestamps jump that far ahead (ffprobe reads the duration from the timestamps)."""
    parts = [path.with_name(f"{path.stem}.{i}.ts") for i in (0, 1)]
    for part, offset in zip(parts, (0, claimed_seconds - 1), strict=True):
        _ffmpeg(
            *["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1"],
            *["-f", "lavfi", "-i", "sine=frequency=440:duration=1"],
            *["-c:v", "mpeg2video", "-c:a", "mp2", "-output_ts_offset", str(offset), str(part)],
        )
    path.write_bytes(b"".join(p.read_bytes() for p in parts))
    for part in parts:
        part.unlink()
    return path


def make_unindexed_vbr_mp3(path: Path, *, loud: float = 3, quiet: float = 20) -> Path:
    """A VBR MP3 without a Xing header, loud first and quiet after: ffprobe can only estimate its
    duration from the first frames' high bitrate, and the estimate is far too short."""
    _ffmpeg(
        *["-f", "lavfi", "-i", f"anoisesrc=duration={loud}:amplitude=0.5"],
        *["-f", "lavfi", "-i", "anullsrc=sample_rate=44100:channel_layout=mono"],
        *["-filter_complex", f"[1]atrim=0:{quiet}[q];[0][q]concat=n=2:v=0:a=1", "-ac", "1"],
        *["-c:a", "libmp3lame", "-q:a", "0", "-write_xing", "0", str(path)],
    )
    return path


def make_dubbed(
    path: Path,
    *,
    seconds: float = 8,
    width: int = 320,
    height: int = 240,
    languages: tuple[str, ...] = ("chi", "tib"),
) -> Path:
    """An MP4 film with one AAC stream per container language tag (ISO 639-2), each its own tone and
    level (0.05, 0.2, 0.8... of full scale), so loudness normalisation has work to do on each."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration={seconds}"]
    for i, _ in enumerate(languages):
        tone = f"sine=frequency={330 + 220 * i}:sample_rate=44100:duration={seconds},volume={0.05 * 4**i}"
        args += ["-f", "lavfi", "-i", tone]
    args += [arg for i in range(len(languages) + 1) for arg in ("-map", str(i))]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    for i, lang in enumerate(languages):
        args += [f"-metadata:s:a:{i}", f"language={lang}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(*args, str(path))
    return path


def make_dub(path: Path, *, seconds: float = 7.5, language: str = "") -> Path:
    """A producer's dubbed audio file (a loud tone), a little shorter than the film it dubs."""
    args = ["-f", "lavfi", "-i", f"sine=frequency=990:sample_rate=48000:duration={seconds},volume=0.9"]
    if language:
        args += ["-metadata:s:a:0", f"language={language}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(*args, "-c:a", "aac", str(path))
    return path
