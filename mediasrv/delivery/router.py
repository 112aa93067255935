"""/hls (bearer or session), /s/<signature>/hls (signed, for set-top boxes) and /api/v1/sites.

URLs: /hls/<asset>/master.m3u8 (mobile ladder), iptv.m3u8, iptv-sd.m3u8 and poster.jpg are stable and
short-lived; they point into /hls/<asset>/<generation>/..., whose bytes never change once published.
Under a signed prefix the same relative URLs keep the signature, so stored playlists need no rewriting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mediasrv.auth import AdminDep, Role, allow, signed_playback
from mediasrv.delivery import service, sites
from mediasrv.deps import SessionDep, StoreDep
from mediasrv.errors import NotFound, error_responses
from mediasrv.http import IMMUTABLE, object_response, playlist_response

MASTER_CACHE = "private, max-age=10"
_FILE = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_.-]+$")


def hls_router(prefix: str, access: Callable[..., Any]) -> APIRouter:
    """The HLS routes under `prefix`, guarded by `access` (one definition for both URL forms)."""
    router = APIRouter(
        prefix=prefix,
        tags=["hls"],
        dependencies=[Depends(access)],
        responses=error_responses(401, 403, 404, 416, 422),
    )

    def get_and_head(path: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        # One route per method, so that GET and HEAD get operation ids of their own.
        def register(endpoint: Callable[..., Response]) -> Callable[..., Response]:
            router.head(path, response_class=Response)(endpoint)
            return router.get(path, response_class=Response)(endpoint)

        return register

    @get_and_head("/{asset_id}/{presentation}.m3u8")
    def master(asset_id: str, presentation: str, request: Request, session: SessionDep) -> Response:
        """Master playlist: `master` (mobile ladder), `iptv` (set-top boxes) or `iptv-sd` (old boxes)."""
        text = service.master_playlist(session, asset_id, presentation)
        return playlist_response(request, text, cache_control=MASTER_CACHE)

    @get_and_head("/{asset_id}/poster.jpg")
    def poster(asset_id: str, request: Request, session: SessionDep, store: StoreDep) -> Response:
        key = service.poster_key(session, asset_id)
        return object_response(store, key, request, cache_control="private, max-age=300")

    @get_and_head("/{asset_id}/{generation}/{path:path}")
    def hls_file(asset_id: str, generation: str, path: str, request: Request, store: StoreDep) -> Response:
        """A media playlist or segment; immutable, Range supported, no database query."""
        if not _FILE.match(path):
            raise NotFound("No such HLS file.")
        key = service.generation_key(asset_id, generation, path)
        if path.endswith(".m3u8"):
            text = b"".join(store.read(key)).decode("utf-8")
            return playlist_response(request, text, cache_control=IMMUTABLE)
        return object_response(store, key, request, cache_control=IMMUTABLE)

    return router


hls = hls_router("/hls", allow(Role.PRODUCER, Role.ADMIN, Role.SITE))
signed_hls = hls_router("/s/{signature}/hls", signed_playback)

sites_router = APIRouter(
    prefix="/api/v1/sites", tags=["sites"], responses=error_responses(400, 401, 403, 409, 422)
)


class SiteIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, examples=["hb-xt-0012"])
    name: str = Field(min_length=1, max_length=200, examples=["西塘村党员活动室"])
    region: str = Field(default="", max_length=500, examples=["河北省/邢台市/信都区/西黄村镇/西塘村"])


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    region: str


@sites_router.post("", status_code=201, response_model=SiteOut)
def create_site(body: SiteIn, caller: AdminDep, session: SessionDep) -> SiteOut:
    """Register a terminal site; give it a token with POST /api/v1/tokens {site_id}."""
    return SiteOut.model_validate(sites.create_site(session, actor=caller, **body.model_dump()))


@sites_router.get("", response_model=list[SiteOut])
def list_sites(caller: AdminDep, session: SessionDep) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in sites.list_sites(session)]
