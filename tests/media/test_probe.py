from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.media.probe import ACCEPTED_FORMATS, _video_info, demuxer, input_options, probe
from tests.mediafactory import (
    make_cover_art_mp3,
    make_duration_lie,
    make_media,
    make_not_media,
    make_picture,
    make_playlist_trap,
    make_truncated,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


def test_progressive_mp4(media: Path) -> None:
    info = probe(make_media(media / "film.mp4", seconds=2))
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height, info.video.rotation) == (320, 240, 0)
    assert info.video.codec == "h264" and info.video.fps == 25.0 and not info.video.interlaced
    assert (info.audio.channels, info.audio.sample_rate, info.audio.codec) == (2, 44100, "aac")
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size > 0 and info.bit_rate > 0
    assert json.loads(json.dumps(info.as_dict()))["video"]["width"] == 320


def test_interlaced_broadcast_ts(media: Path) -> None:
    info = probe(make_media(media / "broadcast.ts", seconds=2, width=352, height=288, interlaced=True))
    assert info.format_name == "mpegts"
    assert info.video is not None and info.video.codec == "mpeg2video"
    assert info.video.interlaced and info.video.field_order in ("tt", "tb")


def test_rotated_phone_video_reports_display_size(media: Path) -> None:
    info = probe(make_media(media / "phone.mp4", seconds=2, rotate=90))
    assert info.video is not None
    assert info.video.rotation in (90, 270)
    assert (info.video.width, info.video.height) == (240, 320)


def test_surround(media: Path) -> None:
    info = probe(make_media(media / "surround.mp4", seconds=2, audio_channels=6))
    assert info.audio is not None and info.audio.channels == 6 and info.audio.channel_layout.startswith("5.1")


def test_silent_film_has_no_audio(media: Path) -> None:
    info = probe(make_media(media / "silent.mp4", seconds=2, audio_channels=0))
    assert info.video is not None and info.audio is None


@pytest.mark.parametrize("name", ["lecture.m4a", "lecture.mp3"])
def test_audio_only(media: Path, name: str) -> None:
    info = probe(make_media(media / name, seconds=2))
    assert info.video is None and info.audio is not None and info.audio.channels == 2


def test_cover_art_mp3_is_audio(media: Path) -> None:
    path = make_cover_art_mp3(media / "cover.mp3", seconds=2)
    raw = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert any(s["codec_type"] == "video" and s["disposition"]["attached_pic"] for s in raw["streams"])
    info = probe(path)
    assert info.video is None and info.audio is not None


def test_anamorphic_width_is_display_width() -> None:
    v = _video_info(
        {
            "codec_name": "mpeg2video",
            "width": 720,
            "height": 576,
            "sample_aspect_ratio": "64:45",
            "avg_frame_rate": "0/0",
            "r_frame_rate": "25/1",
            "field_order": "bb",
        }
    )
    assert (v.width, v.height, v.fps, v.interlaced) == (1024, 576, 25.0, True)


def test_tag_rotation() -> None:
    v = _video_info({"codec_name": "h264", "width": 1920, "height": 1080, "tags": {"rotate": "90"}})
    assert (v.rotation, v.width, v.height) == (90, 1080, 1920)


def test_truncated_file(media: Path) -> None:
    src = make_media(media / "whole.mp4", seconds=2)
    with pytest.raises(MediaProcessingError) as err:
        probe(make_truncated(src, media / "cut.mp4"))
    assert err.value.status_code == 422
    assert "moov atom not found" in err.value.message
    assert "truncated or damaged" in err.value.message and "re-upload" in err.value.message
    assert str(media) not in err.value.message


@pytest.mark.parametrize("name", ["minutes.txt", "minutes.mp4", "minutes"])
def test_text_file(media: Path, name: str) -> None:
    with pytest.raises(MediaProcessingError) as err:
        probe(make_not_media(media / name))
    assert "video or audio" in err.value.message


@pytest.mark.parametrize("name", ["still.png", "still.jpg"])
def test_picture(media: Path, name: str) -> None:
    with pytest.raises(MediaProcessingError, match="is a picture") as err:
        probe(make_picture(media / name))
    assert "not a film" in err.value.message


def test_missing_file(media: Path) -> None:
    with pytest.raises(MediaProcessingError, match="could not be read"):
        probe(media / "nothing-here.mp4")


# ffmpeg reads only the upload (issue 15, item 4).


@pytest.mark.parametrize("tag_bytes", [0, 6000], ids=["small-tag", "tag-past-the-sniffer"])
def test_hls_playlist_behind_an_mp3_tag_is_refused(tmp_path: Path, tag_bytes: int) -> None:
    secret = make_media(tmp_path / "secret" / "secret.ts", seconds=3, video=False)
    trap = make_playlist_trap(tmp_path / "lecture.mp3", secret, tag_bytes=tag_bytes)
    with pytest.raises(MediaProcessingError) as err:
        probe(trap)
    assert "HLS playlist" in err.value.message and "refers to other files" in err.value.message
    assert "MP4" in err.value.message  # says what to upload instead
    assert str(tmp_path) not in err.value.message


@pytest.mark.parametrize("wrapped", [False, True], ids=["ffconcat", "ffconcat-behind-mp3-tag"])
def test_concat_list_is_refused(tmp_path: Path, wrapped: bool) -> None:
    # concat's "safe" mode still follows a plain name next to the list: the secret sits there.
    make_media(tmp_path / "secret.ts", seconds=2, video=False)
    trap = make_playlist_trap(tmp_path / "lecture.mp3", "secret.ts", kind="ffconcat")
    if not wrapped:
        trap = trap.rename(tmp_path / "list.ffconcat")
        trap.write_bytes(trap.read_bytes()[10:])  # the bare list, without the tag
    with pytest.raises(MediaProcessingError, match="concat list that refers to other files"):
        probe(trap)


def test_image_sequence_pattern_is_refused(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        make_picture(tmp_path / f"leak{n:03d}.png")
    with pytest.raises(MediaProcessingError, match="numbered image sequence"):
        probe(tmp_path / "leak%03d.png")


def test_a_name_is_never_a_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative path named like a protocol URL ("concat:secret.mp4") is that file, and nothing else.
    make_media(tmp_path / "secret.mp4", seconds=3)
    (tmp_path / "concat:secret.mp4").write_bytes(make_media(tmp_path / "film.mp4", seconds=1).read_bytes())
    monkeypatch.chdir(tmp_path)
    assert probe(Path("concat:secret.mp4")).duration == pytest.approx(1.0, abs=0.1)


def test_tiny_file_claiming_hours_is_refused(tmp_path: Path) -> None:
    lie = make_duration_lie(tmp_path / "lie.ts", claimed_seconds=36_000)
    assert lie.stat().st_size < 500_000
    with pytest.raises(MediaProcessingError) as err:
        probe(lie)
    assert "claims to last 10:00:00" in err.value.message and "re-upload" in err.value.message


def test_accepted_formats_cover_what_the_sniffer_admits(tmp_path: Path) -> None:
    for name, kwargs in [
        ("a.mp4", {}),
        ("a.mkv", {}),
        ("a.ts", {}),
        ("a.avi", {}),
        ("a.mp3", {}),
        ("a.wav", {}),
        ("a.m4a", {}),
    ]:
        info = probe(make_media(tmp_path / name, seconds=1, **kwargs))
        assert demuxer(info.format_name) in ACCEPTED_FORMATS
        assert input_options(info.format_name)["f"] == demuxer(info.format_name)
    with pytest.raises(MediaProcessingError, match="HLS playlist"):
        input_options("hls")
