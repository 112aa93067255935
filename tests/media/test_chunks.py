"""A film encoded in chunks and joined is the film a single run writes: same segments, same timestamps."""

from __future__ import annotations

import itertools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest

from mediasrv.media import chunks
from mediasrv.media.hls import finish_renditions
from mediasrv.media.plan import AudioTrack, BurnIn, build_plan
from mediasrv.media.probe import MediaInfo, probe
from mediasrv.media.profiles import IPTV_LUFS, MOBILE_LUFS, RenditionSpec, renditions_for
from mediasrv.media.runner import run_ffmpeg
from tests.media.test_audio_tracks import ffprobe_streams, integrated_loudness, stream_md5
from tests.media.test_burn_in import BAND, NOISE, changed_share, frame, mean_difference
from tests.mediafactory import hlscheck, make_dub, make_media


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


# A cue across the joint at 6 s, one inside the second chunk; clean pictures between them.
JOINT_CUES = (
    "WEBVTT\n\n00:00:04.000 --> 00:00:08.000\n乡村卫生站今天开门\n\n"
    "00:00:13.000 --> 00:00:15.000\n请带好医保卡\n"
)


@dataclass
class Languages:
    single: Path  # one run, dub and burned captions
    joined: Path  # the same in chunks
    clean: Path  # one run, no captions
    specs: list[RenditionSpec]


@pytest.fixture(scope="module")
def languages(tmp_path_factory: pytest.TempPathFactory) -> Languages:
    base = tmp_path_factory.mktemp("languages")
    source = make_media(base / "film.mp4", seconds=18, width=640, height=360)
    dub = make_dub(base / "dub.m4a", seconds=17.5)
    captions = base / "zh-Hans.vtt"
    captions.write_text(JOINT_CUES, encoding="utf-8")
    info = probe(source)
    tracks = [AudioTrack("ug", path=dub, format_name=probe(dub).format_name)]
    burn = BurnIn(captions, "zh-Hans")
    plan = build_plan(source, info, base / "single", tracks=tracks, burn_in=burn)
    run_ffmpeg(plan.args, duration=info.duration)
    finish_renditions(plan.outdir, plan.renditions)
    clean = build_plan(source, info, base / "clean", iptv_only=True)
    run_ffmpeg(clean.args, duration=info.duration)

    pieces = chunks.chunks_for(info.duration, 6)
    work, joined = base / "work", base / "joined"
    for args in [
        chunks.audio_args(source, info, work, tracks),
        *(chunks.chunk_args(source, info, work, c, preset="veryfast", burn_in=burn) for c in pieces),
        chunks.join_args(info, work, joined, pieces, ["ug"]),
    ]:
        run_ffmpeg(args, duration=info.duration)
    finish_renditions(joined, renditions_for(info, ["ug"]))
    return Languages(base / "single", joined, base / "clean", plan.renditions)


def test_a_chunked_film_has_the_single_run_s_language_renditions(languages: Languages) -> None:
    names = {s.name for s in languages.specs}
    assert {"iptv-ug", "iptv-sd-ug", "mobile-audio", "mobile-audio-ug"} <= names
    assert {p.name for p in languages.joined.iterdir() if p.is_dir()} == names
    for spec in languages.specs:
        single, joined = languages.single / spec.name, languages.joined / spec.name
        if spec.is_video:
            assert (joined / "index.m3u8").read_text() == (single / "index.m3u8").read_text(), spec.name
        # Sound only: the same segments; the last one's length is the encoder's last packet's
        # (the single run's) or the copied one's, a third of a millisecond apart.
        one, two = m3u8.load(str(single / "index.m3u8")), m3u8.load(str(joined / "index.m3u8"))
        assert [s.uri for s in two.segments] == [s.uri for s in one.segments]
        assert [s.duration for s in two.segments] == pytest.approx(
            [s.duration for s in one.segments], abs=0.001
        )
        assert two.is_endlist and two.version == one.version == 3
        hlscheck(joined / "index.m3u8", "--segments", "4")
    # Boxes: the dub muxed with iptv's pictures (the same copied video), a language variant each.
    for base in ("iptv", "iptv-sd"):
        streams = ffprobe_streams(languages.joined / f"{base}-ug" / "seg_00001.ts")
        assert [s["codec_type"] for s in streams] == ["video", "audio"]
        assert stream_md5(languages.joined / f"{base}-ug" / "index.m3u8", "v:0") == stream_md5(
            languages.joined / base / "index.m3u8", "v:0"
        )
        assert stream_md5(languages.joined / f"{base}-ug" / "index.m3u8", "a:0") != stream_md5(
            languages.joined / base / "index.m3u8", "a:0"
        )
    # Phones: each language as sound only; the dub normalised as the single run does it.
    assert [
        s["codec_type"] for s in ffprobe_streams(languages.joined / "mobile-audio-ug" / "seg_00000.ts")
    ] == ["audio"]
    for name, target in (("iptv-ug", IPTV_LUFS), ("mobile-audio-ug", MOBILE_LUFS)):
        assert integrated_loudness(languages.joined / name / "index.m3u8") == pytest.approx(target, abs=1.0)


@pytest.mark.parametrize("rendition", ["iptv", "iptv-sd-ug"])
def test_captions_burned_in_chunks_show_at_the_film_s_time_across_a_joint(
    languages: Languages, rendition: str
) -> None:
    base = rendition.removesuffix("-ug")
    # 5.5 s and 6.5 s: one cue either side of the joint at 6 s; 13.5 s: a cue inside the last chunk.
    for at in (5.5, 6.5, 13.5):
        clean, burned = frame(languages.clean, base, at), frame(languages.joined, rendition, at)
        w, h = clean.size
        top = round(h * (1 - BAND))
        assert changed_share(clean, burned, (0, 0, w, top)) < 0.001, at
        assert changed_share(clean, burned, (0, top, w, h)) > 0.01, f"no caption at {at} s"
        # The same text as the single run draws at that moment.
        single = frame(languages.single, rendition, at)
        assert mean_difference(single, burned, (0, 0, w, h)) < NOISE, at
    # Between the cues the pictures are clean: no cue drawn at the chunk's own time (8-9 s of the
    # film is 2-3 s of the second chunk, where the first cue would be if the times were not moved).
    clean, burned = frame(languages.clean, base, 10.0), frame(languages.joined, rendition, 10.0)
    assert changed_share(clean, burned, (0, 0, *clean.size)) < 0.001
    clean, burned = frame(languages.clean, base, 2.5), frame(languages.joined, rendition, 2.5)
    assert changed_share(clean, burned, (0, 0, *clean.size)) < 0.001
