"""Session photos lose their metadata (GPS, device) but keep their image and orientation."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from mediasrv.errors import MediaError, UnsupportedMedia
from mediasrv.study import photos

GPS_MARK = b"GPS-31.2304N-121.4737E"  # stands in for the GPS block of a phone's EXIF


def ffmpeg_image(path: Path) -> bytes:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48:rate=1",
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def exif(orientation: int) -> bytes:
    """An APP1 EXIF segment with an Orientation tag and some private bytes after it."""
    tiff = b"II\x2a\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0) + GPS_MARK
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decodes(data: bytes, tmp: Path, suffix: str) -> bool:
    path = tmp / f"check{suffix}"
    path.write_bytes(data)
    probe = ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(path)]
    r = subprocess.run(probe, capture_output=True, text=True, check=False)
    return r.returncode == 0 and r.stdout.strip() == "64,48"


def test_jpeg_loses_exif_but_keeps_orientation_and_pixels(tmp_path: Path) -> None:
    original = ffmpeg_image(tmp_path / "a.jpg")
    comment = b"\xff\xfe" + struct.pack(">H", 15) + b"Camera XYZ-01"  # COM: dropped too
    tagged = original[:2] + exif(6) + comment + original[2:]
    photo = photos.clean(tagged, "会议.jpg")
    assert (photo.content_type, photo.width, photo.height) == (photos.JPEG, 64, 48)
    assert GPS_MARK not in photo.data and b"Camera XYZ" not in photo.data
    assert b"Exif" in photo.data  # only the orientation survives
    assert photos._orientation(photo.data[photo.data.index(b"Exif") + 6 :]) == 6
    assert decodes(photo.data, tmp_path, ".jpg")
    upright = photos.clean(original[:2] + exif(1) + original[2:], "upright.jpg")
    assert b"Exif" not in upright.data  # nothing worth keeping


def test_png_loses_text_chunks(tmp_path: Path) -> None:
    original = ffmpeg_image(tmp_path / "a.png")
    at = original.index(b"IDAT") - 4
    tagged = (
        original[:at]
        + png_chunk(b"tEXt", b"Location\x00" + GPS_MARK)
        + png_chunk(b"eXIf", GPS_MARK)
        + original[at:]
    )
    photo = photos.clean(tagged, "合影.png")
    assert (photo.content_type, photo.width, photo.height) == (photos.PNG, 64, 48)
    assert GPS_MARK not in photo.data
    assert decodes(photo.data, tmp_path, ".png")


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (b"%PDF-1.4 not a photo", UnsupportedMedia, "not a JPEG or PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", UnsupportedMedia, "damaged"),
        (photos._PNG_SIGNATURE + b"\x00\x00", UnsupportedMedia, "damaged"),
    ],
    ids=["pdf", "truncated-jpeg", "truncated-png"],
)
def test_what_is_not_a_photo_is_refused_by_name(data: bytes, error: type[MediaError], says: str) -> None:
    with pytest.raises(error, match=says) as refused:
        photos.clean(data, "学习照片.jpg")
    assert "学习照片.jpg" in refused.value.message
