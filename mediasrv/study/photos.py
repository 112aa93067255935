"""Session photos through the API: `clean` is the pixels-only re-encoding (mediasrv.protocol.photos,
which the site agent shares) with its refusals worded for the API."""

from __future__ import annotations

from mediasrv.kit.errors import UnsupportedMedia, UploadTooLarge
from mediasrv.protocol.photos import JPEG as JPEG
from mediasrv.protocol.photos import MAX_PIXELS, NotAPhoto, Photo, strip
from mediasrv.protocol.photos import PNG as PNG


def clean(data: bytes, filename: str) -> Photo:
    """`strip` for the API: the refusal names the file and says what to do."""
    try:
        return strip(data)
    except NotAPhoto as exc:
        if exc.reason == "type":
            raise UnsupportedMedia("study.photo_not_image", name=filename) from None
        if exc.reason == "pixels":
            raise UploadTooLarge(
                "study.photo_too_many_pixels",
                name=filename,
                megapixels=MAX_PIXELS // 1_000_000,
                detail=exc.detail,  # in the answer's params: what Pillow found
            ) from None
        raise UnsupportedMedia("study.photo_damaged", name=filename, detail=exc.detail) from None
