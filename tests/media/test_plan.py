"""The ffmpeg command plan, checked on its argv without running ffmpeg."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.media.plan import GLOBAL_ARGS, TranscodePlan, build_plan, picture_size
from mediasrv.media.probe import AudioInfo, MediaInfo, VideoInfo
from mediasrv.media.profiles import Group, RenditionSpec, h264_level, renditions_for

STEREO = AudioInfo(codec="aac", channels=2, channel_layout="stereo", sample_rate=44100)
SURROUND = AudioInfo(codec="ac3", channels=6, channel_layout="5.1(side)", sample_rate=48000)


def film(
    width: int,
    height: int,
    *,
    audio: AudioInfo | None = STEREO,
    interlaced: bool = False,
    rotation: int = 0,
    duration: float = 600.0,
) -> MediaInfo:
    video = VideoInfo(
        codec="h264",
        width=width,
        height=height,
        rotation=rotation,
        fps=25.0,
        interlaced=interlaced,
        field_order="tt" if interlaced else "progressive",
        pix_fmt="yuv420p",
    )
    return MediaInfo(
        format_name="mov,mp4", duration=duration, size=10**8, bit_rate=10**7, video=video, audio=audio
    )


def plan_for(tmp_path: Path, info: MediaInfo) -> TranscodePlan:
    return build_plan(tmp_path / "src.mp4", info, tmp_path / "out")


def filters(plan: TranscodePlan) -> list[str]:
    """The filter_complex, one filter per item with its stream labels removed."""
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    out = []
    for chain in graph.split(";"):
        body = chain
        while body.startswith("["):
            body = body[body.index("]") + 1 :]
        out.append(body.split("[", 1)[0])
    return out


def outputs(plan: TranscodePlan) -> dict[str, dict[str, list[str]]]:
    """Output file -> its options (every option we emit takes one value)."""
    args = plan.args[plan.args.index("-filter_complex") + 2 :] if "-filter_complex" in plan.args else []
    result: dict[str, dict[str, list[str]]] = {}
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        if args[i].startswith("-"):
            opts.setdefault(args[i][1:], []).append(args[i + 1])
            i += 2
        else:
            result[args[i]] = opts
            opts = {}
            i += 1
    return result


_SLAVE_OPTION = re.compile(r"(\w+)=\\'(.*?)\\'")
_TYPED = {"b", "c", "profile", "level"}  # options we write with their stream type ("b:v", not "b")


def rendition_outputs(plan: TranscodePlan) -> dict[str, dict[str, list[str]]]:
    """Rendition -> the options its muxer and its streams' encoders get: a tee output's options for
    the streams its slave selects ("b:v:1" as "b:v" for the slave of v:1), and the slave's own."""
    found: dict[str, dict[str, list[str]]] = {}
    for target, opts in outputs(plan).items():
        if opts.get("f") != ["tee"]:
            if target.endswith("index.m3u8"):
                found[Path(target).parent.name] = opts
            continue
        for slave in target.split("|"):
            listed, path = slave[1:].split("]", 1)
            own = dict(_SLAVE_OPTION.findall(listed))
            selected = own["select"].split(",")
            mine: dict[str, list[str]] = {"map": selected}
            for key, values in opts.items():
                parts = key.split(":")  # "b:v:1", "preset:v:0", "metadata:s:a:1"
                stream = ":".join(parts[-2:])
                if stream not in selected:
                    continue
                if parts[0] == "metadata":
                    mine[f"metadata:s:{parts[-2]}:0"] = values  # its stream 0 in the slave's file
                else:
                    mine[f"{parts[0]}:{parts[-2]}" if parts[0] in _TYPED else parts[0]] = values
            found[Path(path).parent.name] = mine | {k: [v] for k, v in own.items()}
    return found


def names(plan: TranscodePlan) -> list[str]:
    return [r.name for r in plan.renditions]


def test_1080p_progressive(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(1920, 1080))
    assert plan.args[0] == "ffmpeg" and plan.args[1 : 1 + len(GLOBAL_ARGS)] == GLOBAL_ARGS
    assert names(plan) == ["iptv", "iptv-sd", "mobile-360p", "mobile-540p", "mobile-720p"]
    f = filters(plan)
    # decode once: deinterlace, 25 fps, then one branch per rendition plus the poster
    assert f[:3] == ["bwdif=deint=interlaced:mode=send_frame", "fps=25", "split=6"]
    for size in ("scale=1920:1080", "scale=720:576", "scale=640:360", "scale=960:540", "scale=1280:720"):
        assert size in f
    assert "setsar=64/45" in f  # 16:9 SD in 720x576 anamorphic
    assert not any(x.startswith("pad=") for x in f)  # a 16:9 source fills the frames

    outs = rendition_outputs(plan)
    iptv, sd, mob = outs["iptv"], outs["iptv-sd"], outs["mobile-720p"]
    assert iptv["b:v"] == iptv["minrate"] == iptv["maxrate"] == ["8000000"]
    assert (
        iptv["x264-params"] == ["nal-hrd=cbr"]
        and iptv["profile:v"] == ["high"]
        and iptv["level:v"] == ["4.0"]
    )
    assert sd["b:v"] == sd["minrate"] == sd["maxrate"] == ["2500000"]
    assert sd["profile:v"] == ["main"] and sd["level:v"] == ["3.0"] and sd["x264-params"] == ["nal-hrd=cbr"]
    assert mob["b:v"] == ["3000000"] and mob["maxrate"] == ["3300000"] and "minrate" not in mob
    assert "x264-params" not in mob and mob["profile:v"] == ["high"] and mob["level:v"] == ["3.1"]
    assert outs["mobile-360p"]["b:a"] == ["64000"] and outs["mobile-540p"]["b:a"] == ["96000"]
    assert mob["b:a"] == iptv["b:a"] == ["128000"]
    for name, o in outs.items():
        assert o["c:v"] == ["libx264"] and o["pix_fmt"] == ["yuv420p"] and o["preset"] == ["veryfast"]
        assert o["g"] == o["keyint_min"] == ["50"] and o["sc_threshold"] == ["0"]
        assert o["force_key_frames"] == ["expr:gte(t,n_forced*2)"]
        assert (
            o["c:a"] == ["aac"]
            and o["profile:a"] == ["aac_low"]
            and o["ar"] == ["48000"]
            and o["ac"] == ["2"]
        )
        assert o["f"] == ["hls"] and o["hls_time"] == ["6"] and o["hls_playlist_type"] == ["vod"]
        assert o["hls_segment_type"] == ["mpegts"]
        assert o["hls_segment_filename"] == [str(tmp_path / "out" / name / "seg_%05d.ts")]
        assert len(o["map"]) == 2  # one video, one audio: muxed TS
        assert (tmp_path / "out" / name).is_dir()

    # loudness: one loudnorm, at the phones' -16, resampled back to 48 kHz; the boxes' -23 is the
    # same sound 7 dB down (the measured loudness: tests/media/test_hls.py)
    assert [x for x in f if x.startswith(("loudnorm", "volume"))] == [
        "loudnorm=I=-16.0:LRA=11:TP=-2",
        "volume=-7.0dB",
    ]
    assert f[f.index("loudnorm=I=-16.0:LRA=11:TP=-2") + 1] == "aresample=48000"
    assert "asplit=2" in f and "asplit=3" in f  # 2 IPTV renditions at -23, 3 mobile at -16

    poster = outputs(plan)[str(tmp_path / "out" / "poster.jpg")]
    assert plan.poster == tmp_path / "out" / "poster.jpg"
    assert poster["frames:v"] == ["1"] and poster["f"] == ["image2"]
    assert "trim=end=31.000:start=30.000" in f  # 10% of 600 s is capped at 30 s
    assert f.count("scale=1280:720") == 2  # mobile-720p and the poster (short side 720)


def test_interlaced_source_is_deinterlaced_before_split(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(1920, 1080, interlaced=True))
    f = filters(plan)
    assert f.index("bwdif=deint=interlaced:mode=send_frame") < f.index("fps=25") < f.index("split=6")
    assert "[0:V:0]bwdif" in plan.args[plan.args.index("-filter_complex") + 1]  # not cover art


def test_rotated_phone_video(tmp_path: Path) -> None:
    # probe reports display size (1080x1920 for a 1920x1080 stream rotated 90); ffmpeg autorotates
    plan = plan_for(tmp_path, film(1080, 1920, rotation=90))
    f = filters(plan)
    assert not any(x.startswith(("transpose", "rotate")) for x in f) and "-noautorotate" not in plan.args
    assert "scale=608:1080" in f and "pad=1920:1080:656:0:color=black" in f  # pillarboxed on TV
    assert names(plan)[2:] == ["mobile-360p", "mobile-540p", "mobile-720p"]
    for size in ("scale=360:640", "scale=540:960", "scale=720:1280"):
        assert size in f  # mobile keeps the portrait shape
    assert "scale=720:1280" in f


def test_portrait_source(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(720, 1280))
    r = {s.name: s for s in plan.renditions}
    assert (r["iptv"].width, r["iptv"].height) == (1920, 1080)
    assert picture_size(r["iptv"], 720, 1280) == (608, 1080)
    assert (r["mobile-720p"].width, r["mobile-720p"].height) == (720, 1280)
    sd = picture_size(r["iptv-sd"], 720, 1280)
    assert sd[1] == 576 and sd[0] < 720


def test_no_audio_gets_silent_track(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(1280, 720, audio=None, duration=42.5))
    a = plan.args
    i = a.index("anullsrc=channel_layout=stereo:sample_rate=48000")
    assert a[i - 1] == "-i" and "lavfi" in a[i - 6 : i] and "42.500" in a[i - 6 : i]
    f = filters(plan)
    # One silence per sound encoded: iptv and iptv-sd carry one, each phone rung its own.
    assert "asplit=4" in f and not any(x.startswith("loudnorm") for x in f)
    assert "[1]asplit=4" in a[a.index("-filter_complex") + 1]
    for o in rendition_outputs(plan).values():
        assert len(o["map"]) == 2 and o["ar"] == ["48000"]


def test_surround_is_downmixed_before_loudnorm(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(1920, 1080, audio=SURROUND))
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert "[0:a:0]aformat=channel_layouts=stereo" in graph
    f = filters(plan)
    assert f.index("aformat=channel_layouts=stereo") < f.index("loudnorm=I=-16.0:LRA=11:TP=-2")
    assert all(o["ac"] == ["2"] for o in rendition_outputs(plan).values())


def test_audio_only(tmp_path: Path) -> None:
    info = MediaInfo(
        format_name="mp3", duration=1800, size=10**7, bit_rate=128000, video=None, audio=SURROUND
    )
    plan = plan_for(tmp_path, info)
    assert plan.poster is None
    assert names(plan) == ["iptv-audio", "mobile-64k", "mobile-128k"]
    assert plan.renditions[0].groups == (Group.IPTV, Group.IPTV_SD)
    f = filters(plan)
    assert not any(x.startswith(("bwdif", "scale", "split=")) for x in f)
    assert [x for x in f if x.startswith(("loudnorm", "volume"))] == [
        "loudnorm=I=-16.0:LRA=11:TP=-2",
        "volume=-7.0dB",
    ]
    outs = rendition_outputs(plan)
    assert set(outs) == {"iptv-audio", "mobile-64k", "mobile-128k"}
    assert [o["b:a"] for o in outs.values()] == [["128000"], ["64000"], ["128000"]]
    for o in outs.values():
        assert (
            len(o["map"]) == 1
            and "c:v" not in o
            and o["f"] == ["hls"]
            and o["hls_segment_type"] == ["mpegts"]
        )
    assert "libx264" not in plan.args


def test_tiny_source_never_upscaled(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(320, 240, duration=5))
    assert names(plan) == ["iptv", "iptv-sd", "mobile-240p"]
    mobile = plan.renditions[2]
    assert (mobile.width, mobile.height) == (320, 240) and 145_000 <= mobile.video_bitrate < 800_000
    f = filters(plan)
    scales = [tuple(int(n) for n in x[6:].split(":")) for x in f if x.startswith("scale=")]
    assert all(w <= 320 and h <= 240 for w, h in scales)  # pictures never grow; IPTV pads instead
    assert "pad=426:240:52:0:color=black" in f
    assert "trim=end=1.500:start=0.500" in f  # poster at 10% of a 5 s film


def test_720p_source_has_no_1080_rendition(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(1280, 720))
    r = {s.name: s for s in plan.renditions}
    assert (r["iptv"].width, r["iptv"].height, r["iptv"].video_bitrate) == (1280, 720, 4_500_000)
    assert not any("1920" in a or "1080" in a for a in filters(plan))
    assert "mobile-720p" in r


def test_sd_source_between_rungs(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, film(640, 480))
    r = {s.name: s for s in plan.renditions}
    assert (r["iptv"].width, r["iptv"].height, r["iptv"].video_bitrate) == (854, 480, 1_800_000)
    # 854x480 is exactly 1620 macroblocks: square pixels still fit Main@3.0
    assert (r["iptv-sd"].width, r["iptv-sd"].height, r["iptv-sd"].sar) == (854, 480, "1/1")
    assert [n for n in r if n.startswith("mobile")] == ["mobile-360p"]
    assert (r["mobile-360p"].width, r["mobile-360p"].height) == (480, 360)


def test_540_lines_sd_is_anamorphic() -> None:
    specs = {s.name: s for s in renditions_for(film(960, 540))}
    assert (specs["iptv-sd"].width, specs["iptv-sd"].height, specs["iptv-sd"].sar) == (720, 540, "4/3")


def test_scope_film_is_letterboxed_not_shrunk() -> None:
    specs = {s.name: s for s in renditions_for(film(1920, 800))}
    assert (specs["iptv"].width, specs["iptv"].height) == (1920, 1080)
    assert picture_size(specs["iptv"], 1920, 800) == (1920, 800)
    assert picture_size(specs["iptv-sd"], 1920, 800) == (720, 426)  # 1024x426 shown, stored anamorphic


@pytest.mark.parametrize(
    ("w", "h", "rate", "level"),
    [
        (640, 360, 880_000, "3.0"),
        (960, 540, 2_200_000, "3.1"),
        (1280, 720, 3_300_000, "3.1"),
        (1728, 720, 3_300_000, "3.2"),
        (1920, 1080, 8_000_000, "4.0"),
    ],
)
def test_h264_level(w: int, h: int, rate: int, level: str) -> None:
    assert h264_level(w, h, rate) == level


def test_every_video_rendition_fits_its_level() -> None:
    for w, h in [(1920, 1080), (1080, 1920), (3840, 2160), (720, 576), (352, 288), (1920, 800), (100, 60)]:
        for spec in renditions_for(film(w, h)):
            assert isinstance(spec, RenditionSpec)
            assert spec.width % 2 == 0 and spec.height % 2 == 0
            assert float(h264_level(spec.width, spec.height, spec.video_bitrate, spec.h264_profile)) <= float(
                spec.h264_level
            )


def test_build_plan_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("build_plan started a process")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    plan_for(tmp_path, film(1920, 1080))


def test_source_is_read_as_the_probed_file_only(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, dataclasses.replace(film(640, 360, duration=30.0), size=10_000))
    i = plan.args.index("-i")
    before = plan.args[plan.args.index("error") + 1 : i]
    options = dict(zip(before[::2], before[1::2], strict=True))
    assert plan.args[i + 1] == f"file:{(tmp_path / 'src.mp4').absolute()}"
    assert options == {"-f": "mov", "-format_whitelist": "mov", "-protocol_whitelist": "file", "-t": "32.000"}
    with pytest.raises(MediaProcessingError, match="HLS playlist"):
        plan_for(tmp_path, dataclasses.replace(film(640, 360), format_name="hls"))
