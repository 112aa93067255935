"""Which renditions a source gets: IPTV (set-top boxes) and the mobile HLS ladder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from mediasrv.media.probe import MediaInfo

FPS = 25  # every video rendition is 25 fps constant: IPTV boxes require it, one GOP plan for all
IPTV_LUFS = -23.0  # EBU R128
MOBILE_LUFS = -16.0  # phones are listened to in noisy places, at lower gain
IPTV_AUDIO = 128_000
MOBILE_ALT_AUDIO = 128_000  # each language's audio-only rendition for phones
MAIN_AUDIO = "mobile-audio"  # the phones' rendition of the film's own sound (DEFAULT=YES)

# Frame height -> CBR bitrate for the 16:9 IPTV frames (first row whose height is <= the frame's).
_IPTV_BITRATES = (
    (1080, 8_000_000),
    (720, 4_500_000),
    (576, 2_500_000),
    (480, 1_800_000),
    (360, 1_200_000),
    (0, 800_000),
)
# Mobile ladder after Apple's: short side, video bitrate, audio bitrate.
_MOBILE_RUNGS = ((360, 800_000, 64_000), (540, 2_000_000, 96_000), (720, 3_000_000, 128_000))
MOBILE_MAXRATE = 1.1  # capped VBR: peaks stay near the advertised bitrate
SD_MAX_MACROBLOCKS = 1620  # H.264 level 3.0 MaxFS
# H.264 levels: name, MaxMBPS, MaxFS (macroblocks), MaxBR for Main (kb/s; High allows 1.25x).
_LEVELS = (
    ("3.0", 40_500, 1_620, 10_000),
    ("3.1", 108_000, 3_600, 14_000),
    ("3.2", 216_000, 5_120, 20_000),
    ("4.0", 245_760, 8_192, 20_000),
    ("4.1", 245_760, 8_192, 50_000),
    ("4.2", 522_240, 8_704, 50_000),
    ("5.0", 589_824, 22_080, 135_000),
    ("5.1", 983_040, 36_864, 240_000),
)


class Group(StrEnum):
    IPTV = "iptv"
    IPTV_SD = "iptv-sd"
    MOBILE = "mobile"


# Audio-only renditions, one per language, listed as EXT-X-MEDIA:TYPE=AUDIO in the mobile master. Not a
# Group: no presentation of its own (Group names the presentations), part of the mobile one.
MOBILE_AUDIO = "mobile-audio"


def language_group(group: Group, language: str) -> str:
    """The group of a set-top box variant carrying another language ("iptv-bo", "iptv-sd-zh-yue"):
    boxes ignore audio groups, so each language is a muxed variant of its own presentation."""
    return f"{group.value}-{language}"


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    groups: tuple[str, ...]  # Group values, or language_group names
    width: int  # coded frame size; 0 for audio-only
    height: int
    video_bitrate: int  # bits/s; 0 for audio-only
    cbr: bool
    h264_profile: str
    h264_level: str
    audio_bitrate: int
    loudness_lufs: float
    # Additions beyond the original interface (defaults keep it compatible):
    sar: str = "1/1"  # sample aspect ratio of the coded frame ("64/45" for anamorphic SD)
    padded: bool = False  # picture fitted into a 16:9 frame with black bars (IPTV)
    language: str = ""  # of its audio; "" when unknown
    track: int = 0  # which audio track it carries: 0 the film's own, n the n-th extra language
    video_of: str = ""  # the rendition whose encoded video it muxes again ("" = its own encode)

    @property
    def is_video(self) -> bool:
        return self.width > 0


def even(x: float) -> int:
    """Nearest even integer >= 2 (4:2:0 chroma needs even sizes)."""
    return max(2, 2 * round(x / 2))


def _mbs(width: int, height: int) -> tuple[int, int]:
    return math.ceil(width / 16), math.ceil(height / 16)


def h264_level(width: int, height: int, maxrate: int, profile: str = "high") -> str:
    """Smallest level (from 3.0, which every phone decodes) that fits frame size, 25 fps and peak rate."""
    cols, rows = _mbs(width, height)
    factor = 1.25 if profile == "high" else 1.0
    for name, max_mbps, max_fs, max_br in _LEVELS:
        side = math.isqrt(8 * max_fs)  # no frame dimension may exceed sqrt(8 * MaxFS) macroblocks
        if (
            cols * rows <= max_fs
            and cols * rows * FPS <= max_mbps
            and cols <= side
            and rows <= side
            and maxrate <= max_br * 1000 * factor
        ):
            return name
    raise ValueError(f"{width}x{height} at {maxrate} b/s exceeds H.264 level 5.1")


def _iptv_bitrate(height: int) -> int:
    return next(rate for h, rate in _IPTV_BITRATES if height >= h)


def _iptv_height(width: int, height: int) -> int:
    # The 16:9 frame tall enough to hold the picture unscaled (a 2.39:1 film of 1920x800 goes in
    # 1920x1080 letterboxed rather than being shrunk into 1422x800), never above 1080.
    tall = math.floor(max(height, width * 9 / 16))
    return min(1080, max(2, tall - tall % 2))


def _sd_frame(height: int) -> tuple[int, int, str]:
    """Width, height and SAR of a 16:9 frame of `height` lines within Main@3.0 (1620 macroblocks)."""
    square = even(height * 16 / 9)
    cols, rows = _mbs(square, height)
    if cols * rows <= SD_MAX_MACROBLOCKS:
        return square, height, "1/1"
    # Too many macroblocks with square pixels: store 720 wide and let the SAR stretch it to 16:9
    # (720x576 at 64/45 is exactly how broadcast SD carries 16:9).
    sar = Fraction(square, 720) if height != 576 else Fraction(64, 45)
    return 720, height, f"{sar.numerator}/{sar.denominator}"


def _audio_spec(name: str, groups: tuple[str, ...], bitrate: int, lufs: float) -> RenditionSpec:
    return RenditionSpec(
        name=name,
        groups=groups,
        width=0,
        height=0,
        video_bitrate=0,
        cbr=False,
        h264_profile="",
        h264_level="",
        audio_bitrate=bitrate,
        loudness_lufs=lufs,
    )


def _audio_only() -> list[RenditionSpec]:
    return [
        _audio_spec("iptv-audio", (Group.IPTV, Group.IPTV_SD), IPTV_AUDIO, IPTV_LUFS),
        _audio_spec("mobile-64k", (Group.MOBILE,), 64_000, MOBILE_LUFS),
        _audio_spec("mobile-128k", (Group.MOBILE,), 128_000, MOBILE_LUFS),
    ]


def renditions_for(info: MediaInfo, languages: Sequence[str] = ()) -> list[RenditionSpec]:
    """IPTV HD, IPTV SD and the mobile ladder for a film; three audio renditions for a recording.

    `languages`: the film's extra audio tracks, in order (track 1, 2...). Each adds a muxed IPTV and
    IPTV SD variant reusing the same video encode, and phones get every language, the film's own
    included, as an audio-only rendition (their video variants keep the film's own sound muxed, so
    players ignoring audio groups still play it). Recordings (no video) take no extra tracks."""
    if len(set(languages)) != len(languages):
        raise ValueError(f"an audio language is given twice: {list(languages)}")
    if info.video is None:
        return _audio_only()
    return _film(info) + _language_tracks(info, languages)


def _language_tracks(info: MediaInfo, languages: Sequence[str]) -> list[RenditionSpec]:
    if not languages:
        return []
    main = info.audio.language if info.audio is not None else ""
    specs: list[RenditionSpec] = []
    for group, base in ((Group.IPTV, "iptv"), (Group.IPTV_SD, "iptv-sd")):
        for track, lang in enumerate(languages, start=1):
            specs.append(
                replace(
                    _film_spec(info, base),
                    name=language_group(group, lang),
                    groups=(language_group(group, lang),),
                    language=lang,
                    track=track,
                    video_of=base,
                )
            )
    for track, lang in enumerate([main, *languages]):
        alt = _audio_spec(
            MAIN_AUDIO if track == 0 else f"{MAIN_AUDIO}-{lang}",
            (MOBILE_AUDIO,),
            MOBILE_ALT_AUDIO,
            MOBILE_LUFS,
        )
        specs.append(replace(alt, language=lang, track=track))
    return specs


def _film_spec(info: MediaInfo, name: str) -> RenditionSpec:
    return next(s for s in _film(info) if s.name == name)


def _film(info: MediaInfo) -> list[RenditionSpec]:
    assert info.video is not None
    main = info.audio.language if info.audio is not None else ""
    w, h = info.video.width, info.video.height
    specs: list[RenditionSpec] = []

    hd_h = _iptv_height(w, h)
    hd_rate = _iptv_bitrate(hd_h)
    specs.append(
        RenditionSpec(
            name="iptv",
            groups=(Group.IPTV,),
            width=even(hd_h * 16 / 9),
            height=hd_h,
            video_bitrate=hd_rate,
            cbr=True,
            h264_profile="high",
            h264_level="4.0",
            audio_bitrate=IPTV_AUDIO,
            loudness_lufs=IPTV_LUFS,
            padded=True,
            language=main,
        )
    )

    sd_w, sd_h, sd_sar = _sd_frame(min(576, hd_h))
    specs.append(
        RenditionSpec(
            name="iptv-sd",
            groups=(Group.IPTV_SD,),
            width=sd_w,
            height=sd_h,
            video_bitrate=_iptv_bitrate(sd_h),
            cbr=True,
            h264_profile="main",
            h264_level="3.0",
            audio_bitrate=IPTV_AUDIO,
            loudness_lufs=IPTV_LUFS,
            sar=sd_sar,
            padded=True,
            language=main,
        )
    )

    short, long_ = min(w, h), max(w, h)
    rungs = [r for r in _MOBILE_RUNGS if r[0] <= short]
    if not rungs:
        # Tiny source: one rung at its own size (never upscale), bitrate scaled by area from 360p.
        s = max(2, short - short % 2)
        area = s * even(long_ * s / short)
        rungs = [(s, max(145_000, round(800_000 * area / (640 * 360) / 1000) * 1000), 64_000)]
    for rung, vrate, arate in rungs:
        lw = even(long_ * rung / short)
        mw, mh = (lw, rung) if w >= h else (rung, lw)
        specs.append(
            RenditionSpec(
                name=f"mobile-{rung}p",
                groups=(Group.MOBILE,),
                width=mw,
                height=mh,
                video_bitrate=vrate,
                cbr=False,
                h264_profile="high",
                h264_level=h264_level(mw, mh, round(vrate * MOBILE_MAXRATE)),
                audio_bitrate=arate,
                loudness_lufs=MOBILE_LUFS,
                language=main,
            )
        )
    return specs
