"""Migrations: they make exactly the models' schema (SQLite and PostgreSQL), and nothing starts on a
database they have not brought up to date."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from mediasrv import migrations
from mediasrv.app import create_app
from mediasrv.catalog.models import Category
from mediasrv.config import Settings
from mediasrv.db import Base, Database
from mediasrv.protocol.taxonomy import CATEGORIES
from tests.e2e.stack import BIN
from tests.fixtures import RecordingDispatcher
from tests.servers import PostgresServer

migrations.import_models()


def _differences(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "include_object": migrations.made_on(conn.dialect.name)}
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, Base.metadata))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    db = Database(url)
    request.addfinalizer(db.dispose)
    return db


def test_migrations_make_the_models_schema_and_undo_cleanly(empty_db: Database) -> None:
    before, after = migrations.upgrade(empty_db)
    assert (before, after) == (None, migrations.head())
    assert _differences(empty_db) == []
    with empty_db.session_scope() as s:  # the reference data came with it
        assert s.query(Category).count() == len(CATEGORIES)
    migrations.check(empty_db)  # no complaint

    command.downgrade(migrations.config(empty_db.engine), "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(empty_db)  # and back: the scripts are re-runnable from nothing
    assert _differences(empty_db) == []


def test_the_comparison_sees_a_schema_that_drifted(empty_db: Database) -> None:
    """The equality above could not pass by accident: a dropped index is reported."""
    migrations.upgrade(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_audit_events_action"))
    assert any("ix_audit_events_action" in repr(d) for d in _differences(empty_db))


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrations.upgrade(db)
    assert migrations.upgrade(db) == (migrations.head(), migrations.head())
    db.dispose()


@pytest.mark.parametrize(
    ("prepare", "says"),
    [
        (lambda db: None, "is empty"),
        (lambda db: _create_pre_migration_table(db), "no migration history"),
    ],
    ids=["empty", "pre-migration"],
)
def test_the_app_refuses_a_database_that_is_not_migrated(
    tmp_path: Path, prepare: Callable[[Database], None], says: str
) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    settings.data_dir.mkdir()
    db = Database(settings.resolved_database_url)
    prepare(db)
    db.dispose()
    with (
        pytest.raises(migrations.SchemaOutOfDate, match=says) as refused,
        TestClient(create_app(settings, dispatcher=RecordingDispatcher())),
    ):
        pass
    assert "mediasrv db upgrade" in str(refused.value)


def _create_pre_migration_table(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE assets (id TEXT PRIMARY KEY)"))


def _mediasrv(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"MEDIASRV_DATA_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin", **extra}
    return subprocess.run(
        [str(BIN / "mediasrv"), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_commands_refuse_until_db_upgrade_has_run(tmp_path: Path) -> None:
    status = _mediasrv(tmp_path, "db", "status")  # a fresh machine: asking creates nothing
    assert status.returncode == 1 and "数据库版本：空库（尚未建表）" in status.stdout, status.stderr
    assert not (tmp_path / "var").exists()
    for command_line in (["serve", "--port", "1"], ["worker"], ["reindex", "--check"]):
        refused = _mediasrv(tmp_path, *command_line)
        assert refused.returncode == 2, (command_line, refused.stderr)
        assert "mediasrv db upgrade" in refused.stderr, refused.stderr

    status = _mediasrv(tmp_path, "db", "status")
    assert status.returncode == 1 and "需要升级：请运行 mediasrv db upgrade" in status.stdout

    upgraded = _mediasrv(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"数据库已从 空库（尚未建表） 升级到版本 {migrations.head()}。" in upgraded.stdout
    status = _mediasrv(tmp_path, "db", "status")
    assert status.returncode == 0 and "已是最新" in status.stdout

    ok = _mediasrv(tmp_path, "reindex", "--check")
    assert ok.returncode == 0, ok.stderr


def test_a_bad_setting_is_named_not_a_traceback(tmp_path: Path) -> None:
    bad = _mediasrv(tmp_path, "db", "status", MEDIASRV_ASSESSMENT_WEIGHTS="reach=30,sync=20")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("MEDIASRV_ASSESSMENT_WEIGHTS：“reach”不是考核的组成部分"), bad.stderr


def test_existing_administrators_keep_the_whole_network(tmp_path: Path) -> None:
    """Upgrading to region scopes: administrators and departments of a single-admin deployment get the
    empty scope (everything, as before), and what was done to a site lies in the site's region."""
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(migrations.config(db.engine), "0009_asset_error_key")
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO org_units (id, name, created_at) VALUES (1, '电教中心', '2026-01-01')")
        )
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, role, is_active, created_at)"
                " VALUES (1, 'admin', 'admin', 'ADMIN', 1, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sites (id, code, name, region, device_profile, created_at)"
                " VALUES (7, 'xt', '西塘村', '河北省/邢台市/西塘村', 'IPTV', '2026-01-01')"
            )
        )
        for target_type, target_id in (("site", "7"), ("user", "1")):
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor_role, actor_name, action, target_type, target_id,"
                    " details) VALUES ('2026-01-01', 'admin', 'admin', 'x', :t, :i, '{}')"
                ),
                {"t": target_type, "i": target_id},
            )
    migrations.upgrade(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT region FROM users")).scalars().all() == [""]
        assert conn.execute(text("SELECT region FROM org_units")).scalars().all() == [""]
        rows = conn.execute(text("SELECT target_type, region FROM audit_events ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("site", "河北省/邢台市/西塘村"), ("user", "")]
    db.dispose()


def test_mobile_lists_holding_every_language_are_retired_not_deleted(tmp_path: Path) -> None:
    """Upgrading to site languages: a stored mobile master list that carried other languages' audio or
    captions is moved out of the builds' way (a kept manifest may still name it); a list holding only
    the film's own sound and Chinese captions stays what it is; sites get no languages."""
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(migrations.config(db.engine), "0022_caption_burn_in")
    subtitles = {
        "dubbed": None,
        "captioned": '[{"language": "zh-Hans"}, {"language": "bo"}]',
        "plain": '[{"language": "zh-Hans"}]',
    }
    with db.engine.begin() as conn:
        for n, (asset, subs) in enumerate(subtitles.items()):
            conn.execute(
                text(
                    "INSERT INTO assets (id, sha256, filename, title, size_bytes, source_key, kind, status,"
                    " progress, attempts, created_at, updated_at, subtitles) VALUES (:id, :id, 'f.mp4', 'f',"
                    " 1, 'k', 'VIDEO', 'READY', 100, 1, '2026-01-01', '2026-01-01', :subs)"
                ),
                {"id": asset, "subs": subs},
            )
            for presentation in ("master", "iptv"):
                conn.execute(
                    text(
                        "INSERT INTO file_lists (sha256, asset_id, generation, presentation, body,"
                        " size_bytes, file_count, play, created_at)"
                        " VALUES (:sha, :id, 'g', :p, x'7b7d', 1, 1, 'p', '2026-01-01')"
                    ),
                    {"sha": f"{presentation}-{n}", "id": asset, "p": presentation},
                )
        conn.execute(
            text(
                "INSERT INTO renditions (asset_id, name, groups, playlist_key, codecs, width, height,"
                " frame_rate, bandwidth, average_bandwidth, segment_count, duration_seconds, size_bytes)"
                " VALUES ('dubbed', 'mobile-audio-ug', '[]', 'k', 'mp4a', 0, 0, 0, 1, 1, 1, 1, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sites (id, code, name, region, device_profile, created_at)"
                " VALUES (7, 'xt', '西塘村', '', 'IPTV', '2026-01-01')"
            )
        )
    migrations.upgrade(db)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT asset_id, presentation FROM file_lists ORDER BY sha256")).all()
        assert conn.execute(text("SELECT languages FROM sites")).scalars().all() == ["[]"]
    assert sorted(tuple(r) for r in rows) == [
        ("captioned", "iptv"),
        ("captioned", "master~all"),
        ("dubbed", "iptv"),
        ("dubbed", "master~all"),
        ("plain", "iptv"),
        ("plain", "master"),
    ]
    db.dispose()
