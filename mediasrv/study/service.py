"""Recording sessions and their photos. Services flush; the request (or session_scope) commits."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv.catalog.models import Programme
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, MediaError, NotFound
from mediasrv.kit.i18n import Text
from mediasrv.protocol.china import CHINA
from mediasrv.sites.registry import get_site
from mediasrv.storage import ObjectStore, keys
from mediasrv.study import photos
from mediasrv.study.models import (
    DemandRequest,
    ProgrammeRating,
    SessionPhoto,
    SessionProgramme,
    StudySession,
    mark_dirty,
)


@dataclass(frozen=True)
class PlayedIn:
    programme_id: str
    minutes: int | None


@dataclass(frozen=True)
class SessionIn:
    id: str
    started_at: datetime
    minutes: int
    members_present: int
    notes: str
    programmes: tuple[PlayedIn, ...]


Kept = TypeVar("Kept", StudySession, DemandRequest)
Row = TypeVar("Row", StudySession, DemandRequest, ProgrammeRating)


def insert_once(
    session: Session, find: Callable[[], Row | None], make: Callable[[], Row]
) -> tuple[Row, bool]:
    """(row, created): the row `find` returns, else `make`'s, inserted. The same record sent twice at
    once: one insert wins, the other finds its row on the second look (retried once, not forever:
    an insert refused for another reason is raised)."""
    for attempt in range(2):
        existing = find()
        if existing is not None:
            return existing, False
        row = make()
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            if attempt:
                raise
            continue
        return row, True
    raise AssertionError("unreachable")


def create_once(
    session: Session, model: type[Kept], row_id: str, site_id: int, make: Callable[[], Kept], what: str
) -> tuple[Kept, bool]:
    """(row, created) for a record whose id the client made: the same id again returns the row
    first kept, unchanged (a queue re-sent after an outage); another site's id is a conflict.
    `make` checks and builds the new row; it runs only when the id is new."""
    row, created = insert_once(session, lambda: session.get(model, row_id), make)
    if row.site_id != site_id:
        raise Conflict("study.id_of_another_site", what=Text(f"study.record.{what}"), row_id=row_id)
    return row, created


def record_session(
    session: Session, caller: Caller, site_id: int, body: SessionIn
) -> tuple[StudySession, bool]:
    """Record a session for a site (a site only its own); (row, created)."""
    get_site(session, site_id, caller=caller)

    def make() -> StudySession:
        ids = [p.programme_id for p in body.programmes]
        if len(set(ids)) != len(ids):
            raise MediaError("study.session_programme_twice")
        known = set(session.scalars(select(Programme.id).where(Programme.id.in_(ids)))) if ids else set()
        if unknown := [i for i in ids if i not in known]:
            raise NotFound("study.session_unknown_programme", programme_id=unknown[0])
        return StudySession(
            id=body.id,
            site_id=site_id,
            started_at=body.started_at,
            day=body.started_at.astimezone(CHINA).date(),
            minutes=body.minutes,
            members_present=body.members_present,
            notes=body.notes,
            recorded_by=caller.name,
            programmes=[
                SessionProgramme(programme_id=p.programme_id, position=i, minutes=p.minutes)
                for i, p in enumerate(body.programmes)
            ],
        )

    row, created = create_once(session, StudySession, body.id, site_id, make, "session")
    if created:
        mark_dirty(session, site_id, [row.day])
    return row, created


def get_session(session: Session, caller: Caller, site_id: int, session_id: str) -> StudySession:
    get_site(session, site_id, caller=caller)
    row = session.get(StudySession, session_id)
    if row is None or row.site_id != site_id:
        raise NotFound("study.no_session", site_id=site_id, session_id=session_id)
    return row


def list_sessions(
    session: Session, caller: Caller, site_id: int, *, first: date, last: date
) -> list[StudySession]:
    """A site's sessions held from `first` to `last` (Beijing days), oldest first."""
    get_site(session, site_id, caller=caller)
    query = select(StudySession).where(
        StudySession.site_id == site_id, StudySession.day >= first, StudySession.day <= last
    )
    return list(session.scalars(query.order_by(StudySession.started_at)))


def add_photo(
    session: Session,
    store: ObjectStore,
    caller: Caller,
    site_id: int,
    session_id: str,
    *,
    data: bytes,
    filename: str,
    spool: Path,
) -> tuple[SessionPhoto, bool]:
    """Keep a photo of a session, without its metadata; the same photo again is kept once."""
    row = get_session(session, caller, site_id, session_id)
    photo = photos.clean(data, filename)
    digest = hashlib.sha256(photo.data).hexdigest()
    for existing in row.photos:
        if existing.sha256 == digest:
            return existing, False
    photo_id = uuid.uuid4().hex
    suffix = ".jpg" if photo.content_type == photos.JPEG else ".png"
    # Named by its content: the same photo sent twice at once writes the same bytes to the same key,
    # so the insert that loses leaves nothing behind.
    key = keys.session_photo(site_id, session_id, digest, suffix)
    spool.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool, suffix=suffix) as tmp:
        tmp.write(photo.data)
        tmp.flush()
        store.put_file(
            key, Path(tmp.name), content_type=photo.content_type
        )  # before the row: no dangling row
    kept = SessionPhoto(
        id=photo_id,
        session_id=session_id,
        key=key,
        content_type=photo.content_type,
        size=len(photo.data),
        width=photo.width,
        height=photo.height,
        sha256=digest,
    )
    try:
        with session.begin_nested():
            session.add(kept)
    except IntegrityError:  # the twin upload won: its row
        twin = session.scalar(
            select(SessionPhoto).where(SessionPhoto.session_id == session_id, SessionPhoto.sha256 == digest)
        )
        if twin is None:
            raise
        return twin, False
    row.photos.append(kept)  # already stored: the loaded collection shows it too
    return kept, True


def get_photo(session: Session, caller: Caller, site_id: int, session_id: str, photo_id: str) -> SessionPhoto:
    row = get_session(session, caller, site_id, session_id)
    for photo in row.photos:
        if photo.id == photo_id:
            return photo
    raise NotFound("study.no_photo", session_id=session_id, photo_id=photo_id)
