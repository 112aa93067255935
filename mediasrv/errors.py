"""Domain errors. Each carries an HTTP status and a message a person can act on.

One handler (installed in app.py) turns them into JSON: {"error": code, "message": ...}.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of every error mediasrv reports to a caller."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(MediaError):
    status_code = 404
    code = "not_found"


class Unauthorized(MediaError):
    status_code = 401
    code = "unauthorized"


class Forbidden(MediaError):
    status_code = 403
    code = "forbidden"


class UnsupportedMedia(MediaError):
    """The upload is not a film, an audio lecture or a PDF."""

    status_code = 415
    code = "unsupported_media"


class EmptyUpload(MediaError):
    status_code = 400
    code = "empty_upload"


class UploadTooLarge(MediaError):
    status_code = 413
    code = "upload_too_large"


class StorageUnavailable(MediaError):
    """Object storage cannot be reached; the caller should retry later. Nothing was kept."""

    status_code = 503
    code = "storage_unavailable"


class ObjectNotFound(MediaError):
    status_code = 404
    code = "object_not_found"


class MediaProcessingError(MediaError):
    """The file cannot be turned into renditions; the message says why and what to do."""

    status_code = 422
    code = "media_unusable"
