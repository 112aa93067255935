"""A file's SHA-256, read in chunks, as the server and the agent both compute it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mediasrv.protocol.hashing import CHUNK, file_sha256


def test_a_file_larger_than_a_chunk_hashes_as_its_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK // 256 * 3 + 1)  # three chunks and a bit
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
