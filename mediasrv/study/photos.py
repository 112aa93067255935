"""Session photos: only JPEG and PNG, and never with their metadata (a phone's EXIF carries the GPS
position, the device and the time of every member photographed).

Stripping works on the container, not the pixels: JPEG keeps its image segments and drops APP1 (EXIF,
XMP), APP13 (IPTC) and comments; PNG keeps its chunks but the text, time and eXIf ones. No decoding,
so no quality loss and no image library. A JPEG's EXIF orientation is kept (in a minimal EXIF segment
of that one tag), or a photo taken upright would show on its side.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mediasrv.errors import MediaError, UnsupportedMedia

JPEG, PNG = "image/jpeg", "image/png"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_JPEG_DROP = {0xE1, 0xED, 0xFE}  # APP1 (EXIF/XMP), APP13 (IPTC), COM
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers: they carry the size
MAX_PIXELS = 60_000_000  # a 60-megapixel photo is already more than any session needs


@dataclass(frozen=True)
class Photo:
    data: bytes  # without metadata
    content_type: str
    width: int
    height: int


def clean(data: bytes, filename: str) -> Photo:
    """The photo without metadata; UnsupportedMedia (naming the file) when it is not a JPEG or PNG."""
    try:
        if data.startswith(b"\xff\xd8\xff"):
            photo = _jpeg(data)
        elif data.startswith(_PNG_SIGNATURE):
            photo = _png(data)
        else:
            raise UnsupportedMedia(
                f"'{filename}' is not a JPEG or PNG photo: take the photo with a camera or phone and send "
                "the .jpg or .png file."
            )
    except (struct.error, IndexError, ValueError) as exc:
        raise UnsupportedMedia(
            f"'{filename}' looks like a photo but is damaged ({exc}): send the file again."
        ) from None
    if photo.width * photo.height > MAX_PIXELS:
        raise MediaError(
            f"'{filename}' is {photo.width}x{photo.height} pixels: at most {MAX_PIXELS // 1_000_000} "
            "megapixels; send a smaller photo.",
            status_code=413,
        )
    return photo


def _jpeg(data: bytes) -> Photo:
    out = bytearray(b"\xff\xd8")
    pos, size, orientation = 2, None, 1
    while True:
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            raise ValueError("image data missing")
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        if len(segment) != 2 + length:
            raise ValueError("truncated")
        if marker in _SOF:
            height, width = struct.unpack(">HH", segment[5:9])
            size = (width, height)
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            orientation = _orientation(segment[10:]) or orientation
        if marker == 0xDA:  # start of scan: the rest is image data, copied as it is
            if size is None:
                raise ValueError("no frame header before the image data")
            if orientation != 1:
                out += _orientation_segment(orientation)
            out += data[pos:]
            return Photo(bytes(out), JPEG, size[0], size[1])
        if marker not in _JPEG_DROP:
            out += segment
        pos += 2 + length


def _orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) of IFD0 of an EXIF block, if any."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return None
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == 0x0112 and kind == 3:
            (value,) = struct.unpack(order + "H", entry[8:10])
            return value if 1 <= value <= 8 else None
    return None


def _orientation_segment(orientation: int) -> bytes:
    """APP1 with an EXIF block holding the Orientation tag and nothing else."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _png(data: bytes) -> Photo:
    out = bytearray(_PNG_SIGNATURE)
    pos, size = len(_PNG_SIGNATURE), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        if len(chunk) != 12 + length:
            raise ValueError("truncated")
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[8:16])
        if kind not in _PNG_DROP:
            out += chunk
        pos += 12 + length
        if kind == b"IEND":
            break
    if size is None:
        raise ValueError("no IHDR chunk")
    return Photo(bytes(out), PNG, size[0], size[1])
