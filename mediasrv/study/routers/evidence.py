"""/api/v1/sites/{id}/viewing: the automatic viewing evidence, sent by the site's agent and read per day."""

from __future__ import annotations

from fastapi import APIRouter

from mediasrv.accounts.auth import SiteDep, SiteOrAdminDep
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import Forbidden, error_responses
from mediasrv.kit.params import RowId
from mediasrv.protocol.china import this_month
from mediasrv.sites.registry import get_site
from mediasrv.study import compliance, evidence
from mediasrv.study.routers.shared import Month
from mediasrv.study.schemas import DailyViewingOut, ViewingAck, ViewingIn

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


@router.post("/api/v1/sites/{site_id}/viewing", response_model=ViewingAck)
def report_viewing(site_id: RowId, body: ViewingIn, caller: SiteDep, session: SessionDep) -> ViewingAck:
    """Viewing evidence counted by the site's agent: segments served to its players. Idempotent:
    segments are merged as a set, so a batch sent again changes nothing. A site posts only its own."""

    get_site(session, site_id, caller=caller)  # 404 for no such site
    if caller.site_id != site_id:
        raise Forbidden("study.viewing_own_site_only")
    done = evidence.record(
        session,
        site_id,
        evidence.Source.AGENT,
        (evidence.View(v.programme_id, v.day, v.player, dict(v.segments)) for v in body.views),
    )
    return ViewingAck(views=done.views, added=done.added, unknown=done.unknown)


@router.get("/api/v1/sites/{site_id}/viewing", response_model=list[DailyViewingOut])
def site_viewing(
    site_id: RowId, caller: SiteOrAdminDep, session: SessionDep, month: Month | None = None
) -> list[DailyViewingOut]:
    """A site's automatic viewing evidence per day, programme and source (agent, central) in a month
    (default: this month)."""

    get_site(session, site_id, caller=caller)
    first, last = compliance.month_bounds(month or this_month())
    return [DailyViewingOut(**vars(d)) for d in evidence.daily(session, site_id, first=first, last=last)]
