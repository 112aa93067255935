"""/api/v1/sites/{id}/sessions: study sessions a site held (its logbook) and their photos (照片报送)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from mediasrv.accounts.auth import SiteOrAdminDep
from mediasrv.deps import SessionDep, SettingsDep, StoreDep
from mediasrv.kit.errors import MediaError, UploadTooLarge, error_responses
from mediasrv.kit.http import object_response
from mediasrv.kit.params import RowId
from mediasrv.protocol.china import this_month
from mediasrv.study import compliance, service
from mediasrv.study.models import SessionPhoto
from mediasrv.study.routers.shared import Month, kept_once, post_once
from mediasrv.study.schemas import PhotoOut, SessionId, SessionIn, SessionOut

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


@post_once(router, "/api/v1/sites/{site_id}/sessions", SessionOut)
def record_session(
    site_id: RowId, body: SessionIn, caller: SiteOrAdminDep, session: SessionDep, response: Response
) -> SessionOut:
    """Record a session held at the site (a site only its own)."""
    kept = service.record_session(
        session,
        caller,
        site_id,
        service.SessionIn(
            body.id,
            body.started_at,
            body.minutes,
            body.members_present,
            body.notes.strip(),
            tuple(service.PlayedIn(p.programme_id, p.minutes) for p in body.programmes),
        ),
    )
    return SessionOut.of(kept_once(response, kept))


@router.get("/api/v1/sites/{site_id}/sessions", response_model=list[SessionOut])
def list_sessions(
    site_id: RowId, caller: SiteOrAdminDep, session: SessionDep, month: Month | None = None
) -> list[SessionOut]:
    """A site's sessions in a month (default: this month), oldest first."""
    first, last = compliance.month_bounds(month or this_month())
    rows = service.list_sessions(session, caller, site_id, first=first, last=last)
    return [SessionOut.of(r) for r in rows]


@router.post(
    "/api/v1/sites/{site_id}/sessions/{session_id}/photos",
    status_code=201,
    response_model=PhotoOut,
    responses={
        200: {"model": PhotoOut, "description": "The same photo was kept before"},
        **error_responses(413, 415, 503),
    },
)
async def add_photo(
    site_id: RowId,
    session_id: SessionId,
    file: UploadFile,
    caller: SiteOrAdminDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> PhotoOut:
    """A photo of the session (JPEG or PNG,照片报送); kept without its metadata (EXIF, GPS)."""
    name = file.filename or "photo"
    data = await file.read(settings.photo_max_bytes + 1)
    if len(data) > settings.photo_max_bytes:
        raise UploadTooLarge("study.photo_too_large", name=name, mib=settings.photo_max_bytes // 2**20)
    if not data:
        raise MediaError("study.photo_empty", name=name)
    kept = await run_in_threadpool(
        service.add_photo,
        session,
        store,
        caller,
        site_id,
        session_id,
        data=data,
        filename=name,
        spool=settings.spool_dir,
    )
    return PhotoOut.model_validate(kept_once(response, kept))


@router.get(
    "/api/v1/sites/{site_id}/sessions/{session_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def get_photo(
    site_id: RowId,
    session_id: str,
    photo_id: str,
    request: Request,
    caller: SiteOrAdminDep,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    photo: SessionPhoto = service.get_photo(session, caller, site_id, session_id, photo_id)
    return object_response(store, photo.key, request, cache_control="private, max-age=3600")
