"""Build the single ffmpeg command that decodes a source once and writes every rendition as HLS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from mediasrv.media import languages
from mediasrv.media.probe import MIN_BYTES_PER_SECOND, MediaInfo, input_options, input_url
from mediasrv.media.profiles import FPS, MOBILE_MAXRATE, Group, RenditionSpec, even, renditions_for

HLS_TIME = 6
GOP = 2 * FPS  # an IDR every 2 s, so 6 s segments are cut at the same frame in every rendition
POSTER_MAX_SHORT_SIDE = 720
POSTER_MAX_OFFSET = 30.0  # 10% into the film skips black leaders, but not further than this
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", "-loglevel", "error"]
SILENCE = "anullsrc=channel_layout=stereo:sample_rate=48000"
READ_MARGIN = 2.0  # seconds read past read_limit's figure
MUX_DELAY = 700_000  # microseconds: ffmpeg's default -muxdelay, spelled out for the tee's muxers


def read_limit(info: MediaInfo) -> float:
    """Seconds of the source the transcode reads at most. Timestamps that jump past what the probe
    accepted (its duration was capped against the file size) cannot make hours of frames or silence
    out of a small file. Not the duration alone: an MP3 without a VBR header has only an estimated
    one, which can be far too short, so whatever the size could hold is read too."""
    return max(info.duration, info.size / MIN_BYTES_PER_SECOND) + READ_MARGIN


@dataclass(frozen=True)
class AudioTrack:
    """An extra language of a film: a stream of the upload (path None) or a producer's audio file,
    already probed (its format_name forces the demuxer, as for the upload)."""

    language: str
    stream: int = 0  # its audio stream index in that file (a:N)
    path: Path | None = None
    format_name: str = ""


@dataclass(frozen=True)
class BurnIn:
    """Captions burned into the IPTV pictures: one language, a WebVTT/SRT/ASS file of ours (the
    captions table's normalised text written to the work folder; libass reads it)."""

    path: Path
    language: str


# Debian's fonts-noto-cjk; libass finds the face by name through fontconfig, fontsdir makes sure.
FONTS_DIR = Path("/usr/share/fonts/opentype/noto")
CAPTION_FONT = "Noto Sans CJK SC"
# libass scales text subtitles (SRT, WebVTT) from a 384x288 script to the frame. At TV size an
# 18/288 font is ~67 px at 1080 lines, readable across a room by older eyes; 8% margins keep
# captions inside the title-safe area (EBU R 95: 90% of the height) also on boxes that overscan.
_PLAY_RES = (384, 288)
CAPTION_FONT_SIZE = 18
CAPTION_MARGIN = 0.08


def upload_tracks(info: MediaInfo) -> list[AudioTrack]:
    """The upload's extra audio streams worth a language track: tagged with a known language other
    than the first stream's, the first of each language."""
    seen = {info.audio.language} if info.audio is not None else set()
    tracks = []
    for i, audio in enumerate(info.extra_audio, start=1):
        if audio.language and audio.language not in seen:
            seen.add(audio.language)
            tracks.append(AudioTrack(audio.language, stream=i))
    return tracks


def caption_style() -> str:
    """libass force_style for TV pictures: the CJK font, outlined, inside the title-safe area."""
    margin_v, margin_h = (round(n * CAPTION_MARGIN) for n in reversed(_PLAY_RES))
    return ",".join(
        [
            f"FontName={CAPTION_FONT}",
            f"FontSize={CAPTION_FONT_SIZE}",
            "Outline=2",
            "Shadow=0",
            "BorderStyle=1",
            f"MarginV={margin_v}",
            f"MarginL={margin_h}",
            f"MarginR={margin_h}",
        ]
    )


def caption_canvas(spec: RenditionSpec) -> str | None:
    """The frame as viewers see it (720x576 at 64/45 is shown 1024x576), for the subtitles filter's
    original_size: libass then narrows the glyphs by the SAR, so the box's stretch makes them round.
    (Not ASS ScaleX: Debian 12's libass takes a forced ScaleX as a factor, not a percentage.)"""
    num, den = (int(x) for x in spec.sar.split("/"))
    if num == den:
        return None
    return f"{round(spec.width * num / den)}x{spec.height}"


def burns(spec: RenditionSpec) -> bool:
    """Captions are burned into set-top box pictures only; phones get them as text."""
    return Group.IPTV in spec.groups or Group.IPTV_SD in spec.groups


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


def video_branch(
    stream: Any,
    spec: RenditionSpec,
    src_w: int,
    src_h: int,
    burn_in: BurnIn | None = None,
    *,
    at: float = 0.0,
) -> Any:
    """One rendition's pictures from the decoded frames. `at`: the film's time of the stream's
    first frame (a chunk's start; its frames are stamped from 0)."""
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
    if burn_in is not None and burns(spec):
        # At the frame's own size, after the pad: letterboxed films get captions in the black bar.
        opts = {"fontsdir": str(FONTS_DIR), "charenc": "UTF-8", "force_style": caption_style()}
        if canvas := caption_canvas(spec):
            opts["original_size"] = canvas
        # libass draws the cues due at each frame's timestamp: a chunk's frames are moved to the
        # film's time for it and back after, so a cue across a joint shows on both sides.
        if at:
            stream = stream.filter("setpts", f"PTS+{at:.3f}/TB")
        stream = stream.filter("subtitles", filename=str(burn_in.path), **opts)
        if at:
            stream = stream.filter("setpts", f"PTS-{at:.3f}/TB")
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
        # The film's own clock in every rendition: left to themselves the HLS muxer and the TS muxer
        # inside it move the timestamps so the first DTS is not negative, by what the encoders delay
        # (x264's B-frames 80 ms, AAC's priming 21 ms), and a phone's language audio (no pictures)
        # would play 59 ms ahead of the pictures. The TS muxer's delay (MUX_DELAY) keeps them positive.
        "avoid_negative_ts": "disabled",
        "hls_ts_options": "avoid_negative_ts=disabled",
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


def _track_source(inp: Any, info: MediaInfo, track: AudioTrack) -> Any:
    """An extra language's audio, exactly as long as the film (a dub a little short is padded with
    silence, one a little long is cut), so its segments line up with the video's."""
    if track.path is None:
        stream = inp[f"a:{track.stream}"]
    else:
        # Only the producer's file, in the format its probe accepted, like the upload.
        extra = ffmpeg.input(
            input_url(track.path), t=f"{read_limit(info):.3f}", **input_options(track.format_name)
        )
        stream = extra[f"a:{track.stream}"]
    end = f"{info.duration:.3f}"
    return stream.filter("apad", whole_dur=end).filter("atrim", end=end)


def audio_key(spec: RenditionSpec) -> tuple[int, float, int]:
    """What a rendition's sound is made of: its track, loudness and bitrate. Renditions with the same
    key carry one encode (iptv and iptv-sd the same TV sound; the phones' top rung and their
    audio-only rendition of the film's own sound)."""
    return spec.track, spec.loudness_lufs, spec.audio_bitrate


def audio_carriers(specs: Sequence[RenditionSpec]) -> dict[str, RenditionSpec]:
    """Each rendition's name -> the rendition whose audio encode it carries: the first with its key."""
    first: dict[tuple[int, float, int], RenditionSpec] = {}
    return {s.name: first.setdefault(audio_key(s), s) for s in specs}


def output_groups(specs: Sequence[RenditionSpec]) -> list[list[RenditionSpec]]:
    """The renditions one output writes: those sharing an encode, a picture (a language variant and
    its base) or a sound (audio_key), linked through each other. In the order of `specs`."""
    owner: dict[object, int] = {}  # an encode -> the index of a rendition using it
    parent = list(range(len(specs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, spec in enumerate(specs):
        encodes: list[object] = [audio_key(spec)]
        if spec.is_video:
            encodes.append(spec.video_of or spec.name)
        for encode in encodes:
            j = owner.setdefault(encode, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[RenditionSpec]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(root(i), []).append(spec)
    return list(groups.values())


def audio_branches(
    inp: Any, info: MediaInfo, specs: list[RenditionSpec], tracks: Sequence[AudioTrack] = ()
) -> dict[str, Any]:
    """Each rendition's audio stream by name: per audio track, one loudness pass per target, shared
    by every rendition using that track and target. Pass each encode's carrier (audio_carriers) once."""
    audio_by_spec: dict[str, Any] = {}
    for track in sorted({s.track for s in specs}):
        users = [s for s in specs if s.track == track]
        if track == 0 and info.audio is None:
            # Boxes and players expect an audio track in every variant; give silent films a silent one.
            silence = ffmpeg.input(SILENCE, f="lavfi", t=f"{info.duration:.3f}")
            silent = split(silence, len(users), audio=True)
            audio_by_spec.update(zip((s.name for s in users), silent, strict=True))
            continue
        source = inp["a:0"] if track == 0 else _track_source(inp, info, tracks[track - 1])
        audio_by_spec |= _loudness_branches(source, users)
    return audio_by_spec


def _loudness_branches(source: Any, specs: list[RenditionSpec]) -> dict[str, Any]:
    audio_by_spec: dict[str, Any] = {}
    targets = sorted({s.loudness_lufs for s in specs}, reverse=True)
    loudest = targets[0]
    # Downmix (5.1 -> stereo) first, once, so loudnorm measures what listeners will hear.
    stereo = source.filter("aformat", channel_layouts="stereo")
    # loudnorm works at 192 kHz internally (the costliest filter of a film's graph, and the graph is
    # one thread) and outputs that rate: run it once per track, at the loudest target (phones'), and
    # make each quieter target (the boxes' EBU R128) by turning that down: a linear gain moves the
    # integrated loudness by exactly its dB and only lowers the true peak.
    normed = stereo.filter("loudnorm", I=loudest, TP=-2, LRA=11).filter("aresample", 48000)
    for lufs, branch in zip(targets, split(normed, len(targets), audio=True), strict=True):
        users = [s for s in specs if s.loudness_lufs == lufs]
        a = branch if lufs == loudest else branch.filter("volume", f"{lufs - loudest:.1f}dB")
        audio_by_spec.update(zip((s.name for s in users), split(a, len(users), audio=True), strict=True))
    return audio_by_spec


def _tee_value(value: str) -> str:
    """A value inside a tee slave's [options]: quoted twice, once for the list of slaves and once
    for the option string (ffmpeg's tee documentation writes select=\\'v:0,a:1\\')."""
    if "'" in value or "\\" in value:
        raise ValueError(f"tee option value cannot hold quotes or backslashes: {value!r}")
    return f"\\'{value}\\'"


def stream_options(opts: dict[str, Any], kind: str, index: int) -> dict[str, Any]:
    """Options for one stream of an output holding several of its kind: "b:v" -> "b:v:1",
    "preset" -> "preset:v:1" (ffmpeg applies a stream-specified codec option to that stream only)."""
    return {f"{key.partition(':')[0]}:{kind}:{index}": value for key, value in opts.items()}


def language_metadata(spec: RenditionSpec, index: int = 0) -> dict[str, str]:
    """The ISO 639 tag of an audio stream (the TS's language descriptor: boxes that show a language
    name read it); nothing when the language is unknown."""
    code = languages.to_container(spec.language)
    return {f"metadata:s:a:{index}": f"language={code}"} if code else {}


def _group_output(
    group: list[RenditionSpec],
    video_by_spec: dict[str, Any],
    audio_by_spec: dict[str, Any],
    carriers: dict[str, RenditionSpec],
    outdir: Path,
    preset: str,
) -> Any:
    """One output writing `group`'s renditions: each encode once, and when they are several the tee
    muxer hands the packets to one HLS muxer per rendition, selecting its picture and its sound."""
    if len(group) == 1:
        spec = group[0]
        opts = _hls_options(spec, outdir) | language_metadata(spec)
        streams = [audio_by_spec[carriers[spec.name].name]]
        if spec.is_video:
            opts |= video_options(spec, preset)
            streams.insert(0, video_by_spec[spec.name])
        return ffmpeg.output(*streams, str(outdir / spec.name / "index.m3u8"), **opts)
    pictures = list(dict.fromkeys(s.video_of or s.name for s in group if s.is_video))
    sounds = list(dict.fromkeys(carriers[s.name].name for s in group))
    by_name = {s.name: s for s in group}  # the encodes' own renditions: they share it, so are in it
    tee: dict[str, Any] = {"f": "tee"}
    for i, name in enumerate(pictures):
        tee |= stream_options(video_options(by_name[name], preset), "v", i)
    for i, name in enumerate(sounds):
        tee |= stream_options(audio_options(by_name[name]), "a", i) | language_metadata(by_name[name], i)
    slaves = []
    for spec in group:
        select = [f"v:{pictures.index(spec.video_of or spec.name)}"] if spec.is_video else []
        select.append(f"a:{sounds.index(carriers[spec.name].name)}")
        # max_delay: the 0.7 s ffmpeg gives an output of its own (its -muxdelay), which the TS muxer
        # doubles into the first timestamp (1.4 s); a tee's muxers would start at 0, so the variants
        # and the WebVTT X-TIMESTAMP-MAP would not agree.
        listed = hls_muxer_options(spec, outdir) | {"select": ",".join(select), "max_delay": MUX_DELAY}
        options = ":".join(f"{k}={_tee_value(str(v))}" for k, v in listed.items())
        slaves.append(f"[{options}]{outdir / spec.name / 'index.m3u8'}")
    streams = [video_by_spec[n] for n in pictures] + [audio_by_spec[n] for n in sounds]
    return ffmpeg.output(*streams, "|".join(slaves), **tee)


def build_plan(
    source: Path,
    info: MediaInfo,
    outdir: Path,
    *,
    preset: str = "veryfast",
    tracks: Sequence[AudioTrack] = (),
    burn_in: BurnIn | None = None,
    iptv_only: bool = False,
) -> TranscodePlan:
    """Describe the ffmpeg run for `source`. Only creates the output folders (the HLS muxer does
    not, and then fails silently with exit code 0); runs nothing.

    `tracks`: the film's extra languages (upload_tracks and the producer's files). `burn_in`:
    captions burned into the IPTV pictures. `iptv_only`: only the set-top box renditions (captions
    changed later; the phones' renditions and the poster stay as published)."""
    specs = renditions_for(info, [t.language for t in tracks])
    if iptv_only:
        specs = [s for s in specs if burns(s) or s.video_of]
    # Only the upload itself, in the format the probe accepted (see probe.ACCEPTED_FORMATS).
    inp = ffmpeg.input(input_url(source), t=f"{read_limit(info):.3f}", **input_options(info.format_name))

    carriers = audio_carriers(specs)
    audio_by_spec = audio_branches(inp, info, [s for s in specs if carriers[s.name] is s], tracks)

    video_by_spec: dict[str, Any] = {}
    poster: Path | None = None
    video = info.video
    still: Any = None
    if video is not None:
        encodes = [s for s in specs if s.is_video and not s.video_of]
        decoded = decoded_video(inp)
        branches = split(decoded, len(encodes) + (0 if iptv_only else 1), audio=False)
        for spec, branch in zip(encodes, branches, strict=False):
            video_by_spec[spec.name] = video_branch(branch, spec, video.width, video.height, burn_in)
        if not iptv_only:
            at = min(info.duration * 0.1, POSTER_MAX_OFFSET)
            # A bounded trim ends this branch by itself, so split stops feeding it after a few frames.
            still = branches[-1].filter("trim", start=f"{at:.3f}", end=f"{at + 1:.3f}")
            still = still.filter("scale", *poster_size(video.width, video.height))
    outputs = [
        _group_output(group, video_by_spec, audio_by_spec, carriers, outdir, preset)
        for group in output_groups(specs)
    ]
    if still is not None:
        poster = outdir / "poster.jpg"
        outputs.append(ffmpeg.output(still, str(poster), f="image2", update=1, **{"frames:v": 1, "q:v": 3}))

    for spec in specs:
        (outdir / spec.name).mkdir(parents=True, exist_ok=True)
    compiled: list[str] = ffmpeg.merge_outputs(*outputs).compile()
    return TranscodePlan(
        args=[compiled[0], *GLOBAL_ARGS, *compiled[1:]], renditions=specs, outdir=outdir, poster=poster
    )
