"""/api/v1/uploads: resumable uploads, tus 1.0.0 (core, creation, termination), for producers on lines
that drop. A finished upload goes through the same keeping as POST /api/v1/assets
(service.register_upload: sniff, hash, dedup, store, commit, then the transcode job).

The client creates an upload (POST, Upload-Length), sends the bytes in PATCHes from Upload-Offset, and
after a broken connection asks HEAD for the offset the server has and continues from there. The last
PATCH answers with `Upload-Asset-Id`: the asset (GET /api/v1/assets/{id}), new or the department's
own one with the same bytes. Behind a proxy that blocks PATCH or DELETE, a client sends POST with
`X-HTTP-Method-Override` naming the method (see _TusRoute).

Nothing of an upload stays in the process that took a request, so that several API processes behind
a round-robin proxy can each take any PATCH (no sticky routing). The state is a database row
(models.ResumableUpload): owner, length, names, the offset, a lease. The bytes go to object storage as
they arrive: whole parts of an S3 multipart object (the local store keeps the same rules), and what a
PATCH leaves that does not fill a part as a "piece" object, read back when the next PATCH fills the
part. The offset counts only stored bytes, so a process killed mid-PATCH loses nothing a client
believes sent: HEAD answers the stored offset and the client resends the rest. A PATCH holds at most
about two parts in memory (upload_part_bytes), whatever its length.

Why object storage and not a shared spool volume: the store is already shared by every API process
and worker (a deployment has it anyway), it takes parts from separate processes by design, and the
finished file becomes the asset's source by a copy inside the store (S3 CopyObject) rather than by
sending every byte through the API once more. The SHA-256 (the source's key) is computed at the end
by reading the file once: a hash's state cannot pass from one process to the next.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import math
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from mediasrv.accounts.auth import Caller, ProducerDep, Role
from mediasrv.db import Database, utcnow
from mediasrv.deps import DatabaseDep, DispatcherDep, LangDep, SessionDep, SettingsDep, StoreDep
from mediasrv.ingest import service
from mediasrv.ingest.models import ResumableUpload
from mediasrv.ingest.spool import HEAD_BYTES, clean_filename
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
from mediasrv.storage import ObjectStore, keys
from mediasrv.storage.base import MAX_PARTS

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
ABANDONED_SECONDS = 24 * 3600  # no byte for a day: the producer has given up (or will start again)
# A PATCH holds its upload this long past its last sign of life, renewed every RENEW_SECONDS while
# bytes arrive: a process that dies mid-PATCH frees the upload for another within the lease.
LEASE_SECONDS = 120.0
RENEW_SECONDS = 30.0
SWEEP_BATCH = 20  # abandoned uploads removed per creation: bounded work in a producer's request
_ID = re.compile(r"[0-9a-f]{32}")

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


def _owner(caller: Caller) -> str:
    return f"user:{caller.user_id}" if caller.user_id is not None else f"token:{caller.token_id}"


@dataclass
class _State:
    """What a request knows of an upload: the row as read, then as this request changed it."""

    id: str
    length: int
    filename: str
    title: str | None
    received: int
    part_size: int
    multipart_id: str | None
    etags: list[str] = field(default_factory=list)
    pieces: list[int] = field(default_factory=list)
    asset_id: str | None = None

    @classmethod
    def of(cls, row: ResumableUpload) -> _State:
        return cls(
            row.id,
            row.length,
            row.filename,
            row.title,
            row.received,
            row.part_size,
            row.multipart_id,
            list(row.etags),
            list(row.pieces),
            row.asset_id,
        )

    @property
    def offset(self) -> int:
        return self.length if self.asset_id is not None else self.received

    @classmethod
    def of_copy(cls, state: _State) -> _State:
        return cls(**{**state.__dict__, "etags": list(state.etags), "pieces": list(state.pieces)})

    @property
    def in_parts(self) -> int:
        """Bytes in whole parts; the rest of `received` is in pieces."""
        return len(self.etags) * self.part_size


def _load(session: Session, upload_id: str, caller: Caller) -> ResumableUpload:
    """The caller's upload (an administrator may continue anyone's); 404 for anyone else's, which
    does not even say that it exists."""
    missing = NotFound("ingest.tus_no_upload", upload_id=upload_id)
    if not _ID.fullmatch(upload_id):
        raise missing
    row = session.get(ResumableUpload, upload_id)
    if row is None or (row.owner != _owner(caller) and caller.role is not Role.ADMIN):
        raise missing
    return row


class _Lease:
    """This request's hold on an upload's row: every change goes through it, and only while the hold
    is this request's (a request whose lease lapsed and was taken over gets 409, changing nothing)."""

    def __init__(self, db: Database, upload_id: str, token: str) -> None:
        self.db = db
        self.upload_id = upload_id
        self.token = token
        self.renewed = time.monotonic()

    @classmethod
    def take(cls, db: Database, upload_id: str, caller: Caller) -> tuple[_Lease, _State]:
        token = uuid.uuid4().hex
        with db.session_scope() as session:
            row = _load(session, upload_id, caller)
            now = utcnow()
            taken = session.execute(
                update(ResumableUpload)
                .where(
                    ResumableUpload.id == upload_id,
                    (ResumableUpload.lock_token.is_(None)) | (ResumableUpload.locked_until < now),
                )
                .values(lock_token=token, locked_until=now + timedelta(seconds=LEASE_SECONDS))
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("ingest.tus_busy")
            session.refresh(row)
            return cls(db, upload_id, token), _State.of(row)

    def save(self, **values: Any) -> None:
        """Write `values` (and renew the lease); 409 when the upload is no longer held by this request."""
        now = utcnow()
        with self.db.session_scope() as session:
            done = session.execute(
                update(ResumableUpload)
                .where(ResumableUpload.id == self.upload_id, ResumableUpload.lock_token == self.token)
                .values(**values, locked_until=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("ingest.tus_busy")
        self.renewed = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.renewed > RENEW_SECONDS

    def renew_if_due(self) -> None:
        if self.due():
            self.save()

    def release(self) -> None:
        """Let another request take the upload (best effort: the lease lapses anyway)."""
        try:
            with self.db.session_scope() as session:
                session.execute(
                    update(ResumableUpload)
                    .where(ResumableUpload.id == self.upload_id, ResumableUpload.lock_token == self.token)
                    .values(lock_token=None, locked_until=None)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # the database is down: the lease expires by itself
            log.warning("upload %s: could not release its lease", self.upload_id, exc_info=True)

    def forget(self, store: ObjectStore, state: _State) -> None:
        """Remove the upload: its stored bytes, then its row."""
        _remove_bytes(store, state.id, state.multipart_id)
        with self.db.session_scope() as session:
            session.execute(
                delete(ResumableUpload).where(
                    ResumableUpload.id == self.upload_id, ResumableUpload.lock_token == self.token
                )
            )


def _peek(db: Database, upload_id: str, caller: Caller) -> _State:
    with db.session_scope() as session:
        return _State.of(_load(session, upload_id, caller))


def _remove_bytes(store: ObjectStore, upload_id: str, multipart_id: str | None) -> None:
    if multipart_id is not None:
        store.abort_multipart(keys.upload_file(upload_id), multipart_id)
    store.delete_prefix(keys.upload_prefix(upload_id))


class _Appender:
    """A PATCH's bytes into object storage: whole parts as soon as they fill (the upload's pieces
    first), and what remains, when the PATCH ends, as a piece. Holds at most about two parts."""

    def __init__(self, store: ObjectStore, lease: _Lease, state: _State, spool: Path) -> None:
        self.store = store
        self.lease = lease
        self.state = state
        self.spool = spool
        self.key = keys.upload_file(state.id)
        self.fresh = bytearray()  # received by this PATCH, not stored yet; starts at state.received
        self.used: list[int] = []  # pieces made part of a part: deleted once the PATCH is through

    @property
    def offset(self) -> int:
        """Where the bytes received so far end (stored or not)."""
        return self.state.received + len(self.fresh)

    def add(self, chunk: bytes) -> bool:
        """Take a chunk into memory; whether store_due has work (a part is full, the lease is due).
        Cheap, so that most chunks cost no trip to a thread."""
        self.fresh += chunk
        return self._part_full() or self.lease.due()

    def _part_full(self) -> bool:
        return self.state.received + len(self.fresh) - self.state.in_parts >= self.state.part_size

    def store_due(self) -> None:
        """Store the parts that are full and renew the lease (blocking: call it from a thread)."""
        while self._part_full():
            self._store_part(self.state.in_parts + self.state.part_size - self.state.received)
        self.lease.renew_if_due()

    def _store_part(self, take: int) -> None:
        """Store the pieces and the first `take` fresh bytes as the next part."""
        state = self.state
        assert state.multipart_id is not None
        data = b"".join(self._read_piece(i) for i in range(len(state.pieces))) + bytes(self.fresh[:take])
        number = len(state.etags) + 1
        etag = self.store.upload_part(self.key, state.multipart_id, number, data)
        self.used += state.pieces
        state.etags.append(etag)
        state.pieces = []
        state.received += take
        del self.fresh[:take]
        self.lease.save(etags=list(state.etags), pieces=[], received=state.received)

    def _read_piece(self, i: int) -> bytes:
        state = self.state
        start = state.pieces[i]
        end = state.pieces[i + 1] if i + 1 < len(state.pieces) else state.received
        data = b"".join(self.store.read(keys.upload_piece(state.id, start)))
        if len(data) != end - start:
            raise StorageUnavailable("ingest.tus_piece_damaged", upload_id=state.id, offset=start)
        return data

    def keep_rest(self) -> None:
        """Store what did not fill a part: the last part when the file is complete, else a piece."""
        state = self.state
        if self.offset == state.length:
            if state.multipart_id is not None:
                rest = state.received + len(self.fresh) - state.in_parts
                if rest > 0 or not state.etags:
                    self._store_part(len(self.fresh))
                self.store.complete_multipart(self.key, state.multipart_id, state.etags)
                state.multipart_id = None
                self.lease.save(multipart_id=None, received=state.received)
        elif self.fresh:
            with tempfile.NamedTemporaryFile(dir=self.spool, prefix="tus-piece-") as f:
                f.write(self.fresh)
                f.flush()
                self.store.put_file(keys.upload_piece(state.id, state.received), Path(f.name))
            state.pieces.append(state.received)
            state.received += len(self.fresh)
            self.fresh.clear()
            self.lease.save(pieces=list(state.pieces), received=state.received)
        self.drop_used()

    def drop_used(self) -> None:
        for start in self.used:  # the parts hold their bytes now; left over, the sweep removes them
            with contextlib.suppress(StorageUnavailable):
                self.store.delete(keys.upload_piece(self.state.id, start))
        self.used = []


@dataclass
class _Staged:
    """The finished upload's file in the store, for service.register_upload (spool.Received)."""

    key: str
    filename: str
    size: int
    sha256: str
    head: bytes

    def keep(self, store: ObjectStore, key: str, content_type: str) -> None:
        store.copy(self.key, key, content_type=content_type)  # inside the store: no byte through here

    def discard(self) -> None:
        """Nothing here: the file is removed with the upload once the asset is committed."""


def _staged(store: ObjectStore, state: _State, lease: _Lease) -> _Staged:
    """Hash the whole file (read once from the store) and take its first bytes to sniff."""
    key = keys.upload_file(state.id)
    sha = hashlib.sha256()
    head = b""
    size = 0
    for block in store.read(key):
        if len(head) < HEAD_BYTES:
            head += block[: HEAD_BYTES - len(head)]
        sha.update(block)
        size += len(block)
        lease.renew_if_due()
    if size != state.length:
        raise StorageUnavailable(
            "ingest.tus_file_damaged", upload_id=state.id, size=size, length=state.length
        )
    return _Staged(key, state.filename, size, sha.hexdigest(), head)


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


def _past_the_end(state: _State) -> UploadTooLarge:
    return UploadTooLarge("ingest.tus_past_the_end", length=state.length)


def part_size_for(length: int, configured: int) -> int:
    """The configured part size, larger when a file would need more than MAX_PARTS parts."""
    return max(configured, math.ceil(length / MAX_PARTS))


def sweep_abandoned(
    session: Session, store: ObjectStore, *, max_age: float = ABANDONED_SECONDS, now: datetime | None = None
) -> int:
    """Remove uploads nobody has sent a byte to for `max_age` seconds (finished ones too, whose
    answer a client had a day to ask for again); how many were removed."""
    now = utcnow() if now is None else now
    cutoff = now - timedelta(seconds=max_age)
    rows = session.scalars(
        select(ResumableUpload)
        .where(
            ResumableUpload.updated_at < cutoff,
            ResumableUpload.lock_token.is_(None) | (ResumableUpload.locked_until < now),
        )
        .limit(SWEEP_BATCH)
    ).all()
    removed = 0
    for row in rows:
        try:
            _remove_bytes(store, row.id, row.multipart_id)
        except StorageUnavailable:  # left for a later sweep: a row without its bytes would be worse
            log.warning("upload %s: could not remove its stored bytes", row.id, exc_info=True)
            continue
        session.delete(row)
        removed += 1
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
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
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
    sweep_abandoned(session, store)  # here, where uploads begin: no process of its own to run
    upload_id = uuid.uuid4().hex
    row = ResumableUpload(
        id=upload_id,
        owner=_owner(caller),
        length=upload_length,
        filename=filename,
        title=meta.get("title"),
        received=0,
        part_size=part_size_for(upload_length, settings.upload_part_bytes),
        multipart_id=store.start_multipart(keys.upload_file(upload_id)),
        etags=[],
        pieces=[],
    )
    session.add(row)
    headers = _headers(_State.of(row), 0)
    headers["Location"] = f"{router.prefix}/{upload_id}"
    return Response(status_code=201, headers=headers)


@router.head("/{upload_id}", response_class=Response, responses={200: {"description": "See the headers"}})
async def upload_offset(
    upload_id: str,
    caller: ProducerDep,
    db: DatabaseDep,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    lang: LangDep,
    tus_resumable: TusResumable = None,
) -> Response:
    """How many bytes the server has (Upload-Offset): continue from there after a broken connection.
    A finished upload also names its asset (Upload-Asset-Id)."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    state = await run_in_threadpool(_peek, db, upload_id, caller)
    if state.asset_id is None and state.received == state.length:
        # Every byte is stored but the asset was not made (the store failed at the end). A client
        # that reads offset == length is done (tuspy, tus-js) and would never come back to finish it.
        lease, state = await run_in_threadpool(_Lease.take, db, upload_id, caller)
        try:
            if state.asset_id is None:
                await _finish(store, lease, state, caller, session, dispatcher)
        finally:
            await run_in_threadpool(lease.release)
    return Response(status_code=200, headers=_headers(state, state.offset))


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
    db: DatabaseDep,
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
    # Short transactions of their own: the request's session would hold a connection (and, on
    # PostgreSQL, a transaction) for as long as a slow line takes to send the PATCH.
    state = await run_in_threadpool(_peek, db, upload_id, caller)
    if content_type.split(";")[0].strip().lower() != OFFSET_OCTET_STREAM:
        raise WrongContentType(
            "ingest.tus_wrong_content_type", expected=OFFSET_OCTET_STREAM, sent=content_type
        )
    if state.asset_id is not None:  # finished: the client lost the last answer and asks again
        return _finished(state, upload_offset)
    lease, state = await run_in_threadpool(_Lease.take, db, upload_id, caller)
    try:
        if state.asset_id is not None:  # finished while this request waited for the row
            return _finished(state, upload_offset)
        current = state.received
        if upload_offset != current:
            raise Conflict("ingest.tus_offset_mismatch", current=current, sent=upload_offset)
        declared = int(request.headers.get("content-length") or 0)
        if current + declared > state.length:
            raise _past_the_end(state)
        spool = settings.spool_dir
        spool.mkdir(parents=True, exist_ok=True)
        saved = _State.of_copy(state)
        appender = _Appender(store, lease, state, spool)
        try:
            async for chunk in request.stream():
                if appender.offset + len(chunk) > state.length:
                    # The whole PATCH is refused, not a prefix of it: back to where it began (parts
                    # it stored are replaced by number when their bytes come again).
                    await run_in_threadpool(
                        lease.save, etags=saved.etags, pieces=saved.pieces, received=saved.received
                    )
                    raise _past_the_end(state)
                if appender.add(chunk):
                    await run_in_threadpool(appender.store_due)
        except ClientDisconnect:
            # The connection broke: what arrived is kept, and HEAD tells the client where to go on.
            # When that was the last byte, the asset is made now: the client may never ask again.
            await run_in_threadpool(appender.keep_rest)
            if state.received == state.length:
                await _finish(store, lease, state, caller, session, dispatcher)
            return Response(status_code=204, headers=_headers(state, state.offset))
        await run_in_threadpool(appender.keep_rest)
        if state.received == state.length:
            await _finish(store, lease, state, caller, session, dispatcher)
        return Response(status_code=204, headers=_headers(state, state.offset))
    finally:
        await run_in_threadpool(lease.release)


def _finished(state: _State, upload_offset: int) -> Response:
    if upload_offset != state.length:
        raise Conflict("ingest.tus_complete", length=state.length)
    return Response(status_code=204, headers=_headers(state, state.length))


async def _finish(
    store: ObjectStore, lease: _Lease, state: _State, caller: Caller, session: Session, dispatcher: Dispatcher
) -> None:
    """Keep the complete file as POST /api/v1/assets does; commit before forgetting the bytes."""
    try:
        staged = await run_in_threadpool(_staged, store, state, lease)
        asset, created = await run_in_threadpool(
            service.register_upload, session, store, upload=staged, title=state.title, owner=caller
        )
        if created and service.needs_processing(asset):
            enqueue_after_commit(session, dispatcher, TRANSCODE, asset.id)
        await run_in_threadpool(session.commit)  # the asset is durable before the file is deleted
    except StorageUnavailable as exc:  # the bytes stay: an empty PATCH at the end finishes later
        UPLOADS.labels(exc.code).inc()
        raise
    except MediaError as exc:  # refused (not media...): nothing is kept, as with POST
        UPLOADS.labels(exc.code).inc()
        with contextlib.suppress(StorageUnavailable):
            await run_in_threadpool(lease.forget, store, state)
        raise
    UPLOADS.labels("created" if created else "duplicate").inc()
    state.asset_id = asset.id
    await run_in_threadpool(lease.save, asset_id=asset.id)
    with contextlib.suppress(StorageUnavailable):  # left over, the sweep removes it with the row
        await run_in_threadpool(_remove_bytes, store, state.id, None)


@router.delete("/{upload_id}", status_code=204, response_class=Response, responses=_NO_CONTENT)
def cancel(
    upload_id: str,
    caller: ProducerDep,
    db: DatabaseDep,
    store: StoreDep,
    lang: LangDep,
    tus_resumable: TusResumable = None,
) -> Response:
    """Cancel an upload (tus termination): its bytes are deleted at once."""
    if (refused := _check_version(tus_resumable, lang)) is not None:
        return refused
    lease, state = _Lease.take(db, upload_id, caller)
    try:
        lease.forget(store, state)
    finally:
        lease.release()  # when forgetting failed: the row stays, free for a retry
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
