"""The question an edge cache (deploy/nginx/mediasrv.conf) asks before it serves an HLS file.

nginx keys its cache on the path after `hls/` alone, so that every site shares one copy of a segment;
the credential is therefore checked here, on every request, hits included (`auth_request`). nginx
sends the caller's Authorization header and, as X-Original-URI, the normalised path it will key and
fetch (not the raw request line, whose "/../" it would resolve differently), and as
X-Original-Method the request's method; never a body.
The answer is only the status: 204 may read it, 401 no or bad credentials, 403 not allowed, which
includes an asset outside the caller's playback scope (mediasrv.delivery.scope: a withdrawn or
unpublished programme for a site, another department's draft for a producer), as /hls answers 404.
The scope is kept in memory per manifest epoch, so a withdrawal stops cache hits within seconds.

A cache hit never reaches /hls, so this is also where a segment served to a site's player counts as
viewing evidence (mediasrv.study.evidence), as /hls counts the ones it serves itself.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Request, Response

from mediasrv.accounts.auth import Caller, Role, allow, current_caller, signed_playback
from mediasrv.delivery.router import admit_playback, note_viewing
from mediasrv.kit.errors import Forbidden, MediaError, NotFound, error_responses

ORIGINAL_URI = "X-Original-URI"
ORIGINAL_METHOD = "X-Original-Method"
_SIGNED = re.compile(r"^/s/(?P<signature>[^/]+)/hls/(?P<asset_id>[^/]+)/")
_BEARER = re.compile(r"^/hls/(?P<asset_id>[^/]+)/")
_FILE = re.compile(r"^(?:/s/[^/]+)?/hls/(?P<asset_id>[^/]+)/(?P<generation>[^/]+)/(?P<path>.+)$")
_VIEWERS = (Role.PRODUCER, Role.ADMIN, Role.SITE)
_viewer = allow(*_VIEWERS)  # the very check the /hls routes make

router = APIRouter(prefix="/api/v1/edge", tags=["edge"], responses=error_responses(400, 401, 403))


async def hls_access(
    request: Request,
    original_uri: Annotated[
        str | None, Header(alias=ORIGINAL_URI, description="the path nginx is about to serve")
    ] = None,
) -> Caller:
    """A signed path is judged by its signature alone, without the database, as /s/.../hls does;
    anything else needs a viewer's credentials, as /hls does, and must be an /hls path. Either way the
    asset must be in the caller's playback scope, as /hls checks (nginx: 403, since it turns a 404
    into a 500)."""
    # Decoded once, as the router decodes the path it matches: both must see the same asset.
    path = unquote(original_uri.partition("?")[0]) if original_uri else ""
    if {".", ".."} & set(path.split("/")):  # /s/<mine>/hls/<mine>/../<theirs>/: nginx resolves these
        raise Forbidden("delivery.edge_path_not_normalised", header=ORIGINAL_URI)
    if signed := _SIGNED.match(path):
        caller = await signed_playback(request, signed["signature"], signed["asset_id"])
        asset_id = signed["asset_id"]
    else:
        caller = await _viewer(await current_caller(request))
        if original_uri is None:  # nginx is misconfigured; it turns any status but 2xx/401/403 into a 500
            raise MediaError("delivery.edge_header_missing", header=ORIGINAL_URI)
        bearer = _BEARER.match(path)
        if bearer is None:
            raise Forbidden("delivery.edge_not_hls", header=ORIGINAL_URI)
        asset_id = bearer["asset_id"]
    try:
        await admit_playback(request, caller, asset_id)
    except NotFound as exc:
        raise Forbidden(exc.key, **exc.params) from None
    return caller


# The callers are viewers, or whoever holds a signed link (who needs no role): read by test_access.
hls_access.access_roles = _VIEWERS  # type: ignore[attr-defined]


@router.get("/hls-access", status_code=204, response_class=Response)
async def edge_hls_access(
    request: Request,
    caller: Annotated[Caller, Depends(hls_access)],
    original_method: Annotated[
        str, Header(alias=ORIGINAL_METHOD, description="the method of the request nginx serves")
    ] = "GET",
) -> Response:
    """May this caller read the HLS file at X-Original-URI? 204 yes, 401/403 no (nginx auth_request).
    Cheap: a signed path costs an HMAC, a bearer token a cache lookup, neither reads the file."""
    path = unquote(request.headers.get(ORIGINAL_URI, "").partition("?")[0])
    if found := _FILE.match(path):
        note_viewing(
            request, caller, found["asset_id"], found["generation"], found["path"], method=original_method
        )
    return Response(status_code=204)
