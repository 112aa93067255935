"""Compliance with the monthly task and the required lists: a site's month (/api/v1/sites/{id}/compliance),
and for administrators every site under a region (/api/v1/compliance/sites), the roll-up by region
(/api/v1/compliance) and the same rows for Excel (/api/v1/compliance.csv, .xlsx)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteOrAdminDep
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import this_month
from mediasrv.sites.registry import get_site, normalise_region
from mediasrv.study import compliance, export
from mediasrv.study.compliance import Task
from mediasrv.study.routers.shared import Month
from mediasrv.study.schemas import ComplianceRollupOut, RegionComplianceOut, SiteComplianceOut, SiteSummaryOut

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


@router.get("/api/v1/sites/{site_id}/compliance", response_model=SiteComplianceOut)
def site_compliance(
    site_id: RowId,
    caller: SiteOrAdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
) -> SiteComplianceOut:
    """A site's month: sessions and class hours against the monthly task, and each required list."""

    get_site(session, site_id, caller=caller)
    month = month or this_month()
    task = Task.of(settings)
    (row,) = compliance.sites_compliance(session, month=month, task=task, site_ids=[site_id])
    return SiteComplianceOut.of(row, month, task)


@router.get("/api/v1/compliance/sites", response_model=Page[SiteSummaryOut])
def compliance_sites(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    task_met: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[SiteSummaryOut]:
    """Every site under a region for a month, by code; `task_met=false` lists those behind. Each
    site's lists and programmes: GET /api/v1/sites/{id}/compliance."""
    month = month or this_month()
    task = Task.of(settings)
    rows = compliance.summaries(session, month=month, task=task, region=normalise_region(region))
    if task_met is not None:
        rows = [r for r in rows if r.task_met(task) is task_met]
    page = rows[offset : offset + limit]
    return Page[SiteSummaryOut](
        items=[SiteSummaryOut.of(r, month, task) for r in page], total=len(rows), limit=limit, offset=offset
    )


@router.get("/api/v1/compliance", response_model=ComplianceRollupOut)
def compliance_rollup(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    level: Annotated[
        int | None, Query(ge=1, le=5, description="1 province ... 5 village; default one below region")
    ] = None,
) -> ComplianceRollupOut:
    """The month under a region, in total and per region below it."""
    month = month or this_month()
    task = Task.of(settings)
    region = normalise_region(region)
    total, regions = compliance.regions_compliance(
        session, month=month, task=task, region=region, level=level
    )
    return ComplianceRollupOut(
        month=month,
        region=region,
        task_sessions=task.sessions,
        task_class_hours=task.class_hours,
        class_hour_minutes=task.class_hour_minutes,
        totals=RegionComplianceOut.of(total),
        regions=[RegionComplianceOut.of(r) for r in regions],
    )


@router.get(
    "/api/v1/compliance.{fmt}",
    response_class=Response,
    responses=export.RESPONSES,
)
def compliance_export(
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="csv (UTF-8 with BOM) or xlsx")],
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
) -> Response:
    """Every site under a region for a month, one row each, for Excel: CSV or XLSX, the same columns."""
    month = month or this_month()
    task = Task.of(settings)
    place = normalise_region(region)
    table = export.rows(compliance.summaries(session, month=month, task=task, region=place), month, task)
    if fmt == "csv":
        body, media_type = export.to_csv(table), "text/csv; charset=utf-8"
    else:
        body, media_type = export.to_xlsx(table, month), export.XLSX
    headers = {"Content-Disposition": export.disposition(month, place, fmt), "Cache-Control": "no-store"}
    return Response(body, media_type=media_type, headers=headers)
