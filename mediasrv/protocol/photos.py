"""Session photos: only JPEG and PNG, and never with anything but their pixels (a phone's EXIF
carries the GPS position, the device and the time of every member photographed).

A photo is decoded and encoded again (Pillow), so what is kept is made from its pixels alone: no
EXIF, XMP, IPTC, ICC profile, comment, APPn segment, PNG text or private chunk, nor a second image
hidden after the first, can pass (copying a file's parts, as this module once did, let those
through). A JPEG stays a JPEG, encoded with its own quantisation tables (no visible loss, about its
size; a second pass changes next to nothing), and a PNG a PNG. EXIF orientation is applied to the
pixels (a photo taken upright stays upright) and then dropped with the rest. The same pixels always
give the same bytes, so a photo sent again with other metadata is still the same photo (same key).

The server (the photo route, mediasrv.study.photos.clean) and the site agent (before a photo is
queued, mediasrv.agent.records) both call `strip`. Standard library and Pillow, which the agent has.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageOps, JpegImagePlugin

JPEG, PNG = "image/jpeg", "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAGIC = {b"\xff\xd8\xff": JPEG, PNG_SIGNATURE: PNG}
MAX_PIXELS = 60_000_000  # a 60-megapixel photo is already more than any session needs
# Pillow refuses anything over twice this when it reads the header (and warns over it): with the
# size check in `strip`, a small file claiming a huge image is never decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_FORMATS = {JPEG: "JPEG", PNG: "PNG"}
_JPEG_MODES = ("L", "RGB")  # what the JPEG encoder writes as is; the rest becomes RGB
_PNG_MODES = ("1", "L", "LA", "I", "I;16", "RGB", "RGBA")  # palettes (and their tRNS) become RGB(A)


@dataclass(frozen=True)
class Photo:
    data: bytes  # the pixels alone, encoded again
    content_type: str
    width: int  # upright, as shown
    height: int


class NotAPhoto(ValueError):
    """Why bytes are not a photo that can be kept: `reason` (the caller words it, in its language)."""

    def __init__(self, reason: Literal["type", "damaged", "pixels"], detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def sniff(data: bytes) -> str | None:
    """JPEG or PNG by the first bytes, else None."""
    return next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), None)


def strip(data: bytes) -> Photo:
    """The photo made again from its pixels; NotAPhoto when it is not a JPEG or PNG, is damaged, or
    has more than MAX_PIXELS pixels (known from its header, before anything is decoded)."""
    kind = sniff(data)
    if kind is None:
        raise NotAPhoto("type")
    try:
        image = Image.open(io.BytesIO(data), formats=[_FORMATS[kind]])  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAPhoto("pixels", f"more than {MAX_PIXELS // 1_000_000} megapixels") from None
    except Exception as exc:  # Pillow raises many kinds on bad input (OSError, SyntaxError, struct.error)
        raise NotAPhoto("damaged", str(exc)[:200]) from None
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise NotAPhoto("pixels", f"{width}x{height} pixels")
        try:
            image.load()
            options = _jpeg_options(image) if kind == JPEG else {}
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert(_mode(upright, kind))  # a new image, even in the same mode
            pixels.info = {}  # the encoders read some of it (a JPEG comment, a PNG's ICC profile)
            out = io.BytesIO()
            pixels.save(out, _FORMATS[kind], **options)
        except Exception as exc:  # a truncated or corrupt image, found while decoding
            raise NotAPhoto("damaged", str(exc)[:200]) from None
    return Photo(out.getvalue(), kind, pixels.width, pixels.height)


def _jpeg_options(image: Image.Image) -> dict[str, Any]:
    """Encode with the photo's own quantisation tables and chroma subsampling (Pillow's
    "quality=keep", which it allows only for the very file it read, not for an upright copy)."""
    options: dict[str, Any] = {"optimize": True}
    tables = getattr(image, "quantization", None)
    if not tables or image.mode not in _JPEG_MODES:
        return {**options, "quality": 90}
    options["qtables"] = [tables[n] for n in range(4) if n in tables]
    if (sampling := JpegImagePlugin.get_sampling(image)) != -1:
        options["subsampling"] = sampling
    return options


def _mode(image: Image.Image, kind: str) -> str:
    if kind == JPEG:
        return image.mode if image.mode in _JPEG_MODES else "RGB"
    if image.mode in _PNG_MODES:
        return image.mode
    transparent = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if transparent else "RGB"
