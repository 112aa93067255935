"""Captions burned into the set-top box pictures (libass, Chinese fonts), in the same ffmpeg run;
the phones' pictures stay clean."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from mediasrv.media.plan import FONTS_DIR, BurnIn, build_plan, caption_canvas, caption_style
from mediasrv.media.probe import probe
from mediasrv.media.profiles import Group, renditions_for
from mediasrv.media.runner import run_ffmpeg
from tests.mediafactory import hlscheck, make_media

CUES = "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n乡村卫生站今天开门\n"
BAND = 0.30  # the bottom part of the frame where captions may be
NOISE = 1.5  # mean grey difference of two encodes of the same pictures


@dataclass
class Runs:
    plain: Path
    burned: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("burn")
    source = make_media(base / "film.mp4", seconds=4, width=640, height=360)
    captions = base / "captions.vtt"
    captions.write_text(CUES, encoding="utf-8")
    info = probe(source)
    for name, burn in (("plain", None), ("burned", BurnIn(captions, "zh"))):
        plan = build_plan(source, info, base / name, burn_in=burn)
        run_ffmpeg(plan.args, duration=info.duration)
    return Runs(base / "plain", base / "burned")


def frame(outdir: Path, rendition: str, at: float = 2.0) -> Image.Image:
    png = outdir / f"{rendition}-{at}.png"
    cmd = ["ffmpeg", "-v", "error", "-y", "-ss", str(at), "-i", str(outdir / rendition / "index.m3u8")]
    subprocess.run([*cmd, "-frames:v", "1", str(png)], check=True, capture_output=True)
    return Image.open(png).convert("L")


def mean_difference(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    return float(ImageStat.Stat(ImageChops.difference(a.crop(box), b.crop(box))).mean[0])


def changed_share(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    """The share of pixels whose grey level changed by more than a quarter of the range (text)."""
    diff = ImageChops.difference(a.crop(box), b.crop(box))
    return sum(diff.histogram()[64:]) / (diff.width * diff.height)


@pytest.mark.parametrize("rendition", ["iptv", "iptv-sd"])
def test_a_burned_frame_differs_in_the_caption_area_only(runs: Runs, rendition: str) -> None:
    plain, burned = frame(runs.plain, rendition), frame(runs.burned, rendition)
    w, h = plain.size
    top = round(h * (1 - BAND))
    assert mean_difference(plain, burned, (0, 0, w, top)) < NOISE
    assert changed_share(plain, burned, (0, 0, w, top)) < 0.001
    assert changed_share(plain, burned, (0, top, w, h)) > 0.01, "no caption in the bottom band"
    # Inside the title-safe area: nothing changed in the bottom 5% of lines.
    assert mean_difference(plain, burned, (0, round(h * 0.95), w, h)) < NOISE
    hlscheck(runs.burned / rendition / "index.m3u8")


def test_the_phones_pictures_stay_clean(runs: Runs) -> None:
    plain, burned = frame(runs.plain, "mobile-360p"), frame(runs.burned, "mobile-360p")
    assert mean_difference(plain, burned, (0, 0, *plain.size)) < NOISE


def test_captions_use_the_debian_cjk_font_and_undo_the_sd_stretch(tmp_path: Path) -> None:
    assert any(FONTS_DIR.glob("NotoSansCJK-*.ttc")), "fonts-noto-cjk is not installed (make system)"
    info = probe(make_media(tmp_path / "film.mp4", seconds=1, width=1920, height=1080))
    specs = {s.name: s for s in renditions_for(info)}
    assert specs["iptv-sd"].sar == "64/45"
    assert caption_canvas(specs["iptv-sd"]) == "1024x576" and caption_canvas(specs["iptv"]) is None
    assert "FontName=Noto Sans CJK SC" in caption_style()
    plan = build_plan(tmp_path / "film.mp4", info, tmp_path / "out", burn_in=BurnIn(tmp_path / "c.vtt", "zh"))
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert graph.count("subtitles=") == 2  # iptv and iptv-sd, never a mobile rung
    assert all(Group.MOBILE not in s.groups for s in plan.renditions if s.name.startswith("iptv"))


def caption_width(plain: Image.Image, burned: Image.Image) -> int:
    """Width of the changed pixels' bounding box (the caption line)."""
    mask = ImageChops.difference(plain, burned).point(lambda v: 255 if v > 64 else 0)
    box = mask.getbbox()
    assert box is not None, "no caption"
    return box[2] - box[0]


def test_anamorphic_sd_captions_are_as_wide_as_on_hd_once_shown_16_9(tmp_path: Path) -> None:
    # 576 lines: iptv is 1024x576 square, iptv-sd 720x576 shown at 64/45. Regression: text drawn
    # on the 720-wide frame without the SAR came out 42% too wide on the box.
    source = make_media(tmp_path / "film.mp4", seconds=2, width=1024, height=576)
    captions = tmp_path / "c.vtt"
    captions.write_text(CUES, encoding="utf-8")
    info = probe(source)
    for name, burn in (("plain", None), ("burned", BurnIn(captions, "zh"))):
        plan = build_plan(source, info, tmp_path / name, burn_in=burn, iptv_only=True)
        run_ffmpeg(plan.args, duration=info.duration)
    hd = caption_width(frame(tmp_path / "plain", "iptv", 1.0), frame(tmp_path / "burned", "iptv", 1.0))
    sd = caption_width(frame(tmp_path / "plain", "iptv-sd", 1.0), frame(tmp_path / "burned", "iptv-sd", 1.0))
    assert sd * 64 / 45 == pytest.approx(hd, rel=0.05)
