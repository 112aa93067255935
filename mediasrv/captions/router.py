"""/api/v1/programmes/{id}/captions: a programme film's caption tracks (upload, list, delete)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from mediasrv.accounts.auth import ProducerDep, ViewerDep
from mediasrv.captions import service
from mediasrv.captions.models import Caption, CaptionSource
from mediasrv.catalog.router import reindex_after_commit
from mediasrv.deps import DispatcherDep, SessionDep, SettingsDep
from mediasrv.ingest.spool import multipart_body, receive_upload
from mediasrv.jobs import CAPTIONS, REMAKE, REMAKE_IPTV, enqueue_after_commit
from mediasrv.kit.errors import MediaError, error_responses

router = APIRouter(
    prefix="/api/v1/programmes",
    tags=["captions"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)


class CaptionOut(BaseModel):
    language: str = Field(description="BCP 47: zh-Hans, zh-Hant, bo, ug, mn, kk, ko, za, ii, en")
    label: str = Field(description="what the players' caption menus show")
    source: CaptionSource
    filename: str
    cue_count: int
    burn_in: bool = Field(description="burned into the set-top box pictures (one language at most)")
    created_at: datetime

    @classmethod
    def of(cls, caption: Caption) -> CaptionOut:
        return cls(
            language=caption.language,
            label=caption.label,
            source=caption.source,
            filename=caption.filename,
            cue_count=caption.cue_count,
            burn_in=caption.burn_in,
            created_at=caption.created_at,
        )


_MULTIPART_BODY = multipart_body(
    "SRT, ASS/SSA or WebVTT; UTF-8 (with or without BOM) or GB18030",
    {
        "language": "zh-Hans, zh-Hant, bo, ug, mn, kk, ko, za, ii, en",
        "label": "the menu's name; defaults to the language's",
        "burn_in": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "burn into set-top box pictures (absent: as the replaced one was)",
        },
    },
    required=("file", "language"),
)


@router.post(
    "/{programme_id}/captions", status_code=201, response_model=CaptionOut, openapi_extra=_MULTIPART_BODY
)
async def upload_caption(
    programme_id: str,
    request: Request,
    caller: ProducerDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> CaptionOut:
    """Attach a caption file to the programme's film in one language (replacing that language's): it
    is checked (times in order and inside the film, no empty cue) and refused naming the line that is
    wrong; phones and browsers get it as a subtitle track within a minute, without re-transcoding."""
    upload = await receive_upload(
        request.headers.get("content-type", ""),
        request.stream(),
        spool_dir=settings.spool_dir,
        max_bytes=service.MAX_CAPTION_BYTES,
    )
    try:
        language = upload.fields.get("language", "").strip()
        if not language:
            raise MediaError("captions.no_language")
        burn_in = _flag(upload.fields.get("burn_in"))
        data = await run_in_threadpool(upload.path.read_bytes)
    finally:
        upload.path.unlink(missing_ok=True)
    caption, remake = await run_in_threadpool(
        service.add_caption,
        session,
        actor=caller,
        programme_id=programme_id,
        data=data,
        filename=upload.filename,
        language=language,
        label=upload.fields.get("label"),
        burn_in=burn_in,
    )
    enqueue_after_commit(session, dispatcher, CAPTIONS, caption.asset_id)
    if remake:  # set-top boxes show burned-in captions only: their pictures are made again
        enqueue_after_commit(session, dispatcher, REMAKE, caption.asset_id, REMAKE_IPTV)
    reindex_after_commit(session, dispatcher)
    return CaptionOut.of(caption)


def _flag(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    if value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise MediaError("captions.bad_burn_in", value=value[:16])


@router.get("/{programme_id}/captions", response_model=list[CaptionOut])
def list_captions(programme_id: str, caller: ViewerDep, session: SessionDep) -> list[CaptionOut]:
    """The caption tracks of the programme's film, by language."""
    return [
        CaptionOut.of(c) for c in service.list_captions(session, caller=caller, programme_id=programme_id)
    ]


@router.delete("/{programme_id}/captions/{language}", status_code=204, response_class=Response)
def delete_caption(
    programme_id: str, language: str, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    """Remove one language's captions; its subtitle track leaves the players within a minute."""
    asset_id, remake = service.delete_caption(
        session, actor=caller, programme_id=programme_id, language=language
    )
    enqueue_after_commit(session, dispatcher, CAPTIONS, asset_id)
    if remake:
        enqueue_after_commit(session, dispatcher, REMAKE, asset_id, REMAKE_IPTV)
    reindex_after_commit(session, dispatcher)
    return Response(status_code=204)
