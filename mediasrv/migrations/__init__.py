"""Schema migrations (Alembic): `upgrade` brings a database to the code's schema, `check` refuses a
database the code does not match. The scripts live in versions/; env.py runs them on our engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from mediasrv.db import Database

HERE = Path(__file__).parent


def import_models() -> None:
    """Register every table on Base.metadata: migrations compare against the whole of it. Here, not in
    db, which every models module imports: db importing them back would close a cycle."""
    import mediasrv.accounts.models
    import mediasrv.audit.models
    import mediasrv.catalog.models
    import mediasrv.delivery.manifest.models
    import mediasrv.epochs
    import mediasrv.faults.models
    import mediasrv.ingest.models
    import mediasrv.schedule.models
    import mediasrv.sites.models
    import mediasrv.study.models  # noqa: F401


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this code was written for; the message says what to do."""


def config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine  # env.py migrates on this engine (ours: pragmas, pool, tz types)
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "no migration scripts"
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> tuple[str | None, str]:
    """Migrate to the newest revision and seed the reference data; returns (before, after)."""
    from mediasrv.catalog.service import seed_categories

    before = current(db.engine)
    command.upgrade(config(db.engine), "head")
    with db.session_scope() as session:
        seed_categories(session)
    return before, head()


def check(db: Database) -> None:
    """Raise SchemaOutOfDate unless the database is at this code's revision."""
    want, have = head(), current(db.engine)
    if have == want:
        return
    where = db.engine.url.render_as_string(hide_password=True)
    if have is None and inspect(db.engine).get_table_names():
        raise SchemaOutOfDate(
            f"The database {where} has tables but no migration history: it was made by a mediasrv "
            "older than its migrations. Start from an empty database (a fresh data directory for "
            "SQLite), then run `mediasrv db upgrade`."
        )
    state = "empty" if have is None else f"at revision {have}"
    raise SchemaOutOfDate(
        f"The database {where} is {state}; this mediasrv needs revision {want}. "
        "Run `mediasrv db upgrade` (with the same MEDIASRV_DATABASE_URL), then start again."
    )
