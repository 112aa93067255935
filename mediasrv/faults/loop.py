"""The two periodic steps the workers' beat runs (workers/tasks.py), each its own transactions:
the sweep, and notifying (notices written and committed first, then delivered, each outcome
committed: a crash between them leaves deliveries pending, never lost)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.faults import detect, notify


def sweep(db: Database, settings: Settings, *, now: datetime | None = None) -> detect.SweepResult:
    with db.session_scope() as session:
        return detect.sweep(session, now=now or utcnow(), settings=settings)


@dataclass(frozen=True)
class Notified:
    notices: int
    sent: int
    failed: int


def notify_and_deliver(
    db: Database, settings: Settings, *, now: datetime | None = None, send: notify.Sender | None = None
) -> Notified:
    now = now or utcnow()
    with db.session_scope() as session:
        notices = len(notify.make_notices(session, now=now, settings=settings))
    with db.session_scope() as session:
        done = notify.deliver_pending(session, now=now, send=send or notify.AppriseSender(settings))
    return Notified(notices, done.sent, done.failed)
