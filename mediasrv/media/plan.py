"""Build the single ffmpeg command that decodes a source once and writes every rendition as HLS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from mediasrv.media.probe import MIN_BYTES_PER_SECOND, MediaInfo, input_options, input_url
from mediasrv.media.profiles import FPS, MOBILE_MAXRATE, RenditionSpec, even, renditions_for

HLS_TIME = 6
GOP = 2 * FPS  # an IDR every 2 s, so 6 s segments are cut at the same frame in every rendition
POSTER_MAX_SHORT_SIDE = 720
POSTER_MAX_OFFSET = 30.0  # 10% into the film skips black leaders, but not further than this
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", "-loglevel", "error"]
SILENCE = "anullsrc=channel_layout=stereo:sample_rate=48000"
READ_MARGIN = 2.0  # seconds read past read_limit's figure


def read_limit(info: MediaInfo) -> float:
    """Seconds of the source the transcode reads at most. Timestamps that jump past what the probe
    accepted (its duration was capped against the file size) cannot make hours of frames or silence
    out of a small file. Not the duration alone: an MP3 without a VBR header has only an estimated
    one, which can be far too short, so whatever the size could hold is read too."""
    return max(info.duration, info.size / MIN_BYTES_PER_SECOND) + READ_MARGIN


@dataclass(frozen=True)
class TranscodePlan:
    args: list[str]
    renditions: list[RenditionSpec]
    outdir: Path
    poster: Path | None


def picture_size(spec: RenditionSpec, src_w: int, src_h: int) -> tuple[int, int]:
    """Coded size of the source picture inside the rendition's frame (fit, keep display aspect)."""
    if not spec.padded:
        return spec.width, spec.height
    num, den = (int(x) for x in spec.sar.split("/"))
    frame_disp_w = spec.width * num / den  # what the viewer sees, e.g. 720x576 @ 64/45 -> 1024 wide
    if src_w / src_h >= frame_disp_w / spec.height:
        disp_w, pic_h = frame_disp_w, frame_disp_w * src_h / src_w
    else:
        disp_w, pic_h = spec.height * src_w / src_h, spec.height
    return min(spec.width, even(disp_w * den / num)), min(spec.height, even(pic_h))


def poster_size(src_w: int, src_h: int) -> tuple[int, int]:
    scale = min(1.0, POSTER_MAX_SHORT_SIDE / min(src_w, src_h))
    return even(src_w * scale), even(src_h * scale)


def video_branch(stream: Any, spec: RenditionSpec, src_w: int, src_h: int) -> Any:
    pw, ph = picture_size(spec, src_w, src_h)
    stream = stream.filter("scale", pw, ph)
    if (pw, ph) != (spec.width, spec.height):
        stream = stream.filter(
            "pad",
            spec.width,
            spec.height,
            (spec.width - pw) // 2 // 2 * 2,
            (spec.height - ph) // 2 // 2 * 2,
            color="black",
        )
    return stream.filter("setsar", spec.sar)


def video_options(spec: RenditionSpec, preset: str) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "c:v": "libx264",
        "preset": preset,
        "profile:v": spec.h264_profile,
        "level:v": spec.h264_level,
        "pix_fmt": "yuv420p",
        "b:v": spec.video_bitrate,
        "g": GOP,
        "keyint_min": GOP,
        "sc_threshold": 0,
        # Belt and braces with -g: keyframes land on exact 2 s marks whatever x264 decides.
        "force_key_frames": f"expr:gte(t,n_forced*{GOP // FPS})",
    }
    if spec.cbr:
        # IPTV boxes want true CBR: HRD signalling plus filler so the TS rate never dips.
        opts |= {
            "minrate": spec.video_bitrate,
            "maxrate": spec.video_bitrate,
            "bufsize": spec.video_bitrate,
            "x264-params": "nal-hrd=cbr",
        }
    else:
        maxrate = round(spec.video_bitrate * MOBILE_MAXRATE)
        opts |= {"maxrate": maxrate, "bufsize": 2 * maxrate}  # a 2 s buffer, one GOP
    return opts


def audio_options(spec: RenditionSpec) -> dict[str, Any]:
    return {"c:a": "aac", "profile:a": "aac_low", "b:a": spec.audio_bitrate, "ar": 48000, "ac": 2}


def hls_muxer_options(spec: RenditionSpec, outdir: Path) -> dict[str, Any]:
    return {
        "f": "hls",
        "hls_time": HLS_TIME,
        "hls_playlist_type": "vod",
        "hls_segment_type": "mpegts",
        # No hls_flags=independent_segments: it bumps media playlists to version 6 and some boxes
        # only take version 3. The master playlist states EXT-X-INDEPENDENT-SEGMENTS instead.
        "hls_segment_filename": str(outdir / spec.name / "seg_%05d.ts"),
    }


def _hls_options(spec: RenditionSpec, outdir: Path) -> dict[str, Any]:
    return audio_options(spec) | hls_muxer_options(spec, outdir)


def split(stream: Any, n: int, *, audio: bool) -> list[Any]:
    if n == 1:
        return [stream]
    node = stream.asplit() if audio else stream.split()
    return [node[i] for i in range(n)]


def decoded_video(inp: Any) -> Any:
    # [0:V:0] skips attached pictures; bwdif only touches frames flagged interlaced.
    return inp["V:0"].filter("bwdif", mode="send_frame", deint="interlaced").filter("fps", FPS)


def audio_branches(inp: Any, info: MediaInfo, specs: list[RenditionSpec]) -> dict[str, Any]:
    """Each rendition's audio stream by name: one loudness pass per target, shared by every rendition
    using that target."""
    if info.audio is None:
        # Boxes and players expect an audio track in every variant; give silent films a silent one.
        silence = ffmpeg.input(SILENCE, f="lavfi", t=f"{info.duration:.3f}")
        silent = split(silence, len(specs), audio=True)
        audio_by_spec = dict(zip((s.name for s in specs), silent, strict=True))
    else:
        audio_by_spec = {}
        targets = sorted({s.loudness_lufs for s in specs})
        # Downmix (5.1 -> stereo) first, once, so loudnorm measures what listeners will hear.
        stereo = inp["a:0"].filter("aformat", channel_layouts="stereo")
        for lufs, branch in zip(targets, split(stereo, len(targets), audio=True), strict=True):
            users = [s for s in specs if s.loudness_lufs == lufs]
            # loudnorm works at 192 kHz internally and outputs that rate.
            a = branch.filter("loudnorm", I=lufs, TP=-2, LRA=11).filter("aresample", 48000)
            audio_by_spec.update(zip((s.name for s in users), split(a, len(users), audio=True), strict=True))
    return audio_by_spec


def build_plan(source: Path, info: MediaInfo, outdir: Path, *, preset: str = "veryfast") -> TranscodePlan:
    """Describe the ffmpeg run for `source`. Only creates the output folders (the HLS muxer does
    not, and then fails silently with exit code 0); runs nothing."""
    specs = renditions_for(info)
    # Only the upload itself, in the format the probe accepted (see probe.ACCEPTED_FORMATS).
    inp = ffmpeg.input(input_url(source), t=f"{read_limit(info):.3f}", **input_options(info.format_name))

    audio_by_spec = audio_branches(inp, info, specs)

    outputs: list[Any] = []
    poster: Path | None = None
    video = info.video
    if video is None:
        for spec in specs:
            outputs.append(
                ffmpeg.output(
                    audio_by_spec[spec.name],
                    str(outdir / spec.name / "index.m3u8"),
                    **_hls_options(spec, outdir),
                )
            )
    else:
        decoded = decoded_video(inp)
        branches = split(decoded, len(specs) + 1, audio=False)
        for spec, branch in zip(specs, branches, strict=False):
            v = video_branch(branch, spec, video.width, video.height)
            opts = video_options(spec, preset) | _hls_options(spec, outdir)
            outputs.append(
                ffmpeg.output(v, audio_by_spec[spec.name], str(outdir / spec.name / "index.m3u8"), **opts)
            )
        poster = outdir / "poster.jpg"
        at = min(info.duration * 0.1, POSTER_MAX_OFFSET)
        pw, ph = poster_size(video.width, video.height)
        # A bounded trim ends this branch by itself, so split stops feeding it after a few frames.
        still = branches[-1].filter("trim", start=f"{at:.3f}", end=f"{at + 1:.3f}").filter("scale", pw, ph)
        outputs.append(ffmpeg.output(still, str(poster), f="image2", update=1, **{"frames:v": 1, "q:v": 3}))

    for spec in specs:
        (outdir / spec.name).mkdir(parents=True, exist_ok=True)
    compiled: list[str] = ffmpeg.merge_outputs(*outputs).compile()
    return TranscodePlan(
        args=[compiled[0], *GLOBAL_ARGS, *compiled[1:]], renditions=specs, outdir=outdir, poster=poster
    )
