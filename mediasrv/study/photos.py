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
            raise UnsupportedMedia(
                f"'{filename}' is not a JPEG or PNG photo: take the photo with a camera or phone and send "
                "the .jpg or .png file."
            ) from None
        if exc.reason == "pixels":
            raise UploadTooLarge(
                f"'{filename}' has {exc.detail}: at most {MAX_PIXELS // 1_000_000} "
                "megapixels; send a smaller photo."
            ) from None
        raise UnsupportedMedia(
            f"'{filename}' looks like a photo but is damaged ({exc.detail}): send the file again."
        ) from None
