"""/hls (bearer or session), /s/<signature>/hls (signed, for set-top boxes), the playback links
API (/api/v1/assets/{id}/playback), and what a site plays and caches: its playlist, its M3U channel
list and its caching manifest (below /api/v1/sites; the site registry is mediasrv.sites.router),
and the file lists manifests name (/api/v1/file-lists/<sha256>).

URLs: /hls/<asset>/master.m3u8 (mobile ladder), iptv.m3u8, iptv-sd.m3u8 and poster.jpg are stable and
short-lived; they point into /hls/<asset>/<generation>/..., whose bytes never change once published.
Under a signed prefix the same relative URLs keep the signature, so stored playlists need no rewriting.
Every one of them plays only what the caller may play (mediasrv.delivery.scope).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.accounts.auth import (
    Caller,
    Role,
    SiteLinks,
    ViewerDep,
    allow,
    current_caller,
    public,
    signed_playback,
    site_generation,
)
from mediasrv.accounts.signing import channel_list_generation, sign_playback
from mediasrv.config import Settings
from mediasrv.delivery import playlist, service
from mediasrv.delivery.manifest.build import DOCUMENT_FILE
from mediasrv.delivery.manifest.store import LRU, ManifestService
from mediasrv.delivery.scope import PlaybackScope, refusal
from mediasrv.deps import LangDep, SessionDep, SettingsDep, StoreDep
from mediasrv.ingest import service as assets
from mediasrv.ingest.schemas import AssetLinks, Playback
from mediasrv.kit.errors import NotFound, ObjectNotFound, Unauthorized, error_responses
from mediasrv.kit.http import (
    IMMUTABLE,
    PRIVATE_IMMUTABLE,
    Rendered,
    not_modified,
    object_response,
    playlist_response,
)
from mediasrv.kit.i18n import Text
from mediasrv.kit.params import RowId
from mediasrv.ops.metrics import MANIFEST_NOT_MODIFIED, MANIFEST_REQUESTS
from mediasrv.protocol import dropped
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.http import CHANNEL_LIST_TYPE
from mediasrv.protocol.viewing import AGENT_PRODUCT
from mediasrv.sites import registry
from mediasrv.sites.models import DeviceProfile, Site, SiteReport
from mediasrv.study.evidence import CentralCounter

MASTER_CACHE = "private, max-age=10"
# A superseded generation is deleted once a newer one is published; players holding an old master
# playlist find its files gone.
STALE_FILE = "delivery.stale_file"
_FILE = re.compile(r"^(?:[A-Za-z0-9_-]+/)?[A-Za-z0-9_.-]+$")  # <rendition>/<file>, or poster.jpg


async def admit_playback(request: Request, caller: Caller, asset_id: str) -> None:
    """Raise the playback scope's 404 unless `caller` may play `asset_id`: from memory, and a query
    only when memory cannot tell (then off the event loop)."""
    scope: PlaybackScope = request.app.state.playback_scope
    allowed = scope.decide(caller, asset_id)
    if allowed is None:
        allowed = await run_in_threadpool(scope.allows, caller, asset_id)
    if not allowed:
        raise refusal(asset_id)


def hls_router(prefix: str, access: Callable[..., Any]) -> APIRouter:
    """The HLS routes under `prefix`, guarded by `access` (one definition for both URL forms)."""
    the_caller = Depends(access)  # a default, not Annotated: string annotations cannot see `access`

    async def admit(request: Request, asset_id: str, caller: Caller = the_caller) -> None:
        await admit_playback(request, caller, asset_id)  # published, or the caller's department's
        request.state.caller = caller  # for viewing evidence: who is playing (hls_file)

    router = APIRouter(
        prefix=prefix,
        tags=["hls"],
        dependencies=[Depends(admit)],
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

    @get_and_head(f"/{{asset_id}}/{DOCUMENT_FILE}")
    def document(asset_id: str, request: Request, session: SessionDep, store: StoreDep) -> Response:
        """A courseware PDF (a document asset), as sites cache it; Range supported."""
        key = service.document_key(session, asset_id)
        return object_response(store, key, request, cache_control=IMMUTABLE)

    @get_and_head("/{asset_id}/{generation}/{path:path}")
    def hls_file(
        asset_id: str,
        generation: str,
        path: str,
        request: Request,
        store: StoreDep,
    ) -> Response:
        """A media playlist or segment; immutable, Range supported, no database query."""
        if not _FILE.match(path):
            raise NotFound(STALE_FILE)
        key = service.generation_key(asset_id, generation, path)
        caller: Caller = request.state.caller
        viewing = _viewing(request, caller)
        if path.endswith(".m3u8"):
            try:
                text = b"".join(store.read(key)).decode("utf-8")
            except ObjectNotFound:
                raise NotFound(STALE_FILE) from None
            if viewing is not None:
                viewing.learn(asset_id, generation, path, text)
            return playlist_response(request, text, cache_control=IMMUTABLE)
        response = object_response(store, key, request, cache_control=IMMUTABLE, missing=STALE_FILE)
        if response.status_code in (200, 206):
            note_viewing(request, caller, asset_id, generation, path)
        return response

    return router


def _viewing(request: Request, caller: Caller, method: str | None = None) -> CentralCounter | None:
    """The viewing counter when this GET is a site's player (mediasrv.study.evidence); the site
    agent downloading its cache (its User-Agent) is not viewing, nor is a HEAD."""
    if caller.site_id is None or (method or request.method) != "GET":
        return None
    if request.headers.get("user-agent", "").startswith(AGENT_PRODUCT):
        return None
    counter: CentralCounter | None = getattr(request.app.state, "viewing", None)
    return counter


def note_viewing(
    request: Request, caller: Caller, asset_id: str, generation: str, path: str, *, method: str | None = None
) -> None:
    """A segment about to reach a site's player: viewing evidence. Served here (hls_file) or from
    the edge cache (edge.hls_access, `method` the cached request's); a miss goes through both, and
    the counter keeps a set, so it counts once."""
    viewing = _viewing(request, caller, method)
    if viewing is not None and caller.site_id is not None:
        viewing.note(
            site_id=caller.site_id,
            asset_id=asset_id,
            generation=generation,
            path=path,
            address=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", ""),
        )


hls = hls_router("/hls", allow(Role.PRODUCER, Role.ADMIN, Role.SITE))
signed_hls = hls_router("/s/{signature}/hls", signed_playback)

playback_router = APIRouter(
    prefix="/api/v1/assets", tags=["assets"], responses=error_responses(401, 403, 404, 422)
)


@playback_router.get("/{asset_id}/playback", response_model=Playback)
def playback(
    asset_id: str, request: Request, caller: ViewerDep, session: SessionDep, settings: SettingsDep
) -> Playback:
    """Signed playback links for players that cannot send headers (set-top boxes, VLC, ffplay), for
    what the caller may play: sites what a published programme holds, producers that and their
    department's assets, administrators everything. Withdrawing a programme stops them too, and a
    site's stop when one of its tokens is revoked (they name its link generation)."""
    scope: PlaybackScope = request.app.state.playback_scope
    if not scope.allows(caller, asset_id):
        raise refusal(asset_id)
    asset = assets.get_asset(session, asset_id)
    links = AssetLinks.of(asset)
    if links.master is None:
        raise NotFound(
            "delivery.nothing_to_play",
            asset_id=asset_id,
            status=Text(f"delivery.status.{asset.status.value}"),
        )
    expires = int(time.time()) + settings.signed_url_seconds
    site_links: SiteLinks = request.app.state.site_links  # a site's links name its generation
    generation = site_links.generation(caller.site_id) if caller.site_id is not None else None
    prefix = "/s/" + sign_playback(
        request.app.state.signing_key,
        caller=caller,
        asset_id=asset.id,
        expires=expires,
        generation=generation,
    )
    return Playback.signed(links, prefix=prefix, expires=expires)


# What a site plays and caches, below its registry's path (the registry itself: mediasrv.sites.router).
site_delivery = APIRouter(
    prefix="/api/v1/sites", tags=["sites"], responses=error_responses(400, 401, 403, 404, 409, 413, 422)
)


class PlaylistItem(BaseModel):
    programme_id: str
    title: str
    category: str
    required: bool
    duration_seconds: float | None
    url: str = Field(description="signed: plays without credentials until it expires")
    poster_url: str | None


class SitePlaylist(BaseModel):
    site_id: int
    site_code: str
    device_profile: DeviceProfile
    on: date
    items: list[PlaylistItem]


SiteReader = Annotated[Caller, Depends(allow(Role.ADMIN, Role.SITE))]


def _playlist(
    request: Request,
    caller: Caller,
    session: Session,
    settings: Settings,
    site_id: int,
    on: date | None,
    generation: int | None = None,
) -> tuple[Site, list[playlist.Entry], date]:
    """The site's playlist, its links signed at `generation` (default: the site's current one)."""
    day = on or today_in_china()
    if generation is None:
        links: SiteLinks = request.app.state.site_links
        generation = links.generation(site_id)
    site, entries = playlist.site_playlist(
        session,
        caller=caller,
        site_id=site_id,
        on=day,
        base_url=str(request.base_url).rstrip("/"),
        key=request.app.state.signing_key,
        lifetime=playlist.list_link_seconds(settings.signed_url_seconds),
        generation=generation,
    )
    return site, entries, day


@site_delivery.get("/{site_id}/playlist", response_model=SitePlaylist)
def site_playlist(
    site_id: RowId,
    request: Request,
    caller: SiteReader,
    session: SessionDep,
    settings: SettingsDep,
    on: Annotated[date | None, Query(description="default: today (Beijing)")] = None,
) -> SitePlaylist:
    """What the site plays: today's required programmes in curated order, then optional ones. Links
    are signed for the site and hold at least a day (a box keeps its list that long)."""
    site, entries, day = _playlist(request, caller, session, settings, site_id, on)
    items = [
        PlaylistItem(
            programme_id=e.programme.id,
            title=e.programme.title,
            category=e.programme.category_code,
            required=e.required,
            duration_seconds=e.programme.duration_seconds,
            url=e.url,
            poster_url=e.poster_url,
        )
        for e in entries
    ]
    return SitePlaylist(
        site_id=site.id, site_code=site.code, device_profile=site.device_profile, on=day, items=items
    )


_site_reader = allow(Role.ADMIN, Role.SITE)


async def channel_list_access(
    request: Request,
    site_id: RowId,
    key: Annotated[
        str | None,
        Query(
            max_length=64,
            description="the site's channel-list key (GET /api/v1/sites/{id}/channel-list gives the whole "
            "link): opens the list without an Authorization header, as boxes and VLC must",
        ),
    ] = None,
) -> Caller:
    """The site's own credentials or an administrator's, as on its other routes; or its channel-list
    key, which a box or VLC keeps in the URL. A key is checked with an HMAC and the site's key
    generation, which memory keeps while no token is revoked: no query."""
    if key is None:
        try:
            caller = await current_caller(request)
        except Unauthorized as exc:  # most likely a box or VLC given the bare URL: say what they need
            raise Unauthorized(
                "delivery.channel_list_needs_link", reason=Text(exc.key, exc.params), site_id=site_id
            ) from None
        return await _site_reader(caller)
    generation = channel_list_generation(request.app.state.signing_key, key, site_id)
    if generation != await site_generation(request, site_id):
        raise Unauthorized("delivery.channel_list_link_retired")
    return Caller(role=Role.SITE, name=f"site-{site_id} channel list", via="signed", site_id=site_id)


channel_list_access.access_roles = (Role.ADMIN, Role.SITE)  # type: ignore[attr-defined]  # test_access


@site_delivery.get(
    "/{site_id}/playlist.m3u8",
    response_class=Response,
    responses={200: {"content": {CHANNEL_LIST_TYPE: {"schema": {"type": "string"}}}}},
)
async def site_channel_list(
    site_id: RowId,
    request: Request,
    caller: Annotated[Caller, Depends(channel_list_access)],
    on: Annotated[date | None, Query(description="default: today (Beijing)")] = None,
) -> Response:
    """The same as an M3U channel list that an IPTV box or VLC opens (gzip, ETag), served as
    audio/x-mpegurl: a list of programmes, not an HLS playlist (VLC gives that type to its HLS module,
    which finds nothing to play). Open it with the site's link (?key=..., no header needed). Its links
    hold at least a day and are renewed at each fetch; the list is made once per catalog change and
    hour (their expiries are rounded to the hour, so its ETag holds within the hour) and kept
    compressed: boxes poll it."""
    if caller.site_id is not None and caller.site_id != site_id:
        await run_in_threadpool(_site_for, request, site_id, caller)
    state = request.app.state
    settings: Settings = state.settings
    day = on or today_in_china()
    expires = playlist.signed_expiry(playlist.list_link_seconds(settings.signed_url_seconds))
    # The epoch is read before building: a change committed meanwhile gets a key of its own.
    epoch = state.epochs.peek(epochs.MANIFESTS)
    if epoch is None:
        epoch = await run_in_threadpool(state.epochs.get, epochs.MANIFESTS)
    # Its links name the site's link generation: a list made before a revocation is not served after.
    generation = await site_generation(request, site_id)
    key = (site_id, epoch, generation, day, expires, str(request.base_url))
    cache: LRU[tuple[Any, ...], Rendered] = state.channel_lists
    rendered = cache.get(key)
    if rendered is None:
        rendered = await run_in_threadpool(_channel_list, request, caller, settings, site_id, day, generation)
        cache.put(key, rendered)
    response = rendered.response(request, cache_control="private, max-age=60")
    MANIFEST_REQUESTS.labels("playlist", "not_modified" if response.status_code == 304 else "full").inc()
    return response


def _channel_list(
    request: Request, caller: Caller, settings: Settings, site_id: int, day: date, generation: int
) -> Rendered:
    with request.app.state.db.session_scope() as session:
        site, entries, _ = _playlist(request, caller, session, settings, site_id, day, generation)
        return Rendered.of(playlist.m3u8_channel_list(site, entries), media_type=CHANNEL_LIST_TYPE)


# --- caching manifests ------------------------------------------------------------------------


def _site_for(request: Request, site_id: int, caller: Caller) -> None:
    with request.app.state.db.session_scope() as session:
        registry.get_site(session, site_id, caller=caller)


MANIFEST_HEADERS = {
    "ETag": {"description": "the version and a digest; send it as If-None-Match to poll cheaply"},
    "X-Manifest-Version": {"description": "the site's manifest version"},
    "X-Manifest-Kind": {"description": "full, or delta (an answer to ?since=)"},
    "X-Manifest-Signature": {
        "description": "base64 Ed25519 signature of 'mediasrv-manifest-v1:' + hex SHA-256 of the "
        "uncompressed body; the public key is at /api/v1/sites/manifest-key"
    },
}


class ManifestKey(BaseModel):
    algorithm: str = "ed25519"
    public_key: str = Field(description="base64 of the 32-byte Ed25519 public key")
    signed: str = Field(description="what is signed, given the body's hex SHA-256")


@site_delivery.get("/manifest-key", response_model=ManifestKey, dependencies=[Depends(public)])
def manifest_key(request: Request) -> ManifestKey:
    """The key site agents verify manifests with (pin it when the agent is installed)."""
    manifests: ManifestService = request.app.state.manifests
    return ManifestKey(public_key=manifests.public_key, signed="mediasrv-manifest-v1:<sha256 hex>")


@site_delivery.get(
    "/{site_id}/manifest",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}, "headers": MANIFEST_HEADERS},
        304: {"description": "Not modified: the manifest is still the one with this ETag"},
        **error_responses(503),  # changed by others three times while it was built: TryAgain
    },
)
async def site_manifest(
    site_id: RowId,
    request: Request,
    caller: SiteReader,
    since: Annotated[
        int | None,
        Query(ge=0, le=2**31 - 1, description="a version the site holds: answer with what changed since"),
    ] = None,
) -> Response:
    """What the site must hold (format 2): its programmes for its device profile, each naming the file
    lists (GET /api/v1/file-lists/<sha256>) that give every file's path, size and SHA-256; required
    programmes pinned, optional ones ranked (`order`) and dropped to fit the quota. Poll with
    If-None-Match (304 when unchanged) and ?since=<your version> (a delta)."""
    # Another site's (rare), or an administrator's (a site outside its scope is 404): as get_site does.
    # A site polling its own costs no query.
    if caller.site_id != site_id:
        await run_in_threadpool(_site_for, request, site_id, caller)
    manifests: ManifestService = request.app.state.manifests
    today = today_in_china()
    current = manifests.cached(site_id, today)
    if current is None:  # changed, or not known to this process yet: check and build off the loop
        current = await run_in_threadpool(manifests.current, site_id, today)
    headers = {
        "ETag": current.etag,
        "X-Manifest-Version": str(current.version),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
    }
    if not_modified(request, current.etag):
        MANIFEST_NOT_MODIFIED.inc()
        return Response(status_code=304, headers=headers)
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    if since is None:
        body = await run_in_threadpool(manifests.body, current, gzip=gzip)
    else:
        body = await run_in_threadpool(manifests.delta, current, since, gzip=gzip)
    MANIFEST_REQUESTS.labels("manifest", body.kind).inc()
    headers |= {"X-Manifest-Kind": body.kind, "X-Manifest-Signature": body.signature}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(b"".join(body.parts), headers=headers, media_type="application/json")


class LeftOutItem(BaseModel):
    id: str
    title: str
    required: bool
    bytes: int
    code: str = Field(description="over_quota | no_rendition; other for an entry of an older manifest")
    message: str = Field(description="what happened, in the caller's language (protocol.dropped)")
    advice: str = Field(description="what an administrator can do about it")
    need: int | None = Field(None, description="over_quota: the bytes the programme would add")
    left: int | None = Field(None, description="over_quota: the bytes the quota has left for it")
    quota: int | None = None
    kind: str | None = Field(None, description="no_rendition: video, audio, document or missing")
    profile: str | None = None


class LeftOut(BaseModel):
    site_id: int
    version: int
    quota_bytes: int | None
    bytes: int
    pinned_bytes: int
    over_quota: bool
    usage: str = Field(description="the quota against what the manifest holds, in the caller's language")
    over_quota_message: str | None = Field(description="the required programmes alone do not fit")
    over_quota_advice: str | None
    items: list[LeftOutItem] = Field(description="required ones first, then by title")


def _free_bytes(request: Request, site_id: int) -> int | None:
    """The free disk space the site's agent last reported (whether a larger quota fits), or None."""
    with request.app.state.db.session_scope() as session:
        report = session.get(SiteReport, site_id)
        return report.free_bytes if report is not None else None


@site_delivery.get("/{site_id}/dropped", response_model=LeftOut, responses=error_responses(503))
async def site_left_out(site_id: RowId, request: Request, caller: SiteReader, lang: LangDep) -> LeftOut:
    """What the site's current manifest leaves out (its `dropped` entries) and why, each said in the
    caller's language with what an administrator can do: raise the quota, or nothing (the device
    profile cannot play it)."""
    if caller.site_id != site_id:
        await run_in_threadpool(_site_for, request, site_id, caller)
    manifests: ManifestService = request.app.state.manifests
    today = today_in_china()
    current = manifests.cached(site_id, today)
    if current is None:
        current = await run_in_threadpool(manifests.current, site_id, today)
    doc = await run_in_threadpool(manifests.left_out, current)
    free = await run_in_threadpool(_free_bytes, request, site_id)
    entries = sorted(doc["dropped"] or [], key=lambda d: (not d.get("required"), d.get("title") or ""))
    items = [
        LeftOutItem(
            **{k: d.get(k) for k in ("id", "title", "required", "need", "left", "quota", "kind", "profile")},
            bytes=d.get("bytes") or 0,
            code=dropped.code_of(d),
            message=dropped.line(d, lang),
            advice=dropped.advice(d, "county", lang),
        )
        for d in entries
    ]
    over = doc["quota_bytes"] is not None and bool(doc["over_quota"])
    said = dropped.required_over(doc["pinned_bytes"], doc["quota_bytes"], "county", lang) if over else None
    return LeftOut(
        site_id=site_id,
        version=current.version,
        quota_bytes=doc["quota_bytes"],
        bytes=doc["bytes"],
        pinned_bytes=doc["pinned_bytes"],
        over_quota=bool(doc["over_quota"]),
        usage=dropped.usage(doc["bytes"], doc["pinned_bytes"], doc["quota_bytes"], free, lang),
        over_quota_message=said[0] if said else None,
        over_quota_advice=said[1] if said else None,
        items=items,
    )


# --- file lists -------------------------------------------------------------------------------

file_lists = APIRouter(
    prefix="/api/v1/file-lists", tags=["sites"], responses=error_responses(401, 403, 404, 422)
)
ListReader = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN, Role.SITE))]  # as /hls


@file_lists.get(
    "/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def file_list(
    sha256: Annotated[
        str, Path(pattern="^[0-9a-f]{64}$", description="the list's SHA-256, as a manifest names it")
    ],
    request: Request,
    caller: ListReader,
) -> Response:
    """One published asset's files for one presentation (path, size, SHA-256), as the site manifests
    name it: immutable, so the caller keeps it forever (private: no shared cache may answer another
    caller with it). The caller must be able to play the asset, as on /hls; a site, moreover, only
    fetches lists its current manifest names (another region's programmes stay its own). Anything
    else is the same 404 as a list that does not exist."""
    manifests: ManifestService = request.app.state.manifests
    found = await run_in_threadpool(manifests.file_list, sha256)
    missing = NotFound("delivery.no_file_list", sha256=sha256)
    if found is None:
        raise missing
    if caller.site_id is not None:
        today = today_in_china()
        current = manifests.cached(caller.site_id, today)
        if current is None:
            current = await run_in_threadpool(manifests.current, caller.site_id, today)
        if sha256 not in await run_in_threadpool(manifests.named_lists, current):
            raise missing
    await admit_playback(request, caller, found.asset_id)
    MANIFEST_REQUESTS.labels("file_list", "full").inc()
    rendered = Rendered(found.gzipped, found.etag, "application/json")
    return rendered.response(request, cache_control=PRIVATE_IMMUTABLE)
