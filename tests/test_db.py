"""The database engine: SQLite's files are its owner's alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
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


def _models_modules() -> list[str]:
    """Every module of mediasrv that declares a table."""
    root = Path(__file__).resolve().parent.parent
    return sorted(
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in (root / "mediasrv").rglob("*.py")
        if "migrations" not in path.parts and "__tablename__" in path.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("module", _models_modules())
def test_a_models_module_alone_brings_the_tables_its_foreign_keys_name(module: str) -> None:
    # A process loads only what it imports (the worker no domain's router): a foreign key to a table
    # nobody imported fails the first flush, NoReferencedTableError.
    check = (
        f"import {module}\n"
        "from mediasrv.db import Base\n"
        "for table in Base.metadata.tables.values():\n"
        "    for key in table.foreign_keys:\n"
        "        key.column\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr.strip().splitlines()[-1]
