"""The site domain's HTTP layer: the registry (/api/v1/sites: register, import, change and list sites,
and the link a site's boxes open its channel list with), site heartbeats
(POST /api/v1/sites/{id}/heartbeat) and the fleet views for administrators (/api/v1/fleet,
/api/v1/fleet/sites, /api/v1/fleet.csv). What a site plays and caches (its playlist, channel list
and manifest) is delivery's: mediasrv.delivery.router."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from mediasrv.accounts.auth import AdminDep, SiteDep
from mediasrv.db import utcnow
from mediasrv.delivery import playlist
from mediasrv.delivery.scope import site_link_generation
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.kit.errors import MediaError, error_responses
from mediasrv.kit.i18n import Text, choose_lang, json_params
from mediasrv.kit.params import Limit, Offset, Page, RegionQuery, RowId
from mediasrv.protocol.china import today_in_china
from mediasrv.sites import fleet, registry
from mediasrv.sites.models import State
from mediasrv.sites.registry import CSV_COLUMNS, CSV_COLUMNS_ZH, normalise_region
from mediasrv.sites.schemas import (
    CellProblemOut,
    ChannelListLink,
    CountsOut,
    FleetOut,
    FleetSiteOut,
    HeartbeatAck,
    HeartbeatIn,
    RegionOut,
    RowError,
    SiteImport,
    SiteIn,
    SiteOut,
    SitePatch,
)

# --- the registry ---------------------------------------------------------------------------------

registry_router = APIRouter(
    prefix="/api/v1/sites", tags=["sites"], responses=error_responses(400, 401, 403, 404, 409, 413, 422)
)

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": f"header: {','.join(CSV_COLUMNS)} (or {','.join(CSV_COLUMNS_ZH)})",
                }
            }
        },
    }
}


@registry_router.post("", status_code=201, response_model=SiteOut)
def create_site(body: SiteIn, caller: AdminDep, session: SessionDep) -> SiteOut:
    """Register a terminal site; give it a token with POST /api/v1/tokens {site_id}."""
    return SiteOut.model_validate(registry.create_site(session, actor=caller, **body.model_dump()))


@registry_router.post("/import", response_model=SiteImport, openapi_extra=_CSV_BODY)
async def import_sites(request: Request, caller: AdminDep, session: SessionDep) -> SiteImport:
    """Register many sites from CSV (UTF-8 or GB18030), its first line naming the columns in English or
    Chinese; each bad row is reported with every problem it has and imports nothing, the good rows are
    kept."""
    data = await request.body()  # at most admission.CSV_CAP: mediasrv.admission counts it as it comes
    result = await run_in_threadpool(
        registry.import_sites, session, actor=caller, text=registry.decode_csv(data)
    )
    lang = choose_lang(request.headers, request.cookies, request.query_params)
    return SiteImport(
        created=[SiteOut.model_validate(s) for s in result.created],
        errors=[
            RowError(
                line=bad.row,
                message=bad.render(lang),
                problems=[
                    CellProblemOut(
                        column=p.column, message=p.render(lang), code=p.key, params=json_params(p.params)
                    )
                    for p in bad.problems
                ],
            )
            for bad in result.errors
        ],
    )


@registry_router.patch("/{site_id}", response_model=SiteOut)
def update_site(site_id: RowId, body: SitePatch, caller: AdminDep, session: SessionDep) -> SiteOut:
    """Change a site's name, region, device profile, quota, download window or bandwidth cap; its
    caching manifest and playlist follow at the next poll."""
    fields = body.model_dump(exclude_unset=True)
    for required in ("name", "region", "device_profile"):
        if required in fields and fields[required] is None:
            raise MediaError("sites.field_required", field=Text(f"field.{required}"))
    return SiteOut.model_validate(registry.update_site(session, actor=caller, site_id=site_id, **fields))


@registry_router.get("", response_model=list[SiteOut])
def list_sites(caller: AdminDep, session: SessionDep) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in registry.list_sites(session)]


@registry_router.get("/{site_id}/channel-list", response_model=ChannelListLink)
def channel_list_link(
    site_id: RowId, request: Request, caller: AdminDep, session: SessionDep
) -> ChannelListLink:
    """The link a site's box or VLC opens its channel list with, as it is (no header to send)."""
    site = registry.get_site(session, site_id)
    generation = site_link_generation(session, site.id)
    url = playlist.channel_list_url(str(request.base_url), request.app.state.signing_key, site.id, generation)
    return ChannelListLink(site_id=site.id, url=url)


# --- heartbeats and the fleet ---------------------------------------------------------------------

fleet_router = APIRouter(tags=["fleet"], responses=error_responses(401, 403, 422))

WindowQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=366 * 86400,
        description="seconds since the last heartbeat that still count as online; "
        "default MEDIASRV_ONLINE_WINDOW_SECONDS",
    ),
]


@fleet_router.post(
    "/api/v1/sites/{site_id}/heartbeat", response_model=HeartbeatAck, responses=error_responses(400, 404)
)
def heartbeat(
    site_id: RowId, body: HeartbeatIn, request: Request, caller: SiteDep, session: SessionDep
) -> HeartbeatAck:
    """A site's agent reports what it holds; the answer says whether a newer manifest is waiting."""
    report = fleet.Report(**body.model_dump(), address=request.client.host if request.client else "unknown")
    return HeartbeatAck.model_validate(fleet.record_heartbeat(session, caller, site_id, report))


@fleet_router.get("/api/v1/fleet", response_model=FleetOut)
def fleet_status(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    region: RegionQuery = "",
    level: Annotated[
        int | None,
        Query(ge=1, le=fleet.LEVELS, description="1 province ... 5 village; default: one below `region`"),
    ] = None,
    online_within: WindowQuery = None,
) -> FleetOut:
    """Reachability (畅通率) and sync state of the sites, in total and per region."""
    status = fleet.fleet_status(
        session,
        now=utcnow(),
        online_within_seconds=online_within or settings.online_window_seconds,
        region=region,
        level=level,
    )
    return FleetOut(
        at=status.at,
        online_within_seconds=status.online_within_seconds,
        region=status.region,
        level=status.level,
        totals=CountsOut.model_validate(status.totals),
        regions=[
            RegionOut(region=name, **CountsOut.model_validate(c).model_dump()) for name, c in status.regions
        ],
    )


@fleet_router.get("/api/v1/fleet/sites", response_model=Page[FleetSiteOut])
def fleet_sites(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    region: RegionQuery = "",
    state: State | None = None,
    online_within: WindowQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[FleetSiteOut]:
    """Each site's latest report, by region and code; filter by region and state."""
    rows, total = fleet.list_site_statuses(
        session,
        now=utcnow(),
        online_within_seconds=online_within or settings.online_window_seconds,
        region=region,
        state=state,
        limit=limit,
        offset=offset,
    )
    return Page[FleetSiteOut](
        items=[FleetSiteOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@fleet_router.get(
    "/api/v1/fleet.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def fleet_csv(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    region: RegionQuery = "",
    state: State | None = None,
    online_within: WindowQuery = None,
) -> Response:
    """Every matching site, one row each, for Excel (UTF-8 with BOM, Chinese and English headers)."""
    now = utcnow()
    data = fleet.fleet_csv(
        session,
        now=now,
        online_within_seconds=online_within or settings.online_window_seconds,
        region=region,
        state=state,
    )
    stamp = today_in_china(now).strftime("%Y%m%d")
    place = normalise_region(region).rsplit("/", 1)[-1]
    name = f"fleet-{place}-{stamp}.csv" if place else f"fleet-{stamp}.csv"
    # filename for old clients (ASCII), filename* with the region's Chinese name for the rest
    disposition = f"attachment; filename=\"fleet-{stamp}.csv\"; filename*=UTF-8''{quote(name)}"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


# One router for the app: the registry's routes, then the fleet's.
router = APIRouter()
router.include_router(registry_router)
router.include_router(fleet_router)
