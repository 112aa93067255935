"""Faults for administrators: the open faults (/api/v1/faults, per site /api/v1/sites/{id}/faults), a
fault reported by phone and its closing, the fault register by region and month (JSON, CSV, XLSX), and
each region's contacts and limits. Every view within the caller's scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteDep
from mediasrv.db import utcnow
from mediasrv.deps import LangDep, SessionDep, SettingsDep
from mediasrv.faults import register as reg
from mediasrv.faults import service
from mediasrv.faults.models import FaultKind
from mediasrv.faults.schemas import (
    ContactIn,
    ContactOut,
    FaultCloseIn,
    FaultIn,
    FaultOut,
    LimitsIn,
    LimitsOut,
    RegisterOut,
    RegisterRowOut,
    SiteFaultAck,
    SiteFaultIn,
)
from mediasrv.fleet.status import LEVELS
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import this_month
from mediasrv.sites.registry import get_site
from mediasrv.study import export
from mediasrv.study.routers.shared import Month

router = APIRouter(tags=["faults"], responses=error_responses(400, 401, 403, 404, 409, 422))

OpenOnly = Annotated[bool, Query(description="open faults only (default); false: closed ones too")]


@router.get("/api/v1/faults", response_model=Page[FaultOut])
def list_faults(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    lang: LangDep,
    kind: FaultKind | None = None,
    open_only: OpenOnly = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[FaultOut]:
    """The faults of the sites under a region, by region and site (open ones unless asked)."""
    rows, total = service.list_faults(
        session, region=region, kind=kind, open_only=open_only, limit=limit, offset=offset
    )
    return Page[FaultOut](items=[FaultOut.of(r, lang) for r in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/api/v1/faults",
    status_code=201,
    response_model=FaultOut,
    responses={200: {"model": FaultOut, "description": "Already open: the note joins that fault"}},
)
def report_fault(
    body: FaultIn, caller: AdminDep, session: SessionDep, lang: LangDep, response: Response
) -> FaultOut:
    """Record a fault someone reported (a phone call): site, kind, note. It stays open until a person
    closes it with a note."""
    fault, created = service.report_fault(
        session, actor=caller, site_id=body.site_id, kind=body.kind, note=body.note.strip(), now=utcnow()
    )
    if not created:
        response.status_code = 200
    return FaultOut.of(service.get_fault(session, fault.id, caller=caller), lang)


@router.post(
    "/api/v1/sites/{site_id}/fault-reports",
    status_code=201,
    response_model=SiteFaultAck,
    responses={200: {"model": SiteFaultAck, "description": "This report had been received already"}},
)
def site_fault_report(
    site_id: RowId, body: SiteFaultIn, caller: SiteDep, session: SessionDep, response: Response
) -> SiteFaultAck:
    """A fault the site reported from its site view, delivered by its agent (queued while the line
    was down). It joins the site's open fault of that kind, or opens one; a report delivered again
    (by its id) changes nothing. A site reports for itself only."""
    report = service.SiteReport(body.id, body.kind, body.note.strip(), body.reported_at)
    row, first = service.receive_site_report(
        session, caller=caller, site_id=site_id, report=report, now=utcnow()
    )
    if not first:
        response.status_code = 200
    received = service.report_received(session, site_id, body.id)
    f = row.fault
    return SiteFaultAck(
        fault_id=f.id, kind=f.kind, opened_at=f.opened_at, closed_at=f.closed_at, received_at=received,
        first=first,
    )  # fmt: skip


@router.get("/api/v1/faults/{fault_id}", response_model=FaultOut)
def get_fault(fault_id: RowId, caller: AdminDep, session: SessionDep, lang: LangDep) -> FaultOut:
    return FaultOut.of(service.get_fault(session, fault_id, caller=caller), lang)


@router.post("/api/v1/faults/{fault_id}/close", response_model=FaultOut)
def close_fault(
    fault_id: RowId, body: FaultCloseIn, caller: AdminDep, session: SessionDep, lang: LangDep
) -> FaultOut:
    """Close a reported fault, saying what was done (detected faults close by themselves)."""
    row = service.close_fault(session, actor=caller, fault_id=fault_id, note=body.note.strip(), now=utcnow())
    return FaultOut.of(row, lang)


@router.get("/api/v1/sites/{site_id}/faults", response_model=Page[FaultOut])
def site_faults(
    site_id: RowId,
    caller: AdminDep,
    session: SessionDep,
    lang: LangDep,
    open_only: OpenOnly = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[FaultOut]:
    """One site's faults, newest first (open ones unless asked)."""
    site = get_site(session, site_id, caller=caller)
    rows, total = service.list_faults(
        session, region=site.region, site_id=site.id, open_only=open_only, limit=limit, offset=offset
    )
    return Page[FaultOut](items=[FaultOut.of(r, lang) for r in rows], total=total, limit=limit, offset=offset)


LevelQuery = Annotated[
    int | None, Query(ge=1, le=LEVELS, description="1 province ... 5 village; default one below region")
]


@router.get("/api/v1/fault-register", response_model=RegisterOut)
def fault_register(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    month: Month | None = None,
    level: LevelQuery = None,
) -> RegisterOut:
    """The month's faults under a region, in total and per region below it: opened, closed, open,
    time to repair (mean, 90th percentile) and the fault rate (sites with a fault / sites)."""
    r = reg.register(session, month=month or this_month(), region=region, level=level, now=utcnow())
    return RegisterOut(
        month=r.month, region=r.region, level=r.level, totals=RegisterRowOut.of(r.totals),
        regions=[RegisterRowOut.of(x) for x in r.regions],
    )  # fmt: skip


@router.get(
    "/api/v1/fault-register.{fmt}",
    response_class=Response,
    responses=export.RESPONSES,
)
def fault_register_export(
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="csv (UTF-8 with BOM) or xlsx")],
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    month: Month | None = None,
    level: LevelQuery = None,
) -> Response:
    """The fault register for Excel, one row per region and a total: CSV or XLSX, the same columns."""
    month = month or this_month()
    table = reg.table(reg.register(session, month=month, region=region, level=level, now=utcnow()))
    if fmt == "csv":
        body, media_type = export.to_csv(table, reg.HEADER), "text/csv; charset=utf-8"
    else:
        body = export.to_xlsx(table, month, header=reg.HEADER, widths=reg.WIDTHS, title="故障登记")
        media_type = export.XLSX
    headers = {"Content-Disposition": reg.disposition(month, region, fmt), "Cache-Control": "no-store"}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/api/v1/fault-contacts", response_model=list[ContactOut])
def list_contacts(caller: AdminDep, region: ScopedRegion, session: SessionDep) -> list[ContactOut]:
    """The contacts of the regions under a region, each with the notices still waiting for it."""
    return [ContactOut.of(r) for r in service.list_contacts(session, region=region)]


@router.post("/api/v1/fault-contacts", status_code=201, response_model=ContactOut)
def add_contact(body: ContactIn, caller: AdminDep, session: SessionDep, settings: SettingsDep) -> ContactOut:
    """Who hears of a region's faults: an email address or a webhook URL (not one that reaches a
    loopback, private, link-local or metadata address, unless MEDIASRV_FAULT_WEBHOOK_INTERNAL)."""
    contact = service.add_contact(
        session, actor=caller, region=body.region, email=body.email, webhook=body.webhook, name=body.name,
        internal_ok=settings.fault_webhook_internal,
    )  # fmt: skip
    return ContactOut.of(service.ContactRow(contact, 0, ""))


@router.delete("/api/v1/fault-contacts/{contact_id}", status_code=204, response_class=Response)
def remove_contact(contact_id: RowId, caller: AdminDep, session: SessionDep) -> Response:
    service.remove_contact(session, actor=caller, contact_id=contact_id)
    return Response(status_code=204)


@router.get("/api/v1/fault-limits", response_model=list[LimitsOut])
def list_limits(caller: AdminDep, region: ScopedRegion, session: SessionDep) -> list[LimitsOut]:
    """The limits regions under a region set (the others: the region above, else the default)."""
    return [LimitsOut.model_validate(r) for r in service.list_limits(session, region=region)]


@router.post("/api/v1/fault-limits", status_code=201, response_model=LimitsOut)
def set_limits(body: LimitsIn, caller: AdminDep, session: SessionDep) -> LimitsOut:
    """A region's limits: hours silent before a site has a fault, hours open before it escalates."""
    row = service.set_limits(
        session,
        actor=caller,
        region=body.region,
        silent_hours=body.silent_hours,
        escalate_hours=body.escalate_hours,
    )
    return LimitsOut.model_validate(row)
