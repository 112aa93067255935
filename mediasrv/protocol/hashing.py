"""Content hashes, computed alike by the server (uploads, bundles it exports) and the site agent (the
files a manifest lists, bundles it imports): a file's hex SHA-256, read in chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 256 * 1024  # what a read takes at once: files here run to gigabytes


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a local file, read CHUNK at a time (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
