"""Domain errors: one class per meaning, each with its HTTP status, a stable code and a message a
person can act on. A new meaning gets a class here; a raise never picks a status of its own.

One handler (installed in app.py) turns them into JSON: {"error": code, "message": ...}, with the
headers `headers()` gives (Retry-After); routers declare which of them they may answer with
`error_responses(...)`, so the OpenAPI document says so.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class MediaError(Exception):
    """Base of every error mediasrv reports to a caller: the request cannot be carried out as sent."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    retry_after: int | None = None  # seconds the caller should wait before trying again

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str] | None:
        """The answer's headers beside the JSON body."""
        return None if self.retry_after is None else {"Retry-After": str(self.retry_after)}


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


class WrongContentType(MediaError):
    """The body is sent as another Content-Type than the route reads (tus PATCH: offset+octet-stream)."""

    status_code = 415
    code = "wrong_content_type"


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
    retry_after = 30


class TryAgain(MediaError):
    """The answer changed while it was being made (a concurrent change won); asking again soon gets
    the new one. Nothing is wrong with the request."""

    status_code = 503
    code = "try_again"
    retry_after = 1


class ObjectNotFound(MediaError):
    status_code = 404
    code = "object_not_found"


class MediaProcessingError(MediaError):
    """The file cannot be turned into renditions; the message says why and what to do."""

    status_code = 422
    code = "media_unusable"


class Conflict(MediaError):
    status_code = 409
    code = "conflict"


class TooManyRequests(MediaError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ErrorOut(BaseModel):
    """The body of every refusal."""

    error: str = Field(description="machine-readable code", examples=["not_found"])
    message: str = Field(description="what is wrong and what to do about it")


_DESCRIPTIONS = {
    400: "The request cannot be carried out as sent; the message says what to change",
    401: "No, unknown, revoked or expired credentials",
    403: "The caller's role or department may not do this",
    404: "No such thing (or not one the caller may see)",
    409: "Conflicts with the current state (a name that is taken, an asset that is not failed)",
    413: "The upload is over the size limit",
    415: "The upload is not a film, an audio recording or a PDF, or the body's Content-Type is not the one "
    "this request reads",
    416: "The requested byte range is outside the object",
    422: "A parameter or the body does not match this document",
    429: "Too many attempts; wait as long as Retry-After says",
    500: "The server found its own stored data inconsistent (damaged storage or a bug); the message says "
    "what to check",
    503: "Storage is unreachable, or the answer changed while it was made; nothing was kept, try again "
    "after Retry-After seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for refusals with these status codes, all with the ErrorOut body."""
    return {status: {"model": ErrorOut, "description": _DESCRIPTIONS[status]} for status in statuses}
