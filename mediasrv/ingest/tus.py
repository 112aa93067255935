"""/api/v1/uploads: resumable uploads, tus 1.0.0 (core, creation, termination), for producers on lines
that drop. A finished upload goes through the same keeping as POST /api/v1/assets
(service.register_upload: sniff, hash, dedup, store, commit, then the transcode job).

The client creates an upload (POST, Upload-Length), sends the bytes in PATCHes from Upload-Offset, and
after a broken connection asks HEAD for the offset the server has and continues from there. The last
PATCH answers with `Upload-Asset-Id`: the asset (GET /api/v1/assets/{id}), new or the department's
own one with the same bytes. Behind a proxy that blocks PATCH or DELETE, a client sends POST with
`X-HTTP-Method-Override` naming the method (see _TusRoute).

State is a small JSON sidecar next to the partial file in the spool directory, not a database table:
the spool is the API's own volume (the workers do not share it, see docker-compose.yml), so the state
lives and is cleaned up with the bytes it describes, and the offset is the partial file's size itself,
never a second record that could disagree with it. No migration, and a directory listing finds the
abandoned ones.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from mediasrv.accounts.auth import Caller, ProducerDep, Role
from mediasrv.deps import DispatcherDep, LangDep, SessionDep, SettingsDep, StoreDep
from mediasrv.ingest import service
from mediasrv.ingest.spool import HEAD_BYTES, SpooledUpload, clean_filename
from mediasrv.jobs import TRANSCODE, Dispatcher, enqueue_after_commit
from mediasrv.kit.errors import (
    Conflict,
    EmptyUpload,
    ErrorOut,
    MediaError,
    NotFound,
    StorageUnavailable,
    UploadTooLarge,
    WrongContentType,
    error_responses,
    refusal_body,
)
from mediasrv.kit.http import OVERRIDE_HEADER, requested_method
from mediasrv.kit.i18n import Lang, Text, choose_lang
from mediasrv.ops.metrics import UPLOADS
from mediasrv.protocol.sizes import human_size
from mediasrv.storage import ObjectStore

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
ABANDONED_SECONDS = 24 * 3600  # no byte for a day: the producer has given up (or will start again)
_ID = re.compile(r"[0-9a-f]{32}")
_HASH_BLOCK = 1024 * 1024

_PRECONDITION: dict[int | str, dict[str, Any]] = {
    412: {"model": ErrorOut, "description": "Tus-Resumable is missing or not 1.0.0 (see Tus-Version)"}
}


class _TusRoute(APIRoute):
    """A route of this router: matched by the method the request means (see http.requested_method),
    and a method the path does not take answers 405 with every method it does take in Allow
    (a route alone knows only its own method, and each method here is a route of its own)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        method = requested_method(scope)
        if method == scope["method"]:
            return super().matches(scope)
        match, child_scope = super().matches({**scope, "method": method})
        if match is Match.FULL:
            child_scope["method"] = method  # the router applies it: the endpoint sees the method meant
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = requested_method(scope)
        if self.methods and method not in self.methods:
            methods = {
                m
                for route in router.routes
                if isinstance(route, APIRoute) and route.path_format == self.path_format
                for m in route.methods or ()
            }
            allowed = ", ".join(sorted(methods))
            if methods & {"PATCH", "DELETE"}:
                key, params = "ingest.tus_method_not_allowed_override", {"header": OVERRIDE_HEADER}
            else:
                key, params = "ingest.tus_method_not_allowed", {}
            # Answered here, in the caller's language: an HTTPException's detail is one sentence.
            request = Request(scope)
            lang = choose_lang(request.headers, request.cookies, request.query_params)
            body = refusal_body(
                "method_not_allowed", key, {"method": method, "allowed": allowed, **params}, lang
            )
            await JSONResponse(body, status_code=405, headers={"Allow": allowed})(scope, receive, send)
            return
        await super().handle(scope, receive, send)


router = APIRouter(
    prefix="/api/v1/uploads",
    tags=["uploads"],
    responses={**error_responses(400, 401, 403, 404, 409, 413, 415, 503), **_PRECONDITION},
    route_class=_TusRoute,
)

TusResumable = Annotated[str | None, Header(description="must be 1.0.0")]


@dataclass
class _State:
    """The sidecar: what the upload is and whose. The offset is the partial file's size."""

    id: str
    length: int
    filename: str
    title: str | None
    owner: str
    created: float
    asset_id: str | None = None  # set when finished; kept a while for a client that lost the answer


def _owner(caller: Caller) -> str:
    return f"user:{caller.user_id}" if caller.user_id is not None else f"token:{caller.token_id}"


def _part(spool: Path, upload_id: str) -> Path:
    return spool / f"tus-{upload_id}.part"


def _sidecar(spool: Path, upload_id: str) -> Path:
    return spool / f"tus-{upload_id}.json"


def _save(spool: Path, state: _State) -> None:
    target = _sidecar(spool, state.id)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(state), ensure_ascii=False), encoding="utf-8")
    tmp.replace(target)  # atomic: a reader sees the old state or the new, never half


def _forget(spool: Path, upload_id: str) -> None:
    _part(spool, upload_id).unlink(missing_ok=True)
    _sidecar(spool, upload_id).unlink(missing_ok=True)


def _load(spool: Path, upload_id: str, caller: Caller) -> _State:
    """The caller's upload (an administrator may continue anyone's); 404 for anyone else's, which
    does not even say that it exists."""
    missing = NotFound("ingest.tus_no_upload", upload_id=upload_id)
    if not _ID.fullmatch(upload_id):
        raise missing
    try:
        state = _State(**json.loads(_sidecar(spool, upload_id).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise missing from None
    if state.owner != _owner(caller) and caller.role is not Role.ADMIN:
        raise missing
    return state


def _offset(spool: Path, state: _State) -> int:
    if state.asset_id is not None:
        return state.length
    try:
        return _part(spool, state.id).stat().st_size
    except FileNotFoundError:
        return 0


def _check_version(tus_resumable: str | None, lang: Lang) -> Response | None:
    """412 (ErrorOut's shape, in the caller's language) unless the client speaks this tus version."""
    if tus_resumable == TUS_VERSION:
        return None
    body = refusal_body("tus_version", "ingest.tus_version", {"version": TUS_VERSION}, lang)
    return JSONResponse(body, status_code=412, headers={"Tus-Version": TUS_VERSION})


def _metadata(raw: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (a key alone has an empty value)."""
    found: dict[str, str] = {}
    for pair in (raw or "").split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MediaError("ingest.tus_bad_metadata", field=key) from None
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    """The partial file opened for appending, held by this request alone (two tabs resuming the same
    upload must not interleave their bytes)."""
    try:
        f = path.open("ab")
    except FileNotFoundError:
        raise NotFound("ingest.tus_removed") from None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("ingest.tus_busy") from None
        yield f


def _headers(state: _State, offset: int) -> dict[str, str]:
    headers = {
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(offset),
        "Upload-Length": str(state.length),
        "Cache-Control": "no-store",
    }
    if state.asset_id is not None:
        headers["Upload-Asset-Id"] = state.asset_id
    return headers


def _past_the_end(state: _State) -> UploadTooLarge:
    return UploadTooLarge("ingest.tus_past_the_end", length=state.length)


def _spooled(spool: Path, state: _State) -> SpooledUpload:
    """The finished partial as a SpooledUpload for service.register_upload, which deletes its file:
    it gets a hard link, so the partial survives a storage outage and the client can finish again."""
    part = _part(spool, state.id)
    sha = hashlib.sha256()
    head = b""
    # Read once more to hash: a hash state cannot outlive the PATCH that began it (resumes may even
    # reach another process), and re-reading the local disk is cheap next to the network.
    with part.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            if len(head) < HEAD_BYTES:
                head += block[: HEAD_BYTES - len(head)]
            sha.update(block)
    link = spool / f"upload-{uuid.uuid4().hex}"
    os.link(part, link)
    return SpooledUpload(
        path=link, filename=state.filename, size=state.length, sha256=sha.hexdigest(), head=head
    )


def sweep_abandoned(spool: Path, *, max_age: float = ABANDONED_SECONDS, now: float | None = None) -> int:
    """Remove uploads nobody has sent a byte to for `max_age` seconds; how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for sidecar in spool.glob("tus-*.json"):
        upload_id = sidecar.name.removeprefix("tus-").removesuffix(".json")
        times = []
        for path in (sidecar, _part(spool, upload_id)):
            with contextlib.suppress(FileNotFoundError):
                times.append(path.stat().st_mtime)
        if times and now - max(times) > max_age:
            _forget(spool, upload_id)
            removed += 1
    for part in spool.glob("tus-*.part"):  # a crash between creating the two files
        if not part.with_suffix(".json").exists() and now - part.stat().st_mtime > max_age:
            part.unlink(missing_ok=True)
    if removed:
        log.info("removed %d abandoned resumable uploads", removed)
    return removed


_NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Done; see the headers"}}


@router.options("", status_code=204, responses=_NO_CONTENT)
def capabilities(caller: ProducerDep, settings: SettingsDep) -> Response:
    """tus discovery: the version, the extensions (creation, termination) and the largest upload."""
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
        },
    )


@router.post(
    "",
    status_code=201,
    response_class=Response,
    responses={201: {"description": "Created: Location is the upload's URL, to PATCH bytes to"}},
)
def create_upload(
    caller: ProducerDep,
    settings: SettingsDep,
    lang: LangDep,
    upload_length: Annotated[int, Header(ge=0, description="the file's size in bytes")],
    upload_metadata: Annotated[
        str | None, Header(description="`filename <base64>,title <base64>` (title optional)")
    ] = None,
    tus_resumable: TusResumable = None,
) -> Response:
    """Start a resumable upload of a film, audio lecture or PDF handout (tus 1.0 creation)."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    meta = _metadata(upload_metadata)
    filename = clean_filename(meta.get("filename", ""))
    if upload_length > settings.max_upload_bytes:
        # Refuse before a producer on a slow line spends hours sending it.
        raise UploadTooLarge(
            "ingest.too_large",
            filename=filename,
            size=human_size(upload_length),
            limit=human_size(settings.max_upload_bytes),
            advice=Text("kit.advice.upload"),
        )
    if upload_length == 0:
        raise EmptyUpload("ingest.empty", filename=filename)
    spool = settings.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(spool)  # here, not in a worker: only the API sees its spool volume
    state = _State(
        id=uuid.uuid4().hex,
        length=upload_length,
        filename=filename,
        title=meta.get("title"),
        owner=_owner(caller),
        created=time.time(),
    )
    _part(spool, state.id).touch()
    _save(spool, state)
    headers = _headers(state, 0)
    headers["Location"] = f"{router.prefix}/{state.id}"
    return Response(status_code=201, headers=headers)


@router.head("/{upload_id}", response_class=Response, responses={200: {"description": "See the headers"}})
def upload_offset(
    upload_id: str,
    caller: ProducerDep,
    settings: SettingsDep,
    lang: LangDep,
    tus_resumable: TusResumable = None,
) -> Response:
    """How many bytes the server has (Upload-Offset): continue from there after a broken connection.
    A finished upload also names its asset (Upload-Asset-Id)."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    state = _load(settings.spool_dir, upload_id, caller)
    return Response(status_code=200, headers=_headers(state, _offset(settings.spool_dir, state)))


@router.patch(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses=_NO_CONTENT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OFFSET_OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def append(
    upload_id: str,
    request: Request,
    caller: ProducerDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    lang: LangDep,
    upload_offset: Annotated[int, Header(ge=0, description="where these bytes start")],
    content_type: Annotated[str, Header(description=OFFSET_OCTET_STREAM)] = "",
    tus_resumable: TusResumable = None,
) -> Response:
    """Append bytes from Upload-Offset, which must be the server's offset. The answer's Upload-Offset
    is the new one; the last bytes make the asset (Upload-Asset-Id), refused as POST /api/v1/assets
    refuses (415 for what is not a film, audio or PDF, and the upload is gone)."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    spool = settings.spool_dir
    state = _load(spool, upload_id, caller)
    if content_type.split(";")[0].strip().lower() != OFFSET_OCTET_STREAM:
        raise WrongContentType(
            "ingest.tus_wrong_content_type", expected=OFFSET_OCTET_STREAM, sent=content_type
        )
    if state.asset_id is not None:  # finished: the client lost the last answer and asks again
        if upload_offset != state.length:
            raise Conflict("ingest.tus_complete", length=state.length)
        return Response(status_code=204, headers=_headers(state, state.length))
    with _locked(_part(spool, upload_id)) as part:
        current = os.fstat(part.fileno()).st_size
        if upload_offset != current:
            raise Conflict("ingest.tus_offset_mismatch", current=current, sent=upload_offset)
        declared = int(request.headers.get("content-length") or 0)
        if current + declared > state.length:
            raise _past_the_end(state)
        received = current
        try:
            async for chunk in request.stream():
                if received + len(chunk) > state.length:
                    part.truncate(current)  # the whole PATCH is refused, not a prefix of it
                    raise _past_the_end(state)
                part.write(chunk)
                received += len(chunk)
        except ClientDisconnect:
            # The connection broke: what arrived is kept, and HEAD tells the client where to go on.
            part.flush()
            return Response(status_code=204, headers=_headers(state, received))
        part.flush()
        if received == state.length:
            await _finish(spool, state, caller, session, store, dispatcher)
    return Response(status_code=204, headers=_headers(state, received))


async def _finish(
    spool: Path, state: _State, caller: Caller, session: Session, store: ObjectStore, dispatcher: Dispatcher
) -> None:
    """Keep the complete file as POST /api/v1/assets does; commit before forgetting the bytes."""
    upload = await run_in_threadpool(_spooled, spool, state)
    try:
        asset, created = await run_in_threadpool(
            service.register_upload, session, store, upload=upload, title=state.title, owner=caller
        )
        if created and service.needs_processing(asset):
            enqueue_after_commit(session, dispatcher, TRANSCODE, asset.id)
        await run_in_threadpool(session.commit)  # the asset is durable before the partial is deleted
    except StorageUnavailable as exc:  # the bytes stay: an empty PATCH at the end finishes later
        UPLOADS.labels(exc.code).inc()
        raise
    except MediaError as exc:  # refused (not media...): nothing is kept, as with POST
        UPLOADS.labels(exc.code).inc()
        _forget(spool, state.id)
        raise
    UPLOADS.labels("created" if created else "duplicate").inc()
    state.asset_id = asset.id
    _save(spool, state)
    _part(spool, state.id).unlink(missing_ok=True)


@router.delete("/{upload_id}", status_code=204, response_class=Response, responses=_NO_CONTENT)
def cancel(
    upload_id: str,
    caller: ProducerDep,
    settings: SettingsDep,
    lang: LangDep,
    tus_resumable: TusResumable = None,
) -> Response:
    """Cancel an upload (tus termination): its bytes are deleted at once."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    state = _load(settings.spool_dir, upload_id, caller)
    if state.asset_id is None:
        with _locked(_part(settings.spool_dir, upload_id)):
            _forget(settings.spool_dir, upload_id)
    else:
        _forget(settings.spool_dir, upload_id)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
