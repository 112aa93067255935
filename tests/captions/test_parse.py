"""Caption files: each format in each encoding is read; broken ones are refused naming the line."""

from __future__ import annotations

import pytest

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.kit.i18n import render
from mediasrv.media import subtitles
from mediasrv.media.subtitles import Cue

SRT = """1
00:00:01,000 --> 00:00:02,500
同志们好

2
00:00:03,000 --> 00:00:04,000
<i>学习党史</i>
第二行
"""
VTT = """WEBVTT

NOTE 由字幕软件导出

c1
00:00:01.000 --> 00:00:02.500 align:middle
同志们好

00:00:03.000 --> 00:00:04.000
<i>学习党史</i>
第二行
"""
ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, \
MarginR, MarginV, Encoding
Style: Default,SimHei,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,同志们好
Comment: 0,0:00:02.00,0:00:02.50,Default,,0,0,0,,校对意见
Dialogue: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\\i1}学习党史{\\i0}\\N第二行
"""
EXPECTED = [Cue(1.0, 2.5, "同志们好"), Cue(3.0, 4.0, "学习党史\n第二行")]
ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "gb18030": lambda t: t.encode("gb18030"),
    "crlf": lambda t: t.replace("\n", "\r\n").encode("gb18030"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("name", "text"), [("a.srt", SRT), ("a.vtt", VTT), ("a.ass", ASS)])
def test_each_format_in_each_encoding(name: str, text: str, encoding: str) -> None:
    cues = subtitles.parse(ENCODINGS[encoding](text), filename=name, duration=10)
    assert cues == EXPECTED
    assert subtitles.from_webvtt(subtitles.to_webvtt(cues)) == cues


def refusal(data: str | bytes, *, name: str = "a.srt", duration: float = 10) -> MediaProcessingError:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(MediaProcessingError) as caught:
        subtitles.parse(raw, filename=name, duration=duration)
    return caught.value


def zh(exc: MediaProcessingError) -> str:
    return render(exc.key, "zh", exc.params)


def test_end_before_start_names_the_line() -> None:
    bad = SRT.replace("00:00:03,000 --> 00:00:04,000", "00:00:05,000 --> 00:00:04,000")
    exc = refusal(bad)
    assert exc.key == "media.captions.end_before_start"
    assert zh(exc) == "字幕文件 a.srt 第 6 行：结束时间早于开始时间，请检查时间轴后重新上传。"


def test_empty_cue_names_the_line() -> None:
    exc = refusal(SRT.replace("<i>学习党史</i>\n第二行\n", "\n"))
    assert exc.key == "media.captions.empty_cue" and "第 6 行" in zh(exc)


def test_out_of_order_names_the_line() -> None:
    exc = refusal(VTT.replace("00:00:03.000 --> 00:00:04.000", "00:00:00.500 --> 00:00:04.000"), name="b.vtt")
    assert exc.key == "media.captions.out_of_order"
    assert "字幕文件 b.vtt 第 9 行" in zh(exc) and "0:00:01.000" in zh(exc)


def test_past_the_films_end() -> None:
    exc = refusal(ASS, name="c.ass", duration=2.0)
    assert exc.key == "media.captions.past_end"
    assert "字幕文件 c.ass 第 12 行" in zh(exc) and "0:00:04.000" in zh(exc)


def test_undecodable_bytes() -> None:
    exc = refusal(b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\x80\x81\xfe\n")
    assert exc.key == "media.captions.undecodable" and "a.srt" in zh(exc)


def test_not_a_caption_file() -> None:
    assert refusal("这只是一段文字").key == "media.captions.unknown_format"
    assert refusal("WEBVTT\n\n").key == "media.captions.no_cues"


@pytest.mark.parametrize(
    ("given", "tag"), [("zh-hans", "zh-Hans"), ("BO", "bo"), ("tib", "bo"), ("zh", "zh-Hans")]
)
def test_language_tags(given: str, tag: str) -> None:
    assert subtitles.check_language(given, filename="a.srt") == tag


def test_bad_language_tag() -> None:
    with pytest.raises(MediaProcessingError) as caught:
        subtitles.check_language("klingon", filename="a.srt")
    assert caught.value.key == "media.captions.bad_language"
    assert "klingon" in zh(caught.value) and "zh-Hans" in zh(caught.value)


def test_segments_follow_the_video_and_map_its_first_pts(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "sub"
    cues = [Cue(1.0, 2.0, "一"), Cue(5.5, 6.5, "跨段"), Cue(13.0, 13.8, "末")]
    subtitles.write_track(folder, cues, [6.0, 6.0, 2.0], 6, 126_000)
    playlist = (folder / "index.m3u8").read_text()
    assert playlist.count("#EXTINF:") == 3 and "#EXT-X-TARGETDURATION:6" in playlist
    first, second, third = ((folder / f"seg_{n:05d}.vtt").read_text() for n in range(3))
    assert first.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n")
    assert "一" in first and "跨段" in first and "跨段" in second and "一" not in second
    assert "末" in third and "跨段" not in third
