"""A long film in chunks: video cut at segment boundaries and encoded by separate workers, audio
encoded once, then one remux writes the same HLS presentation a single run would have written.

Why this split:
- Video chunks start at multiples of HLS_TIME (a multiple of the 2 s GOP), and each chunk's encoder
  forces its key frames on the same 2 s grid from its first frame, so every chunk boundary is a
  segment boundary and every segment still starts with an IDR.
- Audio is encoded once for the whole film, not per chunk: an AAC encoder primes each run with 1024
  samples (a gap or click at every joint), 6 s is not a whole number of 1024-sample AAC frames (a
  chunk cannot end on a frame), and loudnorm's gain would restart at each joint.
- The join copies the chunks' video (the concat demuxer lines their timestamps up end to end) and
  the film's audio into the HLS muxer, so segments are cut, numbered and stamped by one muxer run:
  continuous PTS/DTS and continuity counters, the same segment boundaries as a single run.
- Language tracks and burned-in captions as in a single run (plan.build_plan): the audio piece
  encodes every language's renditions (each loudness-normalised over the whole track), the join
  muxes the IPTV pictures once more per language (`iptv-<lang>`, the same copied video) and writes
  the phones' `mobile-audio-<lang>` renditions; each chunk burns the captions at the film's time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from mediasrv.media.plan import (
    GLOBAL_ARGS,
    HLS_TIME,
    POSTER_MAX_OFFSET,
    AudioTrack,
    BurnIn,
    audio_branches,
    audio_carriers,
    audio_options,
    decoded_video,
    hls_muxer_options,
    language_metadata,
    poster_size,
    read_limit,
    split,
    video_branch,
    video_options,
)
from mediasrv.media.probe import MediaInfo, input_options, input_url
from mediasrv.media.profiles import FPS, RenditionSpec, renditions_for

# Intermediate files are ours, not the upload: the join reads only these formats, from files.
_CHUNK_FORMAT = "mpegts"
_AUDIO_FORMAT = "mp4"  # keeps the AAC priming in its edit list, so audio lines up as in a single run


_TAIL = 0.1


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float  # seconds into the film, a multiple of HLS_TIME
    length: float | None  # None: to the end of the film


def chunk_seconds_of(requested: float) -> int:
    """The chunk length actually used: a whole number of segments, at least one."""
    return max(1, int(requested // HLS_TIME)) * HLS_TIME


def chunks_for(duration: float, chunk_seconds: float) -> list[Chunk]:
    """Cut `duration` into chunks of `chunk_seconds` (rounded down to whole segments); the last one
    runs to the end, whatever the source holds past its probed duration."""
    step = chunk_seconds_of(chunk_seconds)
    # A tail of a frame or two (container rounding) rides with the last chunk instead of making one.
    count = max(1, math.ceil((duration - _TAIL) / step))
    return [Chunk(i, i * step, None if i == count - 1 else float(step)) for i in range(count)]


def chunk_file(workdir: Path, spec: RenditionSpec, index: int) -> Path:
    return workdir / "chunks" / spec.name / f"{index:05d}.ts"


def audio_file(workdir: Path, spec: RenditionSpec) -> Path:
    return workdir / "audio" / f"{spec.name}.m4a"


def poster_file(workdir: Path) -> Path:
    return workdir / "poster.jpg"


def _source(source: Path, info: MediaInfo, *, start: float = 0.0, length: float | None = None) -> Any:
    # Only the upload itself, in the format the probe accepted (see probe.ACCEPTED_FORMATS).
    limit = read_limit(info) - start if length is None else length
    opts: dict[str, Any] = {"t": f"{max(limit, 0.001):.3f}", **input_options(info.format_name)}
    if start > 0:
        opts = {"ss": f"{start:.3f}", **opts}  # input seek: decodes from the key frame before, exactly
    return ffmpeg.input(input_url(source), **opts)


def _args(outputs: list[Any]) -> list[str]:
    compiled: list[str] = ffmpeg.merge_outputs(*outputs).compile()
    return [compiled[0], *GLOBAL_ARGS, *compiled[1:]]


def chunk_args(
    source: Path,
    info: MediaInfo,
    workdir: Path,
    chunk: Chunk,
    *,
    preset: str,
    burn_in: BurnIn | None = None,
) -> list[str]:
    """One ffmpeg that decodes the chunk once and writes every rendition's video (no audio), the
    IPTV pictures with `burn_in`'s captions as they are due at the film's time."""
    if info.video is None:
        raise ValueError("only films are transcoded in chunks")
    specs = renditions_for(info)  # the encodes: language variants mux these pictures again
    decoded = decoded_video(_source(source, info, start=chunk.start, length=chunk.length))
    outputs = []
    for spec, branch in zip(specs, split(decoded, len(specs), audio=False), strict=True):
        v = video_branch(branch, spec, info.video.width, info.video.height, burn_in, at=chunk.start)
        path = chunk_file(workdir, spec, chunk.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        opts = video_options(spec, preset) | {"f": _CHUNK_FORMAT}
        if chunk.length is not None:
            opts["frames:v"] = round(chunk.length * FPS)  # exactly its share of frames, no overlap
        outputs.append(ffmpeg.output(v, str(path), **opts))
    return _args(outputs)


def audio_args(source: Path, info: MediaInfo, workdir: Path, tracks: Sequence[AudioTrack] = ()) -> list[str]:
    """One ffmpeg for the whole film's audio, every rendition's encode (`tracks`: its extra
    languages, as for plan.build_plan), and the poster."""
    specs = renditions_for(info, [t.language for t in tracks])
    inp = _source(source, info)
    outputs = []
    # Each sound once (iptv and iptv-sd carry the same): the join reads its carrier's file.
    carriers = audio_carriers(specs)
    carried = [s for s in specs if carriers[s.name] is s]
    streams = audio_branches(inp, info, carried, tracks)
    for spec in carried:
        path = audio_file(workdir, spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs.append(ffmpeg.output(streams[spec.name], str(path), f=_AUDIO_FORMAT, **audio_options(spec)))
    if info.video is not None:
        at = min(info.duration * 0.1, POSTER_MAX_OFFSET)
        pw, ph = poster_size(info.video.width, info.video.height)
        still = (
            decoded_video(inp).filter("trim", start=f"{at:.3f}", end=f"{at + 1:.3f}").filter("scale", pw, ph)
        )
        outputs.append(
            ffmpeg.output(still, str(poster_file(workdir)), f="image2", update=1, **{"frames:v": 1, "q:v": 3})
        )
    return _args(outputs)


def _joined_video(workdir: Path, spec: RenditionSpec, chunks: list[Chunk]) -> Any:
    """The rendition's chunks end to end, as one input."""
    listing = workdir / "chunks" / spec.name / "list.ffconcat"
    lines = ["ffconcat version 1.0"]
    for chunk in chunks:
        lines.append(f"file {chunk_file(workdir, spec, chunk.index).name}")
        if chunk.length is not None:
            # Stated, not measured: each chunk holds exactly this much video, so the next
            # starts where it ends, to the frame.
            lines.append(f"duration {chunk.length:.6f}")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ffmpeg.input(
        str(listing),
        f="concat",
        safe=1,
        protocol_whitelist="file",
        format_whitelist=f"concat,{_CHUNK_FORMAT}",
    )


def join_args(
    info: MediaInfo, workdir: Path, outdir: Path, chunks: list[Chunk], languages: Sequence[str] = ()
) -> list[str]:
    """One ffmpeg that copies every rendition's chunks and audio into its HLS folder: the renditions
    a single run names for `languages` (the audio piece's tracks, in its order)."""
    specs = renditions_for(info, languages)
    videos = {s.name: _joined_video(workdir, s, chunks) for s in specs if s.is_video and not s.video_of}
    outputs = []
    carriers = audio_carriers(specs)
    for spec in specs:
        audio = ffmpeg.input(
            str(audio_file(workdir, carriers[spec.name])),
            f=_AUDIO_FORMAT,
            protocol_whitelist="file",
            format_whitelist="mov",
        )
        (outdir / spec.name).mkdir(parents=True, exist_ok=True)
        # A language variant muxes its base's pictures (iptv-bo: iptv's) with its own sound; the
        # phones' language renditions are sound only.
        streams = [audio["a:0"]]
        if spec.is_video:
            streams.insert(0, videos[spec.video_of or spec.name]["v:0"])
        outputs.append(
            ffmpeg.output(
                *streams,
                str(outdir / spec.name / "index.m3u8"),
                c="copy",
                **hls_muxer_options(spec, outdir),
                **language_metadata(spec),
            )
        )
    return _args(outputs)
