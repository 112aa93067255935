"""Site heartbeats (POST /api/v1/sites/{id}/heartbeat) and the fleet views for administrators
(/api/v1/fleet, /api/v1/fleet/sites, /api/v1/fleet.csv)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from mediasrv.accounts.auth import AdminDep, SiteDep
from mediasrv.db import utcnow
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import MAX_INT64, Limit, Offset, Page, RegionQuery, RowId
from mediasrv.protocol.china import today_in_china
from mediasrv.sites import fleet
from mediasrv.sites.fleet import MAX_FAILED_SAMPLE, Counts, State
from mediasrv.sites.registry import normalise_region

router = APIRouter(tags=["fleet"], responses=error_responses(401, 403, 422))

MAX_INT32 = 2**31 - 1  # INTEGER columns; larger numbers are refused (422), not left to overflow (500)
# Agents are machines; a control character in what they send is a bug, and it would end up in Excel.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
FailedPath = Annotated[str, Field(min_length=1, max_length=1024, pattern=_PRINTABLE)]


class HeartbeatIn(BaseModel):
    """What the sync agent reports after each run. Unknown fields are ignored so that newer agents
    can report more without being refused by an older server."""

    manifest_version: int | None = Field(
        ge=0, le=MAX_INT32, description="the manifest version the site has applied; null: none yet"
    )
    bytes_missing: int = Field(ge=0, le=MAX_INT64, description="bytes the manifest lists that it lacks")
    files_missing: int = Field(ge=0, le=MAX_INT32)
    files_failed: int = Field(ge=0, le=MAX_INT32, description="files whose download or check failed")
    failed_paths: list[FailedPath] = Field(
        default_factory=list,
        max_length=MAX_FAILED_SAMPLE,
        description=f"a sample of the failing paths, at most {MAX_FAILED_SAMPLE}",
    )
    free_bytes: int | None = Field(default=None, ge=0, le=MAX_INT64, description="free space on the disk")
    used_bytes: int | None = Field(default=None, ge=0, le=MAX_INT64, description="space the cache takes")
    agent_version: str = Field(min_length=1, max_length=64, pattern=_PRINTABLE, examples=["1.4.2"])
    report_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="unique per report: a copy resent after a lost answer is acknowledged, not counted again",
    )
    observed_at: AwareDatetime | None = Field(
        default=None,
        description="when the agent made the report (default: on arrival); an older report never replaces "
        "a newer one",
    )

    @field_validator("observed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("observed_at is out of range") from None


class HeartbeatAck(BaseModel):
    site_id: int
    current_version: int | None = Field(description="the site's current manifest version; null: none yet")
    in_sync: bool = Field(description="applied the current version and lacks nothing")
    server_time: datetime
    counted: bool = Field(
        description=f"false: a report id already received, or observed over {fleet.RECEIPT_DAYS} days ago"
    )


class CountsOut(BaseModel):
    sites: int
    online: int = Field(description="reported within the online window")
    stale: int = Field(description="reported, but not within the window")
    never_seen: int
    in_sync: int
    over_quota: int
    reachable_percent: float | None = Field(
        description="online / sites in percent, one decimal (畅通率); null: no sites"
    )
    sync_percent: float | None = Field(description="in_sync / sites in percent, one decimal; null: no sites")


class RegionOut(CountsOut):
    region: str = Field(description="region path cut to `level` parts; '' for sites without a region")


class FleetOut(BaseModel):
    at: datetime
    online_within_seconds: int
    region: str
    level: int
    totals: CountsOut
    regions: list[RegionOut]


class FleetSiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: int
    code: str
    name: str
    region: str
    state: State
    last_seen_at: datetime | None
    current_version: int | None
    applied_version: int | None
    in_sync: bool
    over_quota: bool
    bytes_missing: int | None
    files_missing: int | None
    files_failed: int | None
    failed_paths: list[str]
    free_bytes: int | None
    used_bytes: int | None
    quota_bytes: int | None
    agent_version: str | None
    address: str | None
    observed_at: datetime | None = Field(description="when the agent made its latest report")
    heartbeats_today: int = Field(description="reports counted today (Beijing day)")


def _counts(c: Counts) -> dict[str, int | float | None]:
    return {
        "sites": c.sites,
        "online": c.online,
        "stale": c.stale,
        "never_seen": c.never_seen,
        "in_sync": c.in_sync,
        "over_quota": c.over_quota,
        "reachable_percent": c.reachable_percent,
        "sync_percent": c.sync_percent,
    }


WindowQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=366 * 86400,
        description="seconds since the last heartbeat that still count as online; "
        "default MEDIASRV_ONLINE_WINDOW_SECONDS",
    ),
]


@router.post(
    "/api/v1/sites/{site_id}/heartbeat", response_model=HeartbeatAck, responses=error_responses(400, 404)
)
def heartbeat(
    site_id: RowId, body: HeartbeatIn, request: Request, caller: SiteDep, session: SessionDep
) -> HeartbeatAck:
    """A site's agent reports what it holds; the answer says whether a newer manifest is waiting."""
    report = fleet.Report(**body.model_dump(), address=request.client.host if request.client else "unknown")
    ack = fleet.record_heartbeat(session, caller, site_id, report)
    return HeartbeatAck(
        site_id=ack.site_id,
        current_version=ack.current_version,
        in_sync=ack.in_sync,
        server_time=ack.server_time,
        counted=ack.counted,
    )


@router.get("/api/v1/fleet", response_model=FleetOut)
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
        totals=CountsOut(**_counts(status.totals)),
        regions=[RegionOut(region=name, **_counts(c)) for name, c in status.regions],
    )


@router.get("/api/v1/fleet/sites", response_model=Page[FleetSiteOut])
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


@router.get(
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
