"""Heartbeats (POST /api/v1/sites/{id}/heartbeat) and the fleet views for administrators
(/api/v1/fleet, /api/v1/fleet/sites, /api/v1/fleet.csv)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteDep
from mediasrv.db import utcnow
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.faults.register import open_by_kind, open_by_region
from mediasrv.faults.service import site_faults
from mediasrv.fleet import status as fleet
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import today_in_china
from mediasrv.sites.models import State
from mediasrv.sites.registry import CSV_COLUMNS, CSV_COLUMNS_ZH, normalise_region
from mediasrv.sites.schemas import (
    CountsOut,
    FleetOut,
    FleetSiteOut,
    HeartbeatAck,
    HeartbeatIn,
    RegionOut,
    SiteFaultOut,
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


# --- heartbeats and the fleet ---------------------------------------------------------------------

fleet_router = APIRouter(tags=["fleet"], responses=error_responses(401, 403, 404, 422))

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
    """A site's agent reports what it holds; the answer says whether a newer manifest is waiting, and
    what became of the faults reported for the site (its site view shows it)."""
    report = fleet.Report(**body.model_dump(), address=request.client.host if request.client else "unknown")
    ack = HeartbeatAck.model_validate(fleet.record_heartbeat(session, caller, site_id, report))
    ack.faults = [SiteFaultOut.model_validate(f) for f in site_faults(session, site_id, now=ack.server_time)]
    return ack


@fleet_router.get("/api/v1/fleet", response_model=FleetOut)
def fleet_status(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
    level: Annotated[
        int | None,
        Query(ge=1, le=fleet.LEVELS, description="1 province ... 5 village; default: one below `region`"),
    ] = None,
    online_within: WindowQuery = None,
) -> FleetOut:
    """Reachability (畅通率), sync state and fault rate (故障率) of the sites, in total and per region."""
    status = fleet.fleet_status(
        session,
        now=utcnow(),
        online_within_seconds=online_within or settings.online_window_seconds,
        region=region,
        level=level,
    )
    # The fault rate beside the reachability rate: sites with an open fault, by the same regions.
    faulty, per_region = open_by_region(session, region=status.region, level=status.level)

    def counts(c: fleet.Counts, n: int) -> dict[str, Any]:
        out = CountsOut.model_validate(c).model_dump()
        return out | {"faulty": n, "fault_percent": fleet.percent(n, c.sites)}

    return FleetOut(
        at=status.at,
        online_within_seconds=status.online_within_seconds,
        region=status.region,
        level=status.level,
        totals=CountsOut(**counts(status.totals, faulty)),
        regions=[RegionOut(region=name, **counts(c, per_region.get(name, 0))) for name, c in status.regions],
        open_faults=open_by_kind(session, region=status.region),
    )


@fleet_router.get("/api/v1/fleet/sites", response_model=Page[FleetSiteOut])
def fleet_sites(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
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
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
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


router = fleet_router
