"""Database: declarative base, engine construction, sessions for requests and for workers.

Services only flush; the request dependency (app.py's SessionDep) or `session_scope` owns commit/rollback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo on the way back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        # Stored as UTC: SQLite keeps the wall time and drops the offset, so a +08:00 bound would
        # be compared eight hours off.
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


# Enough connections for every thread of the API's thread pool (40) to hold one at once: a slow
# request must not starve the others into pool time-outs. Beyond 5, connections close when idle.
_POOL: dict[str, Any] = {"pool_size": 5, "max_overflow": 40, "pool_timeout": 60}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # API, worker and sweep share one file: WAL lets readers run beside the writer, and
        # busy_timeout makes a writer wait for the lock instead of failing at once.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **_POOL)
        database = engine.url.database
        if database and database != ":memory:" and not engine.url.query.get("uri"):

            @event.listens_for(engine, "do_connect")
            def _private(*_args: Any) -> None:
                private_sqlite_file(Path(database))

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **_POOL)


OWNER_ONLY = 0o600


def private_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite would (0644 less the umask),
    whatever the umask: SQLite gives its -wal and -shm files the database file's mode. Files an older
    version left readable by others are tightened (a file of another owner is left as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    except (FileExistsError, FileNotFoundError):  # there already; or no directory, which SQLite reports
        pass
    else:
        os.fchmod(fd, OWNER_ONLY)  # the umask may have taken bits away; set exactly these
        os.close(fd)
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with suppress(OSError):  # missing, or not ours to change
            if part.stat().st_mode & 0o077:
                part.chmod(OWNER_ONLY)


class Database:
    """An engine and its session factory; one per process (workers build theirs after fork)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A unit of work for workers and the CLI: commit on success, roll back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def insert_for(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT for the session's database with its ON CONFLICT clauses: mediasrv runs on PostgreSQL
    or SQLite, whose inserts spell upserts alike (on_conflict_do_update, excluded)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
