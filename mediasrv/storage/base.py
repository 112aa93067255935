"""The object store interface. Keys are '/'-separated relative paths (their layout: storage.keys)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 256 * 1024
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

    def copy(self, source: str, key: str) -> None:
        """Store a copy of the object at source under key (replacing any object there), with its
        content type, inside the store: no byte passes through this process. The copy is
        independent: deleting or replacing either object leaves the other as it was.
        ObjectNotFound when source is missing."""
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
