"""A film encoded in chunks and joined is the film a single run writes: same segments, same timestamps."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

from mediasrv.media import chunks
from mediasrv.media.hls import finish_renditions
from mediasrv.media.plan import build_plan
from mediasrv.media.probe import MediaInfo, probe
from mediasrv.media.profiles import renditions_for
from mediasrv.media.runner import run_ffmpeg
from tests.mediafactory import hlscheck, make_media


def test_chunks_are_whole_segments_and_the_last_runs_to_the_end() -> None:
    assert chunks.chunks_for(18.0, 6) == [
        chunks.Chunk(0, 0, 6.0),
        chunks.Chunk(1, 6, 6.0),
        chunks.Chunk(2, 12, None),
    ]
    assert [c.start for c in chunks.chunks_for(1250.4, 300)] == [0, 300, 600, 900, 1200]
    assert chunks.chunk_seconds_of(10) == 6 and chunks.chunk_seconds_of(4) == 6  # never less than a segment
    assert chunks.chunks_for(18.0001, 6)[-1] == chunks.Chunk(2, 12, None)  # no chunk for a rounding tail


def _packets(folder: Path) -> tuple[list[tuple[int, int, bool]], list[tuple[int, int]]]:
    """(pts, dts, key) of every video packet and (pts, samples-duration) of every audio packet of the
    rendition's segments played end to end."""
    playlist = (folder / "index.m3u8").read_text(encoding="utf-8").splitlines()
    data = b"".join((folder / line).read_bytes() for line in playlist if line and not line.startswith("#"))
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-of", "json", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    packets = json.loads(out)["packets"]
    video = [(int(p["pts"]), int(p["dts"]), "K" in p["flags"]) for p in packets if p["codec_type"] == "video"]
    audio = [(int(p["pts"]), int(p["duration"])) for p in packets if p["codec_type"] == "audio"]
    return video, audio


def encode_in_chunks(source: Path, info: MediaInfo, work: Path, out: Path, chunk_seconds: float) -> None:
    pieces = chunks.chunks_for(info.duration, chunk_seconds)
    for args in [
        chunks.audio_args(source, info, work),
        *(chunks.chunk_args(source, info, work, c, preset="veryfast") for c in pieces),
        chunks.join_args(info, work, out, pieces),
    ]:
        run_ffmpeg(args, duration=info.duration)
    finish_renditions(out, renditions_for(info))


def test_a_film_joined_from_chunks_has_the_single_run_s_segments_and_timestamps(tmp_path: Path) -> None:
    source = make_media(tmp_path / "film.mp4", seconds=18, width=320, height=240)
    info = probe(source)
    plan = build_plan(source, info, tmp_path / "single")
    run_ffmpeg(plan.args, duration=info.duration)
    finish_renditions(plan.outdir, plan.renditions)
    encode_in_chunks(source, info, tmp_path / "work", tmp_path / "joined", 6)
    assert (tmp_path / "work" / "poster.jpg").stat().st_size > 0

    for spec in plan.renditions:
        single, joined = tmp_path / "single" / spec.name, tmp_path / "joined" / spec.name
        # The same segments, cut at the same times, listed the same way.
        assert (joined / "index.m3u8").read_text() == (single / "index.m3u8").read_text()
        v1, a1 = _packets(single)
        v2, a2 = _packets(joined)
        # Video: every frame at the single run's PTS and DTS, one frame (3600 ticks at 25 fps)
        # after another across the joints at 6 s and 12 s, key frames every 2 s as before.
        assert [(p, d) for p, d, _ in v2] == [(p, d) for p, d, _ in v1]
        assert all(b[1] - a[1] == 3600 for a, b in itertools.pairwise(v2))
        assert [i for i, (_, _, key) in enumerate(v2) if key] == [
            i for i, (_, _, key) in enumerate(v1) if key
        ]
        assert [i for i, (_, _, key) in enumerate(v2) if key] == list(range(0, len(v2), 50))
        # Audio: the single run's packets, each 1024 samples (1920 ticks) after the one before: no gap,
        # no overlap and no priming at a joint.
        assert a2 == a1
        assert all(b[0] - a[0] == 1920 for a, b in itertools.pairwise(a2))
        hlscheck(joined / "index.m3u8", "--segments", "3")
