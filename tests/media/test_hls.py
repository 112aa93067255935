"""End to end on real (tiny) films: plan, run, measure, write masters, and let hlscheck judge them."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import m3u8
import pytest

from mediasrv.media.hls import OVER_TARGET, VariantInfo, avc_codec, finish_renditions, master_playlist
from mediasrv.media.plan import READ_MARGIN, build_plan
from mediasrv.media.probe import MIN_BYTES_PER_SECOND, MediaInfo, probe
from mediasrv.media.profiles import Group, RenditionSpec
from mediasrv.media.runner import TranscodeFailed, run_ffmpeg
from tests.mediafactory import hlscheck, make_media, make_playlist_trap, make_unindexed_vbr_mp3

SOURCES: dict[str, tuple[str, dict[str, Any]]] = {
    # 12 s gives two full 6 s segments
    "film": ("film.mp4", {"seconds": 12, "width": 640, "height": 360}),
    # broadcast style: MPEG-2 interlaced in TS, 8 s so the last segment is short; surround audio
    "broadcast": (
        "broadcast.ts",
        {"seconds": 8, "width": 352, "height": 288, "interlaced": True, "audio_channels": 6},
    ),
    "lecture": ("lecture.m4a", {"seconds": 13}),
    # the reviewed case: 30 s of audio end in one 21 ms AAC frame of its own unless it is folded
    "lecture30": ("lecture30.m4a", {"seconds": 30}),
}
PRESENTATIONS = ((Group.MOBILE, "master.m3u8"), (Group.IPTV, "iptv.m3u8"), (Group.IPTV_SD, "iptv-sd.m3u8"))


@dataclass
class Done:
    source: Path
    info: MediaInfo
    outdir: Path
    renditions: list[RenditionSpec]
    variants: dict[str, VariantInfo]
    masters: dict[Group, Path]


def ffprobe(path: Path, *extra: str) -> dict[str, Any]:
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-show_format", *extra, "-of", "json", str(path)]
    result: dict[str, Any] = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    )
    return result


def segments(playlist: Path) -> list[tuple[float, Path]]:
    lines = playlist.read_text().splitlines()
    return [
        (float(ln.split(":")[1].split(",")[0]), playlist.parent / lines[i + 1])
        for i, ln in enumerate(lines)
        if ln.startswith("#EXTINF:")
    ]


@pytest.fixture(scope="module", params=list(SOURCES))
def done(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Done:
    name, kwargs = SOURCES[request.param]
    base = tmp_path_factory.mktemp(request.param)
    source = make_media(base / name, **kwargs)
    info = probe(source)
    plan = build_plan(source, info, base / "out")
    run_ffmpeg(plan.args, duration=info.duration)
    variants = {v.name: v for v in finish_renditions(plan.outdir, plan.renditions)}
    masters: dict[Group, Path] = {}
    for group, file in PRESENTATIONS:
        path = plan.outdir / file
        path.write_text(master_playlist([variants[s.name] for s in plan.renditions if group in s.groups]))
        masters[group] = path
    return Done(source, info, plan.outdir, plan.renditions, variants, masters)


@pytest.mark.parametrize("group", list(Group))
@pytest.mark.parametrize("segments", ["3", "100"], ids=["first-3", "all"])
def test_hlscheck_accepts_every_master(done: Done, group: Group, segments: str) -> None:
    hlscheck(done.masters[group], "--segments", segments)


def test_segments_short_and_aligned(done: Done) -> None:
    cuts = []
    for spec in done.renditions:
        segs = segments(done.outdir / spec.name / "index.m3u8")
        assert segs and all(d <= 6.5 for d, _ in segs)
        assert sum(d for d, _ in segs) == pytest.approx(done.info.duration, abs=0.2)
        cuts.append([round(sum(d for d, _ in segs[:k]), 2) for k in range(len(segs))])
        text = (done.outdir / spec.name / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text and "#EXT-X-VERSION:3" in text
    assert all(c == cuts[0] for c in cuts)
    assert len(cuts[0]) >= 2


def test_outputs_match_their_specs(done: Done) -> None:
    for spec in done.renditions:
        first = segments(done.outdir / spec.name / "index.m3u8")[0][1]
        streams = ffprobe(first)["streams"]
        audio = [s for s in streams if s["codec_type"] == "audio"]
        video = [s for s in streams if s["codec_type"] == "video"]
        assert len(audio) == 1
        assert (
            audio[0]["codec_name"],
            audio[0]["profile"],
            audio[0]["sample_rate"],
            audio[0]["channels"],
        ) == ("aac", "LC", "48000", 2)
        if not spec.is_video:
            assert not video
            continue
        v = video[0]
        assert (v["width"], v["height"]) == (spec.width, spec.height)
        assert v["profile"].lower() == spec.h264_profile
        assert v["level"] == round(float(spec.h264_level) * 10)
        assert v["r_frame_rate"] == "25/1" and v["pix_fmt"] == "yuv420p"
        assert v.get("field_order", "progressive") == "progressive"  # deinterlaced
        assert v["sample_aspect_ratio"].replace(":", "/") == spec.sar
        # never upscaled: neither the frame's picture nor any mobile rung outgrows the source
        src = done.info.video
        assert src is not None
        assert spec.height <= src.height or spec.padded
        if not spec.padded:
            assert min(spec.width, spec.height) <= min(src.width, src.height)


@pytest.mark.parametrize("done", ["film", "broadcast"], indirect=True)
def test_idr_every_two_seconds(done: Done) -> None:
    keys = ffprobe(
        done.outdir / "iptv" / "index.m3u8",
        "-select_streams",
        "v:0",
        "-skip_frame",
        "nokey",
        "-show_entries",
        "frame=pts_time",
    )["frames"]
    times = [float(f["pts_time"]) for f in keys]
    gaps = {round(b - a, 2) for a, b in itertools.pairwise(times)}
    assert gaps == {2.0}


def test_variant_figures(done: Done) -> None:
    for spec in done.renditions:
        v = done.variants[spec.name]
        segs = segments(done.outdir / spec.name / "index.m3u8")
        rates = [p.stat().st_size * 8 / d for d, p in segs]
        assert v.bandwidth >= max(rates) and v.bandwidth - max(rates) < 1
        bits = sum(p.stat().st_size for _, p in segs) * 8
        assert v.average_bandwidth == math.ceil(bits / sum(d for d, _ in segs))
        assert v.segment_count == len(segs) and v.size_bytes == sum(p.stat().st_size for _, p in segs)
        assert v.playlist == f"{spec.name}/index.m3u8"
        if spec.is_video:
            assert v.codecs == f"{avc_codec(spec.h264_profile, round(float(spec.h264_level) * 10))},mp4a.40.2"
            assert (v.width, v.height, v.frame_rate) == (spec.width, spec.height, 25.0)
            # CBR IPTV stays close to its nominal rate (video + 128k audio + TS overhead)
            if spec.cbr:
                assert v.average_bandwidth < 1.35 * (spec.video_bitrate + spec.audio_bitrate)
        else:
            assert v.codecs == "mp4a.40.2" and (v.width, v.height, v.frame_rate) == (0, 0, 0.0)


def packet_span(segment: Path, stream: str) -> float:
    """Seconds a segment really holds, by ffprobe: first packet of `stream` to the end of its last."""
    packets = ffprobe(segment, "-select_streams", stream, "-show_packets")["packets"]
    pts = [float(p["pts_time"]) for p in packets]
    return max(pts) + float(packets[-1]["duration_time"]) - min(pts)


def test_no_runt_last_segment(done: Done) -> None:
    for spec in done.renditions:
        playlist = done.outdir / spec.name / "index.m3u8"
        segs = segments(playlist)
        if len(segs) > 1:
            # a shorter last segment stays only when folding it would break the 0.5 s rule
            assert segs[-1][0] >= OVER_TARGET or segs[-2][0] + segs[-1][0] >= 6 + OVER_TARGET, spec.name
        # what each playlist says is what ffprobe finds in its segment (the folded one included),
        # and the whole rendition decodes without an error
        for d, seg in segs:  # segments are cut by the picture when there is one
            assert packet_span(seg, "v:0" if spec.is_video else "a:0") == pytest.approx(d, abs=0.05), seg
        decode = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(playlist), "-f", "null", "-"],
            capture_output=True,
            text=True,
        )
        assert decode.returncode == 0 and decode.stderr == ""
        assert not (playlist.parent / f"seg_{len(segs):05d}.ts").exists(), "a folded segment left behind"


@pytest.mark.parametrize("done", ["lecture30"], indirect=True)
def test_audio_variants_declare_what_their_segments_carry(done: Done) -> None:
    master = m3u8.load(str(done.masters[Group.MOBILE]))
    declared = {p.uri: (p.stream_info.bandwidth, p.stream_info.average_bandwidth) for p in master.playlists}
    assert declared["mobile-64k/index.m3u8"][0] < declared["mobile-128k/index.m3u8"][0]
    for uri, (bandwidth, average) in declared.items():
        segs = segments(done.masters[Group.MOBILE].parent / uri)
        # measured by ffprobe, each segment as a player fetches it
        rates = [int(ffprobe(p)["format"]["size"]) * 8 / d for d, p in segs]
        mean = sum(int(ffprobe(p)["format"]["size"]) for _, p in segs) * 8 / sum(d for d, _ in segs)
        assert max(rates) <= bandwidth < 1.01 * max(rates)
        assert abs(average - mean) < 0.01 * mean and abs(average - sum(rates) / len(rates)) < 0.1 * average
        nominal = 64_000 if "64k" in uri else 128_000
        assert nominal < average < 1.2 * nominal and bandwidth < 1.2 * nominal


def test_m3u8_library_parses_every_playlist(done: Done) -> None:
    for group, name in PRESENTATIONS:
        master = m3u8.load(str(done.masters[group]))
        listed = [s for s in done.renditions if group in s.groups]
        assert master.is_variant and master.is_independent_segments
        assert {p.uri for p in master.playlists} == {f"{s.name}/index.m3u8" for s in listed}, name
        for p in master.playlists:
            v = done.variants[p.uri.split("/")[0]]
            info = p.stream_info
            assert (info.bandwidth, info.average_bandwidth, info.codecs) == (
                v.bandwidth,
                v.average_bandwidth,
                v.codecs,
            )
            assert info.resolution == ((v.width, v.height) if v.width else None)
            assert info.frame_rate == (v.frame_rate if v.width else None)
            media = m3u8.load(str(done.masters[group].parent / p.uri))
            assert media.playlist_type == "vod" and media.is_endlist and not media.is_variant
            assert media.target_duration == 6 and media.version == 3
            assert len(media.segments) == v.segment_count
            assert sum(seg.duration for seg in media.segments) == pytest.approx(v.duration_seconds)
            assert all(seg.duration <= media.target_duration + OVER_TARGET for seg in media.segments)
            folder = done.masters[group].parent / p.uri.split("/")[0]
            assert all((folder / seg.uri).is_file() for seg in media.segments)


def test_transcode_reads_only_the_probed_format(tmp_path: Path) -> None:
    # The file changes (or was made to read differently) between the probe and the transcode: the
    # transcode is forced to the probed format and refuses what is now an HLS playlist.
    secret = make_media(tmp_path / "secret" / "secret.ts", seconds=3, video=False)
    source = make_media(tmp_path / "lecture.m4a", seconds=3)
    info = probe(source)
    make_playlist_trap(source, secret)
    plan = build_plan(source, info, tmp_path / "out")
    with pytest.raises(TranscodeFailed):
        run_ffmpeg(plan.args, duration=info.duration)
    assert not list((tmp_path / "out").rglob("*.ts"))


def test_transcode_stops_where_the_probe_says_the_file_ends(tmp_path: Path) -> None:
    # Timestamps running past what the probe accepted (duration, or what the size can hold) make no
    # more output than that.
    source = make_media(tmp_path / "lecture.m4a", seconds=12)
    info = dataclasses.replace(probe(source), duration=2.0, size=2 * MIN_BYTES_PER_SECOND)
    plan = build_plan(source, info, tmp_path / "out")
    run_ffmpeg(plan.args, duration=info.duration)
    total = sum(d for d, _ in segments(tmp_path / "out" / "mobile-64k" / "index.m3u8"))
    assert 2.0 <= total <= 2.0 + READ_MARGIN + 0.1


def test_an_estimated_duration_does_not_cut_the_recording(tmp_path: Path) -> None:
    # ffprobe guesses 23 s of MP3 as ~8 s; the read limit must not take the guess for the end.
    source = make_unindexed_vbr_mp3(tmp_path / "lecture.mp3", loud=3, quiet=20)
    info = probe(source)
    assert info.duration < 12
    plan = build_plan(source, info, tmp_path / "out")
    run_ffmpeg(plan.args, duration=info.duration)
    assert sum(d for d, _ in segments(tmp_path / "out" / "mobile-64k" / "index.m3u8")) == pytest.approx(
        23, abs=0.2
    )


def test_poster(done: Done) -> None:
    poster = done.outdir / "poster.jpg"
    if done.info.video is None:
        assert not poster.exists()
        return
    s = ffprobe(poster)["streams"][0]
    assert s["codec_name"] == "mjpeg"
    assert (s["width"], s["height"]) == (done.info.video.width, done.info.video.height)  # under 720: as is


@pytest.mark.parametrize("done", ["film"], indirect=True)
def test_loudness_targets(done: Done) -> None:
    for name, target in (("iptv", -23.0), ("mobile-360p", -16.0)):
        proc = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-i",
                str(done.outdir / name / "index.m3u8"),
                "-map",
                "0:a",
                "-af",
                "ebur128",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
        )
        found = re.findall(r"I:\s+(-?[\d.]+) LUFS", proc.stderr)
        assert found and float(found[-1]) == pytest.approx(target, abs=1.5)


def test_master_playlist_text() -> None:
    def variant(name: str, bw: int, width: int = 0) -> VariantInfo:
        return VariantInfo(
            name=name,
            playlist=f"{name}/index.m3u8",
            bandwidth=bw,
            average_bandwidth=bw - 10,
            codecs="avc1.64001e,mp4a.40.2" if width else "mp4a.40.2",
            width=width,
            height=width * 9 // 16,
            frame_rate=25.0 if width else 0.0,
            segment_count=2,
            duration_seconds=12.0,
            size_bytes=1,
        )

    text = master_playlist(
        [variant("b", 900, 640), variant("a", 3000, 1280), variant("c", 70)], uri_prefix="/v/"
    )
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-STREAM-INF:BANDWIDTH=70,AVERAGE-BANDWIDTH=60,CODECS="mp4a.40.2"',
        "/v/c/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=900,AVERAGE-BANDWIDTH=890,CODECS="avc1.64001e,mp4a.40.2",'
        "RESOLUTION=640x360,FRAME-RATE=25.000",
        "/v/b/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=3000,AVERAGE-BANDWIDTH=2990,CODECS="avc1.64001e,mp4a.40.2",'
        "RESOLUTION=1280x720,FRAME-RATE=25.000",
        "/v/a/index.m3u8",
    ]


@pytest.mark.parametrize(
    ("profile", "level", "codec"),
    [("High", 40, "avc1.640028"), ("Main", 30, "avc1.4d401e"), ("Constrained Baseline", 30, "avc1.42c01e")],
)
def test_avc_codec_names(profile: str, level: int, codec: str) -> None:
    assert avc_codec(profile, level) == codec
