"""Object storage: the ObjectStore interface, its two implementations, open_store(url) and the key layout
(storage.keys)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mediasrv.storage.base import (
    CHUNK,
    ObjectInfo,
    ObjectStore,
    check_key,
    content_type_for,
)
from mediasrv.storage.local import LocalStore
from mediasrv.storage.s3 import S3Store

__all__ = [
    "CHUNK",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "S3Store",
    "check_key",
    "content_type_for",
    "open_store",
]

_FORMS = "file:///absolute/dir or s3://ACCESS_KEY:SECRET@host:port/bucket[?secure=false][&region=REGION]"


def open_store(url: str) -> ObjectStore:
    """Build a store from a URL. Does no I/O; call check() on the result to verify it."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"storage URL {url!r} must name an absolute directory: {_FORMS}")
        return LocalStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return _s3(url)
    raise ValueError(f"unsupported storage URL {_redact(url)!r}; use {_FORMS}")


def _s3(url: str) -> S3Store:
    parts = urlsplit(url)
    shown = _redact(url)
    if not parts.username or parts.password is None or not parts.hostname:
        raise ValueError(f"storage URL {shown!r} needs credentials and a host: {_FORMS}")
    bucket = parts.path.strip("/")
    if not bucket or "/" in bucket:
        raise ValueError(f"storage URL {shown!r} must name exactly one bucket: {_FORMS}")
    try:
        port = parts.port
    except ValueError as exc:  # a non-numeric or out-of-range port
        raise ValueError(f"storage URL {shown!r} has a bad port: {_FORMS}") from exc
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"secure", "region"}
    if unknown:
        raise ValueError(f"storage URL {shown!r} has unknown options {sorted(unknown)}: {_FORMS}")
    secure_text = query.get("secure", "true").lower()
    if secure_text not in ("true", "false", "1", "0"):
        raise ValueError(f"storage URL {shown!r}: secure must be true or false")
    # .hostname drops the brackets of an IPv6 literal; the SDK needs them back.
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return S3Store(
        f"{host}:{port}" if port is not None else host,
        unquote(parts.username),
        unquote(parts.password),
        bucket,
        secure=secure_text in ("true", "1"),
        region=query.get("region") or None,
    )


def _redact(url: str) -> str:
    """The URL with any secret replaced, so error messages can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()
