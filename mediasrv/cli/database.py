"""The database as the commands that change it open it, and who the audit log says changed it."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from mediasrv.accounts.auth import Role
from mediasrv.cli.common import fail, say
from mediasrv.config import Settings

if TYPE_CHECKING:  # imported lazily below: `mediasrv --help` should not load the whole server
    from mediasrv.db import Database
    from mediasrv.kit.caller import Caller


def open_database(settings: Settings) -> Database:
    """The database, refused with what to do when its schema is not this code's."""
    from sqlalchemy import inspect

    from mediasrv.db import Database
    from mediasrv.migrations import SchemaOutOfDate, check, current, head

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        check(db)
    except SchemaOutOfDate:
        where = db.engine.url.render_as_string(hide_password=True)
        have = current(db.engine)
        tables = inspect(db.engine).get_table_names()
        db.dispose()
        if have is None and tables:  # tables but no migration history
            fail("cli.db_without_history", database=where)
        fail("cli.db_out_of_date", database=where, have=have or say("cli.db_empty"), want=head())
    return db


def upgrade(settings: Settings) -> tuple[str | None, str]:
    from mediasrv import migrations
    from mediasrv.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        return migrations.upgrade(db)
    finally:
        db.dispose()


def cli_actor() -> Caller:
    """Who the audit log names for changes made from this machine's command line."""
    from mediasrv.kit.caller import Caller

    return Caller(role=Role.ADMIN, name=f"cli:{getpass.getuser()}", via="cli")
