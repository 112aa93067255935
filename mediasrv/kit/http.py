"""HTTP delivery helpers shared by every route that serves stored bytes or playlists."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Scope

from mediasrv.kit.errors import ObjectNotFound
from mediasrv.protocol.http import PLAYLIST_TYPE, Unsatisfiable, etag_matches, parse_range
from mediasrv.storage import ObjectStore

IMMUTABLE = "public, max-age=31536000, immutable"
# Immutable but for the caller alone: an answer a shared cache must not hand to someone else (a file
# list is given only to whoever may play its asset; a site only the lists its manifest names).
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"


def not_modified(request: Request, etag: str) -> bool:
    return etag_matches(request.headers.get("if-none-match"), etag)


def object_response(
    store: ObjectStore,
    key: str,
    request: Request,
    *,
    cache_control: str,
    download_name: str | None = None,
    missing: str = "kit.object_missing",  # the refusal's message key
) -> Response:
    """Serve a stored object with Range, ETag/304, HEAD and the content type the store keeps."""
    info = store.stat(key)
    if info is None:
        raise ObjectNotFound(missing)
    etag = f'"{info.etag}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Accept-Ranges": "bytes"}
    if download_name:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(download_name)}"
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("range"), info.size)
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    status, first, length = 200, 0, info.size
    if byte_range is not None:
        first, last = byte_range
        status, length = 206, last - first + 1
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=info.content_type)
    return StreamingResponse(
        store.read(key, offset=first, length=length),
        status_code=status,
        headers=headers,
        media_type=info.content_type,
    )


@dataclass(frozen=True)
class Rendered:
    """A text body made once: its ETag and its gzip form, answered many times without work."""

    gzipped: bytes
    etag: str
    media_type: str

    @classmethod
    def of(cls, text: str, *, media_type: str = PLAYLIST_TYPE) -> Rendered:
        body = text.encode("utf-8")
        # Weak: the gzip and the plain body share it (RFC 9110 wants strong tags to differ).
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(gzip.compress(body, compresslevel=6, mtime=0), etag, media_type)

    def response(self, request: Request, *, cache_control: str) -> Response:
        """304 on a matching If-None-Match; gzip when the client accepts it (nearly all do)."""
        headers = {"ETag": self.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
        if not_modified(request, self.etag):
            return Response(status_code=304, headers=headers)
        body = self.gzipped
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=self.media_type)
        return Response(body, headers=headers, media_type=self.media_type)


def playlist_response(request: Request, text: str, *, cache_control: str) -> Response:
    """A playlist with a content ETag, 304 on a match, gzip when the client accepts it."""
    return Rendered.of(text).response(request, cache_control=cache_control)


OVERRIDE_HEADER = "X-HTTP-Method-Override"
_OVERRIDE_KEY = OVERRIDE_HEADER.lower().encode()


def requested_method(scope: Scope) -> str:
    """The method a request means. tus 1.0 lets a client behind a proxy that blocks PATCH or DELETE
    send POST with X-HTTP-Method-Override naming the method (tus-js-client's overridePatchMethod).
    Only a POST is overridden: POST is as unsafe as what it stands for (the CSRF check still
    applies), whereas a GET turned into a DELETE would let a link or a prefetch cancel uploads."""
    method: str = scope["method"]
    if method == "POST":
        for name, value in scope.get("headers", ()):
            if name == _OVERRIDE_KEY:
                return bytes(value).decode("latin-1").strip().upper()
    return method
