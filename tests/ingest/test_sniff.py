"""The upload sniffer on real first bytes: what ffmpeg would read behind an ID3 tag is judged too."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediasrv.ingest.sniff import Sniffed, describe, sniff
from mediasrv.kit.i18n import render
from tests.mediafactory import id3_wrapped, make_cover_art_mp3, make_media, make_playlist_trap

HEAD = 4096  # what the upload routes give the sniffer (spool.HEAD_BYTES)


def head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(HEAD)


@pytest.mark.parametrize("name", ["lecture.mp3", "lecture.m4a", "film.mp4", "film.ts", "lecture.wav"])
def test_real_media_is_media(tmp_path: Path, name: str) -> None:
    assert sniff(head(make_media(tmp_path / name, seconds=1))) is Sniffed.MEDIA


def test_tagged_audio_is_media(tmp_path: Path) -> None:
    # A cover picture makes the tag longer than the first bytes: the sniffer leaves it to the probe.
    assert sniff(head(make_cover_art_mp3(tmp_path / "cover.mp3", seconds=1))) is Sniffed.MEDIA
    frames = make_media(tmp_path / "plain.mp3", seconds=1).read_bytes()
    assert sniff(id3_wrapped(frames[:4000], tag_bytes=40)) is Sniffed.MEDIA


@pytest.mark.parametrize(
    ("kind", "looks_like"), [("hls", "M3U/HLS playlist"), ("ffconcat", "ffmpeg concat list")]
)
def test_playlist_behind_an_id3_tag_is_refused(tmp_path: Path, kind: str, looks_like: str) -> None:
    data = head(make_playlist_trap(tmp_path / "lecture.mp3", tmp_path / "secret.ts", kind=kind))
    assert sniff(data) is None
    looks = describe(data)
    said = render(looks.key, "en", looks.params)
    assert looks_like in said and said.endswith("behind an MP3 tag")
    assert render(looks.key, "zh", looks.params).startswith("藏在 MP3 标签后面的")


def test_bare_playlist_is_refused(tmp_path: Path) -> None:
    data = b"#EXTM3U\n#EXTINF:3,\nfile:///etc/passwd\n"
    assert sniff(data) is None and "M3U/HLS playlist" in render(describe(data).key, "en")
