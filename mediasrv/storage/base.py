"""The object store interface. Keys are '/'-separated relative paths (their layout: storage.keys)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 256 * 1024
# S3's multipart rules, which LocalStore keeps too (so the embedded store catches what S3 would
# refuse): every part but the last at least 5 MiB, at most 10,000 parts.
MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000
_KEY = re.compile(r"^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str


def check_key(key: str) -> str:
    """Reject keys that could escape a prefix ('..', absolute, empty parts, odd characters)."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key: {key!r}")
    return key


# Content types by key suffix: what mediasrv stores, and what a store without metadata reports.
_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",  # subtitle segments (captions)
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".aac": "audio/aac",
    ".json": "application/json",
}


def content_type_for(key: str) -> str:
    return _TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


def check_prefix(prefix: str) -> str:
    """A list/delete prefix: empty (everything) or a valid key, optionally ending in '/'."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


class ObjectStore(Protocol):
    """What mediasrv needs from object storage. S3Store and LocalStore implement it.

    Every method raises errors.StorageUnavailable when the store cannot be reached, and the
    reading methods raise errors.ObjectNotFound for a missing key.
    """

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> ObjectInfo:
        """Store a local file under key (replacing any object there)."""
        ...

    def get_file(self, key: str, path: Path) -> None:
        """Copy an object to a local file."""
        ...

    def copy(self, source: str, key: str, *, content_type: str | None = None) -> None:
        """Store a copy of the object at source under key (replacing any object there), with its
        content type (or `content_type`), inside the store: no byte passes through this process. The
        copy is independent: deleting or replacing either object leaves the other as it was.
        ObjectNotFound when source is missing."""
        ...

    def start_multipart(self, key: str) -> str:
        """Begin an object written in numbered parts, possibly by different processes; its id.
        Nothing is at key until complete_multipart."""
        ...

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Store part `number` (1..MAX_PARTS) of a multipart object (replacing an earlier part of that
        number); its etag, which complete_multipart needs. Every part but the last must be at least
        MIN_PART bytes. ObjectNotFound when the upload was aborted or completed."""
        ...

    def complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> None:
        """Join parts 1..len(etags), in order, into the object at key (atomically, as put_file)."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart object's parts; an unknown upload is not an error."""
        ...

    def read(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream an object's bytes [offset, offset+length) in chunks; the caller must exhaust or close it."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, etag and type of an object, or None when there is none."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix (recursively), in key order."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; a missing object is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under prefix; returns how many were removed."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable unless the store is reachable and writable."""
        ...
