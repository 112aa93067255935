"""Language audio tracks on a real (tiny) film: the upload's second stream and a producer's dub, in
one ffmpeg run; phones see one AUDIO group, set-top boxes one muxed variant per language."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.media import languages
from mediasrv.media.hls import AUDIO_GROUP, VariantInfo, finish_renditions, master_playlist
from mediasrv.media.plan import AudioTrack, build_plan, upload_tracks
from mediasrv.media.probe import AudioInfo, MediaInfo, probe
from mediasrv.media.profiles import IPTV_LUFS, MOBILE_AUDIO, MOBILE_LUFS, Group, RenditionSpec
from mediasrv.media.runner import run_ffmpeg
from tests.mediafactory import hlscheck, make_dub, make_dubbed

SECONDS = 8


@dataclass
class Dubbed:
    info: MediaInfo
    outdir: Path
    specs: list[RenditionSpec]
    variants: dict[str, VariantInfo]
    args: list[str]

    def master(self, group: str, file: str, *, audio: bool = False) -> Path:
        listed = [self.variants[s.name] for s in self.specs if group in s.groups]
        alts = [self.variants[s.name] for s in self.specs if MOBILE_AUDIO in s.groups] if audio else []
        path = self.outdir / file
        path.write_text(master_playlist(listed, audio=alts), encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory: pytest.TempPathFactory) -> Dubbed:
    base = tmp_path_factory.mktemp("dubbed")
    source = make_dubbed(base / "film.mp4", seconds=SECONDS, languages=("chi", "tib"))
    dub = make_dub(base / "dub.m4a", seconds=SECONDS - 0.5)
    info = probe(source)
    tracks = [*upload_tracks(info), AudioTrack("ug", path=dub, format_name=probe(dub).format_name)]
    plan = build_plan(source, info, base / "out", tracks=tracks)
    run_ffmpeg(plan.args, duration=info.duration)
    variants = {v.name: v for v in finish_renditions(plan.outdir, plan.renditions)}
    return Dubbed(info, plan.outdir, plan.renditions, variants, plan.args)


def ffprobe_streams(path: Path) -> list[dict[str, str]]:
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]
    streams: list[dict[str, str]] = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)[
        "streams"
    ]
    return streams


def integrated_loudness(playlist: Path) -> float:
    cmd = ["ffmpeg", "-hide_banner", "-nostats", "-i", str(playlist), "-map", "0:a:0", "-af", "ebur128"]
    proc = subprocess.run([*cmd, "-f", "null", "-"], capture_output=True, text=True, check=True)
    summary = proc.stderr.rsplit("Summary:", 1)[1]
    found = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    assert found, proc.stderr[-500:]
    return float(found[1])


def stream_md5(playlist: Path, stream: str) -> str:
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(playlist),
        "-map",
        f"0:{stream}",
        "-c",
        "copy",
        "-f",
        "md5",
        "-",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


def test_probe_keeps_the_uploads_extra_streams_and_their_languages(dubbed: Dubbed) -> None:
    assert dubbed.info.audio is not None and dubbed.info.audio.language == "zh"
    assert [a.language for a in dubbed.info.extra_audio] == ["bo"]
    # Kept with the asset and read back without the file.
    assert MediaInfo.from_dict(json.loads(json.dumps(dubbed.info.as_dict()))) == dubbed.info
    old_row = {k: v for k, v in dubbed.info.as_dict().items() if k != "extra_audio"}
    assert MediaInfo.from_dict(old_row).extra_audio == ()


def test_the_phones_master_has_one_audio_group_of_every_language(dubbed: Dubbed) -> None:
    master = m3u8.load(str(dubbed.master(Group.MOBILE, "master.m3u8", audio=True)))
    audio = [m for m in master.media if m.type == "AUDIO"]
    assert {m.group_id for m in audio} == {AUDIO_GROUP}
    assert [(m.language, m.name, m.default) for m in audio] == [
        ("zh", "普通话", "YES"),
        ("bo", "藏语", "NO"),
        ("ug", "维吾尔语", "NO"),
    ]
    assert all(m.autoselect == "YES" and m.uri.endswith("/index.m3u8") for m in audio)
    assert master.playlists and all(p.stream_info.audio == AUDIO_GROUP for p in master.playlists)
    # Each language rendition is audio only; the video variants keep the film's own sound muxed.
    for m in audio:
        assert [
            s["codec_type"]
            for s in ffprobe_streams(dubbed.outdir / m.uri.replace("index.m3u8", "seg_00000.ts"))
        ] == ["audio"]
    assert {s["codec_type"] for s in ffprobe_streams(dubbed.outdir / "mobile-240p" / "seg_00000.ts")} == {
        "video",
        "audio",
    }
    hlscheck(dubbed.outdir / "master.m3u8", "--segments", "100")


def test_set_top_boxes_get_a_muxed_variant_per_language_from_one_encode(dubbed: Dubbed) -> None:
    # One encode per IPTV picture, muxed again per language by the tee muxer: not encoded twice.
    assert dubbed.args.count("libx264") == 3  # iptv, iptv-sd, mobile-240p
    for base in ("iptv", "iptv-sd"):
        video = stream_md5(dubbed.outdir / base / "index.m3u8", "v:0")
        sounds = {stream_md5(dubbed.outdir / base / "index.m3u8", "a:0")}
        for lang in ("bo", "ug"):
            name = f"{base}-{lang}"
            path = dubbed.master(name, f"{name}.m3u8")
            playlist = m3u8.load(str(path))
            assert [p.uri for p in playlist.playlists] == [f"{name}/index.m3u8"]
            assert playlist.media == []  # boxes ignore groups: nothing but the muxed variant
            first = dubbed.outdir / name / "seg_00000.ts"
            assert [s["codec_type"] for s in ffprobe_streams(first)] == ["video", "audio"]
            assert stream_md5(dubbed.outdir / name / "index.m3u8", "v:0") == video
            sounds.add(stream_md5(dubbed.outdir / name / "index.m3u8", "a:0"))
            hlscheck(path, "--segments", "100")
        assert len(sounds) == 3, "a language variant carries another language's sound"
        hlscheck(dubbed.master(base, f"{base}.m3u8"))
    # The short dub is padded to the film's length: its variants are cut like the others.
    assert dubbed.variants["iptv-ug"].duration_seconds == pytest.approx(
        dubbed.variants["iptv"].duration_seconds, abs=0.05
    )


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("iptv", IPTV_LUFS),
        ("iptv-bo", IPTV_LUFS),
        ("iptv-sd-ug", IPTV_LUFS),
        (MOBILE_AUDIO, MOBILE_LUFS),
        (f"{MOBILE_AUDIO}-bo", MOBILE_LUFS),
        (f"{MOBILE_AUDIO}-ug", MOBILE_LUFS),
    ],
)
def test_each_track_is_loudness_normalised(dubbed: Dubbed, name: str, target: float) -> None:
    # The sources lie 12 dB apart (0.05, 0.2 and 0.9 of full scale).
    assert integrated_loudness(dubbed.outdir / name / "index.m3u8") == pytest.approx(target, abs=1.0)


def test_each_sound_is_encoded_once_and_every_rendition_starts_at_the_same_time(dubbed: Dubbed) -> None:
    # The boxes' sound of each language once for iptv and iptv-sd, the phones' 128k film sound once
    # for mobile-audio and any rung of that bitrate: 3 TV + mobile-240p + 3 phone languages.
    assert dubbed.args.count("aac") == 7
    starts: dict[str, set[str]] = {"video": set(), "audio": set()}
    for spec in dubbed.specs:
        for stream in ffprobe_streams(dubbed.outdir / spec.name / "seg_00000.ts"):
            starts[stream["codec_type"]].add(stream["start_time"])
            if stream["codec_type"] == "audio":
                # The TS language descriptor, for boxes that show the language's name.
                language = stream.get("tags", {}).get("language")  # type: ignore[attr-defined]
                assert language == {"bo": "tib", "ug": "uig"}.get(spec.language, "chi"), spec.name
    # One clock for every variant (the tee's muxers too): players switch between them and the
    # WebVTT X-TIMESTAMP-MAP is written against it.
    assert len(starts["video"]) == 1 and len(starts["audio"]) == 1, starts


def test_a_plain_film_has_no_language_renditions(tmp_path: Path) -> None:
    source = make_dubbed(tmp_path / "film.mp4", seconds=2, languages=("chi",))
    info = probe(source)
    plan = build_plan(source, info, tmp_path / "out")
    assert not any(MOBILE_AUDIO in s.groups for s in plan.renditions)
    assert {s.name for s in plan.renditions} == {"iptv", "iptv-sd", "mobile-240p"}
    assert plan.args.count("aac") == 2  # the boxes' sound, shared by iptv and iptv-sd; the phones'


def test_upload_tracks_skip_untagged_repeated_and_main_languages() -> None:
    def a(lang: str) -> AudioInfo:
        return AudioInfo("aac", 2, "stereo", 48000, lang)

    info = MediaInfo("mov", 10, 10_000, 8000, None, a("zh"), (a(""), a("zh"), a("bo"), a("bo"), a("ug")))
    assert upload_tracks(info) == [AudioTrack("bo", stream=3), AudioTrack("ug", stream=5)]


def test_language_tags() -> None:
    assert languages.from_container("tib") == "bo"
    assert languages.from_container("chi") == "zh"
    assert languages.from_container("und") is None
    assert languages.checked("ZH-yue") == "zh-yue"
    with pytest.raises(MediaProcessingError) as refused:
        languages.checked("klingon")
    message = refused.value.render("zh")
    assert "klingon" in message and "藏语" in message and "无法识别" in message


def test_master_names_are_unique_and_bandwidth_counts_the_largest_rendition() -> None:
    def v(name: str, bandwidth: int, language: str = "", width: int = 0) -> VariantInfo:
        return VariantInfo(
            name, f"{name}/index.m3u8", bandwidth, bandwidth, "mp4a.40.2", width, 0, 0, 1, 6, 1, language
        )

    text = master_playlist(
        [v("mobile-360p", 900_000, "zh", 640)],
        audio=[v(MOBILE_AUDIO, 140_000, "zh"), v(f"{MOBILE_AUDIO}-zh-Hans", 150_000, "zh-Hans")],
    )
    parsed = m3u8.loads(text)
    assert [m.name for m in parsed.media] == ["普通话", "普通话（zh-Hans）"]
    assert parsed.playlists[0].stream_info.bandwidth == 1_050_000
    assert parsed.playlists[0].stream_info.average_bandwidth == 900_000
    # Without audio renditions, the master is what it always was.
    assert "EXT-X-MEDIA" not in master_playlist([v("mobile-360p", 900_000, "zh", 640)])
