"""The signing key (signed links, the manifests' Ed25519 key) is one for every API process, on any
machine, without MEDIASRV_SECRET_KEY: kept in the database by the first process that needs it."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from mediasrv.accounts.signing import signing_key
from mediasrv.config import Settings
from mediasrv.db import Database
from tests.fixtures import migrated


def machines(tmp_path: Path) -> tuple[Settings, Settings, Database]:
    """Two machines' settings: data directories of their own, one database."""
    url = f"sqlite:///{migrated(tmp_path / 'shared') / 'mediasrv.db'}"
    a, b = (Settings(data_dir=tmp_path / name, database_url=url) for name in ("a", "b"))
    return a, b, Database(url)


def test_every_process_signs_with_one_key(tmp_path: Path) -> None:
    a, b, db = machines(tmp_path)
    try:
        key = signing_key(a, db)
        assert len(key) == 64 and signing_key(b, db) == key
    finally:
        db.dispose()


def test_the_key_an_earlier_version_generated_is_kept(tmp_path: Path) -> None:
    a, b, db = machines(tmp_path)
    a.data_dir.mkdir()
    (a.data_dir / "secret-key").write_text("ab" * 32 + "\n")  # links handed out, sites' pinned key
    try:
        assert signing_key(a, db) == signing_key(b, db) == b"ab" * 32
    finally:
        db.dispose()


def test_the_setting_wins(tmp_path: Path) -> None:
    a, _, db = machines(tmp_path)
    try:
        signing_key(a, db)
        assert signing_key(a.model_copy(update={"secret_key": SecretStr("set")}), db) == b"set"
    finally:
        db.dispose()
