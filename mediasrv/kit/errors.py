"""Domain errors: one class per meaning, each with its HTTP status and a stable code; each raise
names a message of the catalogue (mediasrv/kit/i18n.py) and its parameters, a text a person can act
on. A new meaning gets a class here; a raise never picks a status of its own.

One handler (installed in app.py) turns them into JSON (`body`: ErrorOut) in the caller's language,
with the headers `headers()` gives (Retry-After); routers declare which of them they may answer with
`error_responses(...)`, so the OpenAPI document says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from mediasrv.kit import i18n
from mediasrv.kit.i18n import Lang

# What a raise may not pass as a message parameter: the class decides these.
_RESERVED = frozenset({"status_code", "code", "retry_after", "headers", "key", "message", "params"})


class MediaError(Exception):
    """Base of every error mediasrv reports to a caller: the request cannot be carried out as sent.

    `MediaError("accounts.username_taken", username=name)`: a key of the catalogue and the parameters
    its texts use. str() and `message` are the English text (logs, the command line); `render(lang)`
    gives either language."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    retry_after: int | None = None  # seconds the caller should wait before trying again

    def __init__(self, key: str, /, **params: Any) -> None:
        if reserved := _RESERVED.intersection(params):
            raise TypeError(f"{type(self).__name__}: {sorted(reserved)} belong to the class, not the raise")
        self.key = key
        self.params = params
        super().__init__(key)

    def render(self, lang: Lang) -> str:
        return i18n.render(self.key, lang, self.params)

    @property
    def message(self) -> str:
        return self.render("en")

    def __str__(self) -> str:
        return self.message

    def body(self, lang: Lang) -> dict[str, Any]:
        """The JSON of the refusal (ErrorOut) in `lang`."""
        return refusal_body(self.code, self.key, self.params, lang)

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

    def __init__(self, key: str, /, *, retry_after: int, **params: Any) -> None:
        super().__init__(key, **params)
        self.retry_after = retry_after


class RequestTooLarge(MediaError):
    """The request's body is over the limit of the route it is sent to (mediasrv.admission)."""

    status_code = 413
    code = "body_too_large"


class ProblemOut(BaseModel):
    field: str = Field(
        description="the parameter or body field, dotted (regions.2); empty for the body as a whole",
        examples=["ends_on"],
    )
    message: str = Field(description="what is wrong with it, in the caller's language")


class ErrorOut(BaseModel):
    """The body of every refusal, its `message` in the caller's language: ?lang=, else the pages'
    cookie, else Accept-Language (zh-CN, en, ...); Chinese by default."""

    error: str = Field(description="machine-readable code of the kind of refusal", examples=["not_found"])
    message: str = Field(description="what is wrong and what to do about it, in the caller's language")
    code: str = Field(
        description="the message's stable key (its text in zh and en is in the server's catalogue); "
        "for 422 the generic kit.invalid_request",
        examples=["accounts.login_locked_account"],
    )
    params: dict[str, str | int | float | bool | list[str] | None] = Field(
        default_factory=dict,
        description="the facts the message names, as JSON values (a nested text as its key)",
        examples=[{"minutes": 11}],
    )
    problems: list[ProblemOut] | None = Field(
        default=None, description="422 only: each parameter or field that does not match, with its problem"
    )


def refusal_body(error: str, key: str, params: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """ErrorOut's JSON: the class's code, the message rendered in `lang`, its key and parameters."""
    return {
        "error": error,
        "message": i18n.render(key, lang, params),
        "code": key,
        "params": i18n.json_params(params),
    }


# --- 422: the request does not match the API, field by field ----------------------------------------

_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def _label(part: str | int, lang: Lang) -> str:
    """A field's name as a person calls it (a `field.` key of the catalogue), else as the API does."""
    if isinstance(part, int):
        return i18n.render("field.item", lang, {"n": part + 1})
    key = f"field.{part}"
    return i18n.render(key, lang) if key in i18n.MESSAGES else part


def _context(ctx: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    values = dict(ctx)
    if lang == "zh" and isinstance(values.get("expected"), str):
        # pydantic lists an enum's or literal's values in English ("'a', 'b' or 'c'")
        values["expected"] = values["expected"].replace(" or ", "、").replace(", ", "、")
    return values


def _problem(error: Mapping[str, Any], lang: Lang) -> dict[str, str]:
    """One pydantic error as {"field": "ends_on", "message": "结束日期：必须填写"}."""
    kind: str = error.get("type", "")
    loc = list(error.get("loc", ()))
    if loc and loc[0] in _SOURCES:
        loc = loc[1:]
    if kind == "json_invalid":  # its loc is where the parser stopped, not a field
        loc = []
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in i18n.MESSAGES:  # a validator's own PydanticCustomError(key, english, params)
        text = i18n.render(kind, lang, ctx)
    elif f"problem.{kind}" in i18n.MESSAGES:
        text = i18n.render(f"problem.{kind}", lang, _context(ctx, lang))
    elif lang == "zh":  # a pydantic type this API was not expected to produce: no English on a zh page
        text = i18n.render("problem.other", lang, {})
    else:
        text = str(error.get("msg", kind))
    label = " ".join(_label(part, lang) for part in loc)
    colon = "：" if lang == "zh" else ": "
    return {
        "field": ".".join(str(part) for part in loc),
        "message": f"{label}{colon}{text}" if label else text,
    }


def invalid_request_body(errors: Sequence[Mapping[str, Any]], lang: Lang) -> dict[str, Any]:
    """The 422 answer (ErrorOut): every problem, each named by its field, in `lang`."""
    problems = [_problem(error, lang) for error in errors]
    return {
        **refusal_body("invalid_request", "kit.invalid_request", {}, lang),
        "message": ("；" if lang == "zh" else "; ").join(p["message"] for p in problems),
        "problems": problems,
    }


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
