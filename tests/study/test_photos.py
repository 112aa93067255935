"""Session photos keep their pixels and nothing else: no EXIF (GPS, device), no APPn segment, no PNG
text or private chunk, no second image hidden after the first; upright as taken; PNG stays PNG and
is served as one."""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mediasrv.db import Database
from mediasrv.kit.errors import MediaError, UnsupportedMedia, UploadTooLarge
from mediasrv.protocol import photos as pixels
from mediasrv.study import photos
from tests.study.test_lists import site_with

GPS_MARK = b"GPS-31.2304N-121.4737E"  # stands in for the GPS block of a phone's EXIF


def ffmpeg_image(path: Path, *, filters: str = "null") -> bytes:
    """A 64x48 test picture; `filters` may draw on it."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-vf", filters]
    subprocess.run([*cmd, "-frames:v", "1", str(path)], check=True)
    return path.read_bytes()


def marked(path: Path) -> bytes:
    """Red, with a blue block in the top-left corner: where the top-left ended up tells the turn."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:size=64x48:rate=1"]
    box = "drawbox=x=0:y=0:w=16:h=12:color=blue@1:t=fill"
    subprocess.run([*cmd, "-vf", box, "-frames:v", "1", str(path)], check=True)
    return path.read_bytes()


def tiff(orientation: int) -> bytes:
    """An EXIF (TIFF) block with an Orientation tag and private bytes (the GPS mark) after it."""
    block = b"II\x2a\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    return block + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0) + GPS_MARK


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def exif(orientation: int) -> bytes:
    return segment(0xE1, b"Exif\x00\x00" + tiff(orientation))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's segments up to its first scan."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while data[pos + 1] != 0xDA:
        found.append(data[pos + 1])
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return found


def png_chunks(data: bytes) -> list[bytes]:
    pos, found = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        found.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return found


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# What a re-encoded JPEG may hold before its scan: JFIF, tables, the frame, restart interval.
JPEG_IMAGE_MARKERS = {0xE0, 0xDB, 0xC4, 0xDD, 0xC0, 0xC1, 0xC2}


def test_a_jpeg_keeps_its_pixels_and_nothing_else(tmp_path: Path) -> None:
    """EXIF, APP2-APP15 (ICC, MPF, XMP extensions, IPTC, vendor blocks), a comment and a whole second
    image after the first one's end (as phones append a depth map or a preview, with its own EXIF)."""
    original = ffmpeg_image(tmp_path / "a.jpg")
    second = ffmpeg_image(tmp_path / "b.jpg", filters="hflip")
    second = second[:2] + exif(1) + second[2:]
    apps = b"".join(segment(m, b"APP%d\x00" % (m - 0xE0) + GPS_MARK) for m in range(0xE2, 0xF0))
    comment = segment(0xFE, b"Camera XYZ-01 " + GPS_MARK)
    tagged = original[:2] + exif(1) + apps + comment + original[2:] + second
    photo = photos.clean(tagged, "会议.jpg")

    assert (photo.content_type, photo.width, photo.height) == (photos.JPEG, 64, 48)
    assert GPS_MARK not in photo.data and b"Camera XYZ" not in photo.data and b"Exif" not in photo.data
    assert set(jpeg_markers(photo.data)) <= JPEG_IMAGE_MARKERS, [hex(m) for m in jpeg_markers(photo.data)]
    assert photo.data.count(b"\xff\xd8") == 1 and photo.data.endswith(b"\xff\xd9")  # one image, no tail
    assert decoded(photo.data).size == (64, 48)
    # The same pixels with other metadata are the same photo (the stored key is its SHA-256).
    assert photos.clean(original, "again.jpg").data == photo.data


def test_a_png_keeps_its_pixels_and_nothing_else(tmp_path: Path) -> None:
    original = ffmpeg_image(tmp_path / "a.png")
    at = original.index(b"IDAT") - 4
    end = original.index(b"IEND") - 4
    tagged = (
        original[:at]
        + png_chunk(b"tEXt", b"Location\x00" + GPS_MARK)
        + png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + GPS_MARK)
        + png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(GPS_MARK))
        + png_chunk(b"eXIf", tiff(1))
        + png_chunk(b"tIME", b"\x07\xea\x0b\x14\x13\x1e\x00")
        + png_chunk(b"gpSx", GPS_MARK)  # a private ancillary chunk: readers skip what they do not know
        + original[at:end]
        + png_chunk(b"tEXt", b"Author\x00" + GPS_MARK)  # after the image data too
        + original[end:]
        + b"trailing "
        + GPS_MARK
    )
    photo = photos.clean(tagged, "合影.png")

    assert (photo.content_type, photo.width, photo.height) == (photos.PNG, 64, 48)
    assert set(png_chunks(photo.data)) <= {b"IHDR", b"IDAT", b"IEND"}, png_chunks(photo.data)
    assert GPS_MARK not in photo.data and zlib.compress(GPS_MARK) not in photo.data
    assert photo.data.endswith(png_chunk(b"IEND", b""))
    assert decoded(photo.data).tobytes() == decoded(original).tobytes()  # lossless, as PNG is


@pytest.mark.parametrize("kind", ["jpg", "png"])
def test_a_photo_taken_on_its_side_is_kept_upright(tmp_path: Path, kind: str) -> None:
    """Orientation 6: the camera was turned, the viewer turns the stored image 90° clockwise. The
    pixels are turned once here, and the tag goes with the rest of the metadata."""
    original = marked(tmp_path / f"m.{kind}")
    if kind == "jpg":
        tagged = original[:2] + exif(6) + original[2:]
    else:
        at = original.index(b"IDAT") - 4
        tagged = original[:at] + png_chunk(b"eXIf", tiff(6)) + original[at:]
    photo = photos.clean(tagged, f"side.{kind}")

    assert (photo.width, photo.height) == (48, 64)
    assert b"Exif" not in photo.data and b"eXIf" not in photo.data and GPS_MARK not in photo.data
    image = decoded(photo.data).convert("RGB")
    assert image.size == (48, 64)
    red, green, blue = image.getpixel((48 - 4, 4))  # the stored top-left, now top-right
    assert blue > 200 and red < 60, (red, green, blue)
    red, green, blue = image.getpixel((4, 4))
    assert red > 200 and blue < 60, (red, green, blue)


def grey_png(width: int, height: int) -> bytes:
    """A valid mid-grey PNG: a hundred KB or so that would decode to width*height bytes (not
    zeros: a decoder writing zeros to fresh pages would not show in the memory used)."""
    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * width
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    )


PEAK = """
import resource, sys
from pathlib import Path
from mediasrv.protocol import photos
photos.strip(Path(sys.argv[1]).read_bytes())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    photos.strip(Path(sys.argv[2]).read_bytes())
except photos.NotAPhoto as exc:
    print(exc.reason, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    bomb = grey_png(10_000, 10_000)  # 100 megapixels, 100 MB decoded, ~100 KB sent
    assert len(bomb) < 1_000_000
    with pytest.raises(UploadTooLarge, match="at most 60 megapixels") as refused:
        photos.clean(bomb, "炸弹.png")
    assert refused.value.status_code == 413 and "炸弹.png" in refused.value.message
    # A JPEG whose frame header claims 30000x30000.
    small = ffmpeg_image(tmp_path / "a.jpg")
    sof = small.index(b"\xff\xc0")
    huge = small[: sof + 5] + struct.pack(">HH", 30_000, 30_000) + small[sof + 9 :]
    with pytest.raises(UploadTooLarge, match="megapixels"):
        photos.clean(huge, "huge.jpg")

    # In a process of its own: refusing the bomb costs no memory (decoding it would cost 100 MB).
    (tmp_path / "bomb.png").write_bytes(bomb)
    ran = subprocess.run(
        [sys.executable, "-c", PEAK, str(tmp_path / "a.jpg"), str(tmp_path / "bomb.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    reason, grown_kb = ran.stdout.split()
    assert reason == "pixels" and int(grown_kb) < 20_000, ran.stdout


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (b"%PDF-1.4 not a photo", UnsupportedMedia, "not a JPEG or PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", UnsupportedMedia, "damaged"),
        (pixels.PNG_SIGNATURE + b"\x00\x00", UnsupportedMedia, "damaged"),
    ],
    ids=["pdf", "truncated-jpeg", "truncated-png"],
)
def test_what_is_not_a_photo_is_refused_by_name(data: bytes, error: type[MediaError], says: str) -> None:
    with pytest.raises(error, match=says) as refused:
        photos.clean(data, "学习照片.jpg")
    assert "学习照片.jpg" in refused.value.message


def test_a_cut_off_photo_is_refused_as_damaged(tmp_path: Path) -> None:
    whole = ffmpeg_image(tmp_path / "a.jpg")
    with pytest.raises(UnsupportedMedia, match="damaged"):
        photos.clean(whole[: len(whole) // 2], "cut.jpg")


def test_photos_are_served_with_their_type_under_a_content_key(
    client: TestClient, db: Database, admin: dict[str, str], tmp_path: Path
) -> None:
    site_id, headers = site_with(client, db, admin, "photo-site", "河北省/邢台市/信都区/西黄村镇/西塘村")
    made = client.post(
        f"/api/v1/sites/{site_id}/sessions",
        headers=headers,
        json={"id": "s" * 32, "started_at": "2026-11-20T19:30:00+08:00", "minutes": 60, "members_present": 9},
    )
    assert made.status_code == 201, made.text
    url = f"/api/v1/sites/{site_id}/sessions/{'s' * 32}/photos"
    for suffix, content_type in (("png", "image/png"), ("jpg", "image/jpeg")):
        data = ffmpeg_image(tmp_path / f"a.{suffix}")
        posted = client.post(url, headers=headers, files={"file": (f"照片.{suffix}", data, content_type)})
        assert posted.status_code == 201, posted.text
        kept = posted.json()
        assert kept["content_type"] == content_type
        served = client.get(f"{url}/{kept['id']}", headers=headers)
        assert served.status_code == 200
        assert served.headers["content-type"] == content_type
        assert hashlib.sha256(served.content).hexdigest() == kept["sha256"]
        assert served.content == photos.strip(data).data
        store = client.app.state.store  # type: ignore[attr-defined]
        assert store.stat(f"study/{site_id}/{'s' * 32}/{kept['sha256']}.{suffix}") is not None
