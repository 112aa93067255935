"""/hls: master playlists built from the catalog, and immutable generation-scoped files from storage.

URLs: /hls/<asset>/master.m3u8 (mobile ladder), iptv.m3u8, iptv-sd.m3u8 and poster.jpg are stable and
short-lived; they point into /hls/<asset>/<generation>/..., whose bytes never change once published.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request, Response

from mediasrv.auth import public
from mediasrv.delivery import service
from mediasrv.deps import SessionDep, StoreDep
from mediasrv.errors import NotFound
from mediasrv.http import IMMUTABLE, object_response, playlist_response

router = APIRouter(prefix="/hls", tags=["hls"], dependencies=[Depends(public)])

MASTER_CACHE = "public, max-age=10"
_FILE = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_.-]+$")


@router.api_route("/{asset_id}/{presentation}.m3u8", methods=["GET", "HEAD"], response_class=Response)
def master(asset_id: str, presentation: str, request: Request, session: SessionDep) -> Response:
    """Master playlist: `master` (mobile ladder), `iptv` (set-top boxes) or `iptv-sd` (old boxes)."""
    text = service.master_playlist(session, asset_id, presentation)
    return playlist_response(request, text, cache_control=MASTER_CACHE)


@router.api_route("/{asset_id}/poster.jpg", methods=["GET", "HEAD"], response_class=Response)
def poster(asset_id: str, request: Request, session: SessionDep, store: StoreDep) -> Response:
    key = service.poster_key(session, asset_id)
    return object_response(store, key, request, cache_control="public, max-age=300")


@router.api_route("/{asset_id}/{generation}/{path:path}", methods=["GET", "HEAD"], response_class=Response)
def hls_file(
    asset_id: str, generation: str, path: str, request: Request, session: SessionDep, store: StoreDep
) -> Response:
    """A media playlist or segment of the published generation; immutable, Range supported."""
    if not _FILE.match(path):
        raise NotFound("No such HLS file.")
    key = service.published_key(session, asset_id, generation, path)
    if path.endswith(".m3u8"):
        text = b"".join(store.read(key)).decode("utf-8")
        return playlist_response(request, text, cache_control=IMMUTABLE)
    return object_response(store, key, request, cache_control=IMMUTABLE)
