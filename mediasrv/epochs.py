"""Change counters ("epochs") that let every API process keep answers in memory and still see a
change within a second: one small table, read at most once per `check_seconds` by each process.

- MANIFESTS: bumped by whatever can alter a site's caching manifest (the catalog, study lists, a
  new generation of an asset); a manifest built at the current epoch is still current.
- ACCOUNTS: bumped when a token is revoked or a user changed; bearer tokens already checked are
  trusted until it moves.
- STUDY: bumped by what can alter a site's monthly compliance besides its own records (study lists,
  a site's region, a programme's media and so its duration); kept compliance summaries computed at
  another value are recomputed. Narrower than MANIFESTS, which every catalog edit moves.

A bump committed in this process is seen at once by its own watches; other processes see it at
their next read, within `check_seconds`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from mediasrv.db import Base, Database

log = logging.getLogger(__name__)
MANIFESTS = "manifests"
ACCOUNTS = "accounts"
STUDY = "study"
_BUMPED = "epochs_bumped"
_local_commits = itertools.count(1)
_last_local_commit = 0  # moves whenever a session of this process commits a bump


class Epoch(Base):
    __tablename__ = "epochs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def bump(session: Session, name: str) -> None:
    """Move epoch `name` on when this unit of work commits (once, however often it is called)."""
    bumped: set[str] = session.info.setdefault(_BUMPED, set())
    if name in bumped:
        return
    bumped.add(name)
    result = session.execute(update(Epoch).where(Epoch.name == name).values(value=Epoch.value + 1))
    if cast(CursorResult[Any], result).rowcount == 0:
        session.add(Epoch(name=name, value=1))


def read(session: Session) -> dict[str, int]:
    return {name: value for name, value in session.execute(select(Epoch.name, Epoch.value))}


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    global _last_local_commit
    if session.info.pop(_BUMPED, None):
        _last_local_commit = next(_local_commits)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_BUMPED, None)


class EpochWatch:
    """The epochs as this process last read them, re-read when older than `check_seconds` or when
    this process committed a bump since."""

    def __init__(self, db: Database, *, check_seconds: float = 1.0) -> None:
        self._db = db
        self._check_seconds = check_seconds
        self._values: dict[str, int] = {}
        self._read_at = -float("inf")
        self._seen_local = -1
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshing = False

    def get(self, name: str) -> int:
        """The epoch, re-read when due (a query: call it off the event loop)."""
        if not self._fresh():
            self.refresh()
        return self._values.get(name, 0)

    def peek(self, name: str) -> int | None:
        """The epoch as last read, for the event loop: never queries. When a re-read is due it is
        started in a thread (one at a time) and the last value still answers meanwhile, so a poll
        never waits on it; None only after a commit of this process (seen at once) or when
        re-reads have failed for a while (then callers take the slow, checked path)."""
        if self._seen_local != _last_local_commit:
            return None
        age = time.monotonic() - self._read_at
        if age > self._check_seconds:
            self._refresh_soon()
            if age > 5 * self._check_seconds:
                return None
        return self._values.get(name, 0)

    def _fresh(self) -> bool:
        recent = time.monotonic() - self._read_at <= self._check_seconds
        return recent and self._seen_local == _last_local_commit

    def _refresh_soon(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def run() -> None:
            try:
                self.refresh()
            except Exception:  # the database is down: the next poll tries again
                log.warning("could not re-read the change epochs", exc_info=True)
            finally:
                self._refreshing = False

        threading.Thread(target=run, name="epoch-refresh", daemon=True).start()

    def refresh(self) -> dict[str, int]:
        with self._refresh_lock:
            seen = _last_local_commit
            with self._db.session_scope() as session:
                values = read(session)
            self._values, self._read_at, self._seen_local = values, time.monotonic(), seen
            return values
