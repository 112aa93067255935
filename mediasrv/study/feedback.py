"""Feedback (效果反馈) and demand (需求调查): sites rate programmes and ask for topics; administrators
see them ranked by region and category."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediasrv.catalog.models import Programme
from mediasrv.catalog.service import category_code
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import MediaError, NotFound
from mediasrv.sites.models import Site
from mediasrv.sites.registry import get_site, site_under
from mediasrv.study.models import DemandRequest, ProgrammeRating
from mediasrv.study.service import create_once, insert_once


def topic_key(topic: str) -> str:
    """Requests worded alike count together: full-width and half-width, spaces and case folded."""
    return "".join(unicodedata.normalize("NFKC", topic).casefold().split())


def rate(
    session: Session,
    caller: Caller,
    site_id: int,
    programme_id: str,
    *,
    rating: int,
    comment: str,
    rated_at: datetime,
) -> ProgrammeRating:
    get_site(session, site_id, caller=caller)
    if session.get(Programme, programme_id) is None:
        raise NotFound("study.rate_unknown_programme", programme_id=programme_id)
    row, created = insert_once(
        session,
        lambda: session.get(ProgrammeRating, (site_id, programme_id)),
        lambda: ProgrammeRating(
            site_id=site_id, programme_id=programme_id, rating=rating, comment=comment, rated_at=rated_at
        ),
    )
    # Rated twice at once, or again later: the newer wins (an older one arriving late does not).
    if not created and rated_at >= row.rated_at:
        row.rating, row.comment, row.rated_at = rating, comment, rated_at
    return row


@dataclass(frozen=True)
class DemandIn:
    id: str
    topic: str
    category: str | None
    detail: str
    members: int
    requested_at: datetime


def request_topic(
    session: Session, caller: Caller, site_id: int, body: DemandIn
) -> tuple[DemandRequest, bool]:
    """Keep a topic request (a site only its own); (row, created)."""
    get_site(session, site_id, caller=caller)

    def make() -> DemandRequest:
        topic = " ".join(unicodedata.normalize("NFKC", body.topic).split())
        if not topic:
            raise MediaError("study.topic_required")
        # A code or a Chinese name; an unknown one is refused with the names to choose from.
        category = category_code(body.category) if body.category is not None else None
        return DemandRequest(
            id=body.id,
            site_id=site_id,
            topic=topic,
            topic_key=topic_key(topic),
            category=category,
            detail=body.detail,
            members=body.members,
            requested_at=body.requested_at,
        )

    return create_once(session, DemandRequest, body.id, site_id, make, "request")


@dataclass(frozen=True)
class RankedDemand:
    topic: str  # the most common wording
    category: str | None
    sites: int
    members: int
    requests: int
    latest: datetime


def ranked_demand(
    session: Session,
    *,
    region: str = "",
    category: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[RankedDemand]:
    """Topics asked for under `region`, most members first (then most sites)."""
    query = (
        select(
            DemandRequest.topic_key,
            DemandRequest.category,
            func.min(DemandRequest.topic).label("topic"),
            func.count(func.distinct(DemandRequest.site_id)).label("sites"),
            func.sum(DemandRequest.members).label("members"),
            func.count().label("requests"),
            func.max(DemandRequest.requested_at).label("latest"),
        )
        .join(Site, Site.id == DemandRequest.site_id)
        .where(site_under(region))
        .group_by(DemandRequest.topic_key, DemandRequest.category)
    )
    if category:  # an empty one (a form's "all") filters nothing
        query = query.where(DemandRequest.category == category_code(category))
    if since is not None:
        query = query.where(DemandRequest.requested_at >= since)
    rows = session.execute(
        query.order_by(
            func.sum(DemandRequest.members).desc(),
            func.count(func.distinct(DemandRequest.site_id)).desc(),
            DemandRequest.topic_key,
        ).limit(limit)
    )
    return [
        RankedDemand(r.topic, r.category, r.sites, int(r.members or 0), r.requests, r.latest) for r in rows
    ]


@dataclass(frozen=True)
class RatedProgramme:
    programme_id: str
    title: str
    ratings: int
    average: float
    comments: list[str]


def rated_programmes(session: Session, *, region: str = "", limit: int = 50) -> list[RatedProgramme]:
    """Programmes rated by sites under `region`, best average first (ties: more ratings first)."""
    average = func.avg(ProgrammeRating.rating)
    rows = session.execute(
        select(
            ProgrammeRating.programme_id, Programme.title, func.count().label("n"), average.label("average")
        )
        .join(Site, Site.id == ProgrammeRating.site_id)
        .join(Programme, Programme.id == ProgrammeRating.programme_id)
        .where(site_under(region))
        .group_by(ProgrammeRating.programme_id, Programme.title)
        .order_by(average.desc(), func.count().desc(), ProgrammeRating.programme_id)
        .limit(limit)
    ).all()
    comments: dict[str, list[str]] = {r.programme_id: [] for r in rows}
    for pid, comment in session.execute(
        select(ProgrammeRating.programme_id, ProgrammeRating.comment)
        .join(Site, Site.id == ProgrammeRating.site_id)
        .where(
            ProgrammeRating.programme_id.in_(list(comments)),
            ProgrammeRating.comment != "",
            site_under(region),
        )
        .order_by(ProgrammeRating.rated_at.desc())
    ):
        if len(comments[pid]) < 5:
            comments[pid].append(comment)
    return [
        RatedProgramme(r.programme_id, r.title, r.n, round(float(r.average), 2), comments[r.programme_id])
        for r in rows
    ]
