"""The database engine: SQLite's files are its owner's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mediasrv.db import Database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def no_umask() -> Iterator[None]:
    """The most permissive umask: modes must not rely on the default 022 (nor on 077)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_sqlite_files_are_created_for_their_owner_only(tmp_path: Path, no_umask: None) -> None:
    path = tmp_path / "mediasrv.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:  # WAL: the -wal and -shm files exist while it is open
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            files = [path, tmp_path / "mediasrv.db-wal", tmp_path / "mediasrv.db-shm"]
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        db.dispose()


def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "mediasrv.db"
    path.write_bytes(b"")  # an empty file is an empty SQLite database
    path.chmod(0o644)
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert mode(path) == 0o600
    finally:
        db.dispose()
