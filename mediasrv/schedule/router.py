"""/api/v1/schedule-blocks and /api/v1/schedule-settings (administrators set their regions' channel
schedules) and the week a site plays (/api/v1/sites/{id}/schedule): every view within the caller's
scope; another region's block, a wider one's included, answers 404."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteOrAdminDep
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import today_in_china
from mediasrv.schedule import service
from mediasrv.schedule.schemas import BlockIn, BlockOut, SettingsIn, SettingsOut, SiteWeekOut, Weekday
from mediasrv.sites.registry import get_site

router = APIRouter(tags=["schedule"], responses=error_responses(400, 401, 403, 404, 409, 422))


@router.get("/api/v1/schedule-blocks", response_model=Page[BlockOut])
def list_blocks(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    weekday: Annotated[Weekday | None, Query()] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Page[BlockOut]:
    """The blocks of a region and the regions under it, by region, weekday and time."""
    rows, total = service.list_blocks(session, region=region, weekday=weekday, limit=limit, offset=offset)
    return Page[BlockOut](items=[BlockOut.of(b) for b in rows], total=total, limit=limit, offset=offset)


@router.post("/api/v1/schedule-blocks", status_code=201, response_model=BlockOut)
def create_block(body: BlockIn, caller: AdminDep, session: SessionDep) -> BlockOut:
    """A weekly block of a region (none: your scope). One overlapping a block of the same region is
    refused (409, naming it); a nearer level's block wins over a wider one at the sites."""
    return BlockOut.of(service.create_block(session, actor=caller, **body.model_dump()))


@router.delete("/api/v1/schedule-blocks/{block_id}", status_code=204, response_class=Response)
def delete_block(block_id: RowId, caller: AdminDep, session: SessionDep) -> Response:
    service.delete_block(session, actor=caller, block_id=block_id)
    return Response(status_code=204)


@router.put("/api/v1/schedule-settings", response_model=SettingsOut)
def set_settings(body: SettingsIn, caller: AdminDep, session: SessionDep) -> SettingsOut:
    """What a region's channel plays outside its blocks: the optional programmes or nothing, and a
    still card. The nearest level that set them decides for a site."""
    return SettingsOut.of(service.set_settings(session, actor=caller, **body.model_dump()))


@router.get("/api/v1/sites/{site_id}/schedule", response_model=SiteWeekOut, tags=["sites"])
def site_schedule(
    site_id: RowId,
    caller: SiteOrAdminDep,
    session: SessionDep,
    on: Annotated[date | None, Query(description="the week from this day; default: today")] = None,
) -> SiteWeekOut:
    """The week a site's channel plays: its layers' blocks, layered (the nearer level's block wins
    where they overlap), what each plays, and which blocks were overridden by which, when."""
    site = get_site(session, site_id, caller=caller)
    week = service.site_week(session, site, on=on or today_in_china())
    return SiteWeekOut.of(site.id, site.code, site.region, week, service.TIMEZONE)
