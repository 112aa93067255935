"""Feedback (效果反馈) and demand (需求调查): a site rates programmes and asks for topics
(/api/v1/sites/{id}/ratings, /demands); administrators see them ranked (/api/v1/ratings, /api/v1/demands)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mediasrv.accounts.auth import AdminDep, ScopedRegion, SiteOrAdminDep
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, RowId
from mediasrv.sites.registry import normalise_region
from mediasrv.study import feedback
from mediasrv.study.routers.shared import kept_once, post_once
from mediasrv.study.schemas import (
    AwareTime,
    DemandBody,
    DemandOut,
    RankedDemandOut,
    RatedProgrammeOut,
    RatingIn,
    RatingOut,
)

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


@router.put("/api/v1/sites/{site_id}/ratings/{programme_id}", response_model=RatingOut)
def rate_programme(
    site_id: RowId,
    programme_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: RatingIn,
    caller: SiteOrAdminDep,
    session: SessionDep,
) -> RatingOut:
    """A site's stars and comment for a programme (效果反馈); rating again replaces it, unless the new
    one is older (queued offline)."""
    row = feedback.rate(
        session,
        caller,
        site_id,
        programme_id,
        rating=body.rating,
        comment=body.comment.strip(),
        rated_at=body.rated_at,
    )
    return RatingOut.model_validate(row)


@post_once(router, "/api/v1/sites/{site_id}/demands", DemandOut)
def request_topic(
    site_id: RowId, body: DemandBody, caller: SiteOrAdminDep, session: SessionDep, response: Response
) -> DemandOut:
    """Ask for a topic the site's members need."""
    kept = feedback.request_topic(
        session,
        caller,
        site_id,
        feedback.DemandIn(
            body.id, body.topic, body.category, body.detail.strip(), body.members, body.requested_at
        ),
    )
    return DemandOut.model_validate(kept_once(response, kept))


@router.get("/api/v1/demands", response_model=list[RankedDemandOut])
def ranked_demand(
    caller: AdminDep,
    region: ScopedRegion,
    session: SessionDep,
    category: Annotated[
        str | None, Query(max_length=32, description="a category code or its Chinese name (党史教育)")
    ] = None,
    since: Annotated[AwareTime | None, Query(description="requests since then (with UTC offset)")] = None,
    limit: Limit = 50,
) -> list[RankedDemandOut]:
    """Topics the sites under a region ask for, most members first (worded alike: counted together)."""
    rows = feedback.ranked_demand(
        session, region=normalise_region(region), category=category, since=since, limit=limit
    )
    return [RankedDemandOut(**vars(r)) for r in rows]


@router.get("/api/v1/ratings", response_model=list[RatedProgrammeOut])
def rated_programmes(
    caller: AdminDep, region: ScopedRegion, session: SessionDep, limit: Limit = 50
) -> list[RatedProgrammeOut]:
    """Programmes as the sites under a region rated them, best first."""
    rows = feedback.rated_programmes(session, region=normalise_region(region), limit=limit)
    return [RatedProgrammeOut(**vars(r)) for r in rows]
