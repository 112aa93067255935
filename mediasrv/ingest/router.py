"""/api/v1/assets: upload, status, source download, retry, a film's extra audio tracks."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from mediasrv.accounts.auth import AdminDep, Caller, ProducerDep
from mediasrv.config import Settings
from mediasrv.deps import DispatcherDep, LangDep, SessionDep, SettingsDep, StoreDep
from mediasrv.ingest import service, tracks
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.ingest.schemas import AssetOut, AudioTrackOut
from mediasrv.ingest.spool import multipart_body, receive_upload
from mediasrv.jobs import REMAKE, REMAKE_ALL, TRANSCODE, enqueue_after_commit
from mediasrv.kit.errors import MediaError, error_responses
from mediasrv.kit.http import object_response
from mediasrv.kit.params import Limit, Offset, Page
from mediasrv.media import languages
from mediasrv.ops.metrics import UPLOADS
from mediasrv.storage import ObjectStore

router = APIRouter(
    prefix="/api/v1/assets",
    tags=["assets"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
)

_MULTIPART_BODY = multipart_body("film, audio or PDF", {"title": "defaults to the file name"})


@router.post(
    "",
    status_code=201,
    response_model=AssetOut,
    openapi_extra=_MULTIPART_BODY,
    responses={200: {"model": AssetOut, "description": "The same bytes were uploaded before: that asset"}},
)
async def upload_asset(
    request: Request,
    response: Response,
    caller: ProducerDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    lang: LangDep,
) -> AssetOut:
    """Upload a film, audio lecture or PDF (multipart field `file`); it is transcoded in the background."""
    try:
        asset, created = await _receive(request, caller, session, settings, store)
    except MediaError as exc:
        UPLOADS.labels(exc.code).inc()
        raise
    UPLOADS.labels("created" if created else "duplicate").inc()
    if not created:  # this department's own asset of the same bytes
        response.status_code = 200
    elif service.needs_processing(asset):
        enqueue_after_commit(session, dispatcher, TRANSCODE, asset.id)
    return AssetOut.of(asset, lang)


async def _receive(
    request: Request, caller: Caller, session: Session, settings: Settings, store: ObjectStore
) -> tuple[Asset, bool]:
    """Stream, check and store the upload: the asset and whether it is new (not the same bytes again).
    A Content-Length over the limit never gets here (mediasrv.admission refuses it before a producer on a
    slow line spends hours sending it); receive_upload counts the file's own bytes against it."""
    upload = await receive_upload(
        request.headers.get("content-type", ""),
        request.stream(),
        spool_dir=settings.spool_dir,
        max_bytes=settings.max_upload_bytes,
    )
    return await run_in_threadpool(
        service.register_upload, session, store, upload=upload, title=upload.fields.get("title"), owner=caller
    )


@router.get("", response_model=Page[AssetOut])
def list_assets(
    caller: ProducerDep,
    session: SessionDep,
    lang: LangDep,
    status: AssetStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AssetOut]:
    """Assets, newest first: a producer's own, or every asset for an administrator."""
    rows, total = service.list_assets(session, caller=caller, status=status, limit=limit, offset=offset)
    return Page[AssetOut](items=[AssetOut.of(a, lang) for a in rows], total=total, limit=limit, offset=offset)


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: str, caller: ProducerDep, session: SessionDep, lang: LangDep) -> AssetOut:
    """Status, progress, error reason, kind, duration, source properties, renditions and links."""
    return AssetOut.of(service.get_asset(session, asset_id, caller=caller), lang)


@router.get("/{asset_id}/source", response_class=Response)
def download_source(
    asset_id: str, request: Request, caller: ProducerDep, session: SessionDep, store: StoreDep
) -> Response:
    """The original upload as it was received (Range supported)."""
    asset = service.get_asset(session, asset_id, caller=caller)
    return object_response(
        store, asset.source_key, request, cache_control="private, max-age=3600", download_name=asset.filename
    )


@router.post("/{asset_id}/retry", response_model=AssetOut)
def retry_asset(
    asset_id: str, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep, lang: LangDep
) -> AssetOut:
    """Process a failed asset again from the start."""
    asset = service.retry_asset(session, asset_id, actor=caller)
    enqueue_after_commit(session, dispatcher, TRANSCODE, asset.id)
    return AssetOut.of(asset, lang)


_AUDIO_BODY = multipart_body("the dubbed recording")


@router.get("/{asset_id}/audio-tracks", response_model=list[AudioTrackOut])
def list_audio_tracks(asset_id: str, caller: ProducerDep, session: SessionDep) -> list[AudioTrackOut]:
    """The film's extra audio tracks attached by producers, by language."""
    asset = service.get_asset(session, asset_id, caller=caller)
    return [AudioTrackOut.of(row) for row in tracks.listed(session, asset.id)]


@router.put("/{asset_id}/audio-tracks/{language}", response_model=AudioTrackOut, openapi_extra=_AUDIO_BODY)
async def put_audio_track(
    asset_id: str,
    language: str,
    request: Request,
    caller: ProducerDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
) -> AudioTrackOut:
    """Attach (or replace) the film's audio track in `language` (a dubbed version, multipart field
    `file`); a ready film is made again with it in the background and stays playable meanwhile."""
    tag = languages.checked(language)
    tracks.film(session, asset_id, caller=caller)  # refused before the body is read
    upload = await receive_upload(
        request.headers.get("content-type", ""),
        request.stream(),
        spool_dir=settings.spool_dir,
        max_bytes=settings.max_upload_bytes,
    )
    try:
        await run_in_threadpool(tracks.checked_audio, upload)
        asset = tracks.film(session, asset_id, caller=caller)
        row, _ = await run_in_threadpool(tracks.attach, session, store, asset, tag, upload)
    finally:
        upload.discard()
    if asset.status is AssetStatus.READY:
        enqueue_after_commit(session, dispatcher, REMAKE, asset.id, REMAKE_ALL)
    return AudioTrackOut.of(row)


@router.delete("/{asset_id}/audio-tracks/{language}", status_code=204, response_class=Response)
def delete_audio_track(
    asset_id: str, language: str, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    """Remove the film's audio track in `language`; a ready film is made again without it."""
    asset = tracks.film(session, asset_id, caller=caller, removing=True)
    tracks.remove(session, asset, languages.checked(language))
    if asset.status is AssetStatus.READY:
        enqueue_after_commit(session, dispatcher, REMAKE, asset.id, REMAKE_ALL)
    return Response(status_code=204)
