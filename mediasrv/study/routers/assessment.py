"""Site assessment (星级站点): a site's score and stars for a month (/api/v1/sites/{id}/assessment) and,
for administrators, every site under a region (/api/v1/assessment)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.orm import Session

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteOrAdminDep
from mediasrv.config import Settings
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import this_month, today_in_china
from mediasrv.sites.registry import get_site, normalise_region
from mediasrv.study import assessment
from mediasrv.study.compliance import Task
from mediasrv.study.routers.shared import Month
from mediasrv.study.schemas import AssessmentOut

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


class AssessmentPage(Page[AssessmentOut]):  # here, not in study.schemas: Page lives beside FastAPI's Query
    month: str
    stars: dict[int, int] = Field(description="how many sites have each number of stars")


def _assess(
    session: Session,
    settings: Settings,
    month: str | None,
    *,
    region: str = "",
    site_ids: list[int] | None = None,
) -> list[assessment.Assessment]:
    return assessment.assess(
        session,
        month=month or this_month(),
        task=Task.of(settings),
        weights=settings.assessment_shares,
        feedback_target=settings.feedback_target,
        today=today_in_china(),
        region=region,
        site_ids=site_ids,
    )


@router.get("/api/v1/sites/{site_id}/assessment", response_model=AssessmentOut)
def site_assessment(
    site_id: RowId,
    caller: SiteOrAdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
) -> AssessmentOut:
    """A site's score and stars for a month (星级评定), with every input behind them."""
    get_site(session, site_id, caller=caller)
    (row,) = _assess(session, settings, month, site_ids=[site_id])
    return AssessmentOut.of(row)


@router.get("/api/v1/assessment", response_model=AssessmentPage)
def assessments(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    stars: Annotated[int | None, Query(ge=1, le=5, description="only sites with this many stars")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> AssessmentPage:
    """The sites under a region, best score first, and how many have each number of stars."""
    month = month or this_month()
    rows = sorted(
        _assess(session, settings, month, region=normalise_region(region)), key=lambda a: (-a.score, a.code)
    )
    counts = {n: 0 for n in range(1, 6)}
    for a in rows:
        counts[a.stars] += 1
    if stars is not None:
        rows = [a for a in rows if a.stars == stars]
    return AssessmentPage(
        items=[AssessmentOut.of(a) for a in rows[offset : offset + limit]],
        total=len(rows),
        limit=limit,
        offset=offset,
        month=month,
        stars=counts,
    )
