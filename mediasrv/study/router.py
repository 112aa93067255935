"""Study records over HTTP. A site writes and reads its own (its token), administrators everyone's:
sessions and photos, viewing evidence (the site's agent only), ratings and topic requests, a site's
compliance and assessment. Administrators alone see the roll-ups: /api/v1/compliance (and per site,
CSV), /api/v1/assessment, /api/v1/demands, /api/v1/ratings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from mediasrv.accounts.auth import AdminDep, Caller, Role, allow
from mediasrv.config import Settings
from mediasrv.deps import SessionDep, SettingsDep, StoreDep
from mediasrv.kit.errors import Forbidden, MediaError, UploadTooLarge, error_responses
from mediasrv.kit.http import object_response
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import this_month, today_in_china
from mediasrv.sites.registry import get_site, normalise_region
from mediasrv.study import assessment, compliance, evidence, export, feedback, service
from mediasrv.study.compliance import Task, Watched
from mediasrv.study.models import SessionPhoto, StudySession

SiteOrAdmin = Annotated[Caller, Depends(allow(Role.SITE, Role.ADMIN))]
SiteOnly = Annotated[Caller, Depends(allow(Role.SITE))]
_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$"  # a UUID, or any client id of 8-64 safe characters
SessionId = Annotated[str, Field(pattern=_ID)]
Month = Annotated[
    str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (Beijing months); default: this month")
]


def _utc(value: datetime) -> datetime:
    # A site's clock time without its offset is ambiguous by eight hours: refuse it, say how.
    if value.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-11-20T19:30:00+08:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 at +08:00 is before the first UTC instant there is
        raise ValueError(f"{value.isoformat()} is not a date mediasrv can keep: check the year") from None


AwareTime = Annotated[datetime, AfterValidator(_utc)]

router = APIRouter(tags=["study"], responses=error_responses(400, 401, 403, 404, 422))


class PlayedIn(BaseModel):
    programme_id: str = Field(min_length=1, max_length=64)
    minutes: int | None = Field(default=None, ge=0, le=24 * 60, description="null: played whole")


class SessionIn(BaseModel):
    """A study session as the site's logbook has it. `id` is made by the client (a UUID), once per
    session: sending it again (an offline queue re-sent) records nothing twice."""

    model_config = ConfigDict(extra="ignore")

    id: SessionId
    started_at: AwareTime = Field(description="with its UTC offset, e.g. 2026-11-20T19:30:00+08:00")
    minutes: int = Field(ge=1, le=24 * 60)
    members_present: int = Field(ge=0, le=100_000)
    notes: str = Field(default="", max_length=10_000, description="discussion notes (讨论记录)")
    programmes: list[PlayedIn] = Field(default_factory=list, max_length=100)


class PhotoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    received_at: datetime


class PlayedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    programme_id: str
    minutes: int | None


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    site_id: int
    started_at: datetime
    day: str = Field(description="the Beijing day it counts under")
    minutes: int
    members_present: int
    notes: str
    recorded_by: str
    received_at: datetime
    programmes: list[PlayedOut]
    photos: list[PhotoOut]

    @classmethod
    def of(cls, row: StudySession) -> SessionOut:
        return cls.model_validate(
            {**{c: getattr(row, c) for c in cls.model_fields}, "day": row.day.isoformat()}
        )


@router.post(
    "/api/v1/sites/{site_id}/sessions",
    status_code=201,
    response_model=SessionOut,
    responses={
        200: {"model": SessionOut, "description": "Already recorded under this id: the first record"},
        **error_responses(409),
    },
)
def record_session(
    site_id: RowId, body: SessionIn, caller: SiteOrAdmin, session: SessionDep, response: Response
) -> SessionOut:
    """Record a session held at the site (a site only its own)."""
    row, created = service.record_session(
        session,
        caller,
        site_id,
        service.SessionIn(
            body.id,
            body.started_at,
            body.minutes,
            body.members_present,
            body.notes.strip(),
            tuple(service.PlayedIn(p.programme_id, p.minutes) for p in body.programmes),
        ),
    )
    if not created:
        response.status_code = 200
    return SessionOut.of(row)


@router.get("/api/v1/sites/{site_id}/sessions", response_model=list[SessionOut])
def list_sessions(
    site_id: RowId, caller: SiteOrAdmin, session: SessionDep, month: Month | None = None
) -> list[SessionOut]:
    """A site's sessions in a month (default: this month), oldest first."""
    first, last = compliance.month_bounds(month or this_month())
    rows = service.list_sessions(session, caller, site_id, first=first, last=last)
    return [SessionOut.of(r) for r in rows]


@router.post(
    "/api/v1/sites/{site_id}/sessions/{session_id}/photos",
    status_code=201,
    response_model=PhotoOut,
    responses={
        200: {"model": PhotoOut, "description": "The same photo was kept before"},
        **error_responses(413, 415, 503),
    },
)
async def add_photo(
    site_id: RowId,
    session_id: Annotated[str, Field(pattern=_ID)],
    file: UploadFile,
    caller: SiteOrAdmin,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> PhotoOut:
    """A photo of the session (JPEG or PNG,照片报送); kept without its metadata (EXIF, GPS)."""
    name = file.filename or "photo"
    data = await file.read(settings.photo_max_bytes + 1)
    if len(data) > settings.photo_max_bytes:
        raise UploadTooLarge(
            f"'{name}' is larger than {settings.photo_max_bytes // 2**20} MiB: send a smaller photo "
            "(most phones can share a reduced size)."
        )
    if not data:
        raise MediaError(f"'{name}' is empty: choose the photo again.")
    photo, created = await run_in_threadpool(
        service.add_photo,
        session,
        store,
        caller,
        site_id,
        session_id,
        data=data,
        filename=name,
        spool=settings.spool_dir,
    )
    if not created:
        response.status_code = 200
    return PhotoOut.model_validate(photo)


@router.get(
    "/api/v1/sites/{site_id}/sessions/{session_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def get_photo(
    site_id: RowId,
    session_id: str,
    photo_id: str,
    request: Request,
    caller: SiteOrAdmin,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    photo: SessionPhoto = service.get_photo(session, caller, site_id, session_id, photo_id)
    return object_response(store, photo.key, request, cache_control="private, max-age=3600")


class ProgrammeStateOut(BaseModel):
    programme_id: str
    title: str
    duration_minutes: float | None
    watched_minutes: float = Field(description="as the logbook has it")
    state: Watched = Field(description="as the logbook has it")
    agent_minutes: float = Field(description="counted by the site's LAN origin (automatic evidence)")
    central_minutes: float = Field(description="counted by the central HLS delivery (automatic evidence)")
    evidenced: bool = Field(description="either source saw at least 90 % of it")

    @classmethod
    def of(cls, p: compliance.ProgrammeState) -> ProgrammeStateOut:
        return cls(**vars(p), evidenced=p.evidenced)


class ListComplianceOut(BaseModel):
    study_list_id: int
    title: str
    first: str
    last: str
    expected_hours: float
    class_hours: float = Field(description="held within the days the list's period shares with the month")
    hours_met: bool
    fully: int
    partly: int
    not_watched: int
    evidenced: int = Field(description="programmes the automatic evidence saw fully")
    programmes: list[ProgrammeStateOut]


class SiteComplianceOut(BaseModel):
    site_id: int
    code: str
    name: str
    region: str
    month: str
    sessions: int
    minutes: int
    class_hours: float
    task_met: bool = Field(description="sessions and class hours both reach the monthly task")
    task_sessions: int
    task_class_hours: float
    lists: list[ListComplianceOut]


def _site_out(c: compliance.SiteCompliance, month: str, task: Task) -> SiteComplianceOut:
    return SiteComplianceOut(
        site_id=c.site_id,
        code=c.code,
        name=c.name,
        region=c.region,
        month=month,
        sessions=c.sessions,
        minutes=c.minutes,
        class_hours=c.class_hours,
        task_met=c.task_met,
        task_sessions=task.sessions,
        task_class_hours=task.class_hours,
        lists=[
            ListComplianceOut(
                study_list_id=lc.study_list_id,
                title=lc.title,
                first=lc.first.isoformat(),
                last=lc.last.isoformat(),
                expected_hours=lc.expected_hours,
                class_hours=lc.class_hours,
                hours_met=lc.hours_met,
                fully=lc.count(Watched.FULLY),
                partly=lc.count(Watched.PARTLY),
                not_watched=lc.count(Watched.NOT),
                evidenced=lc.evidenced,
                programmes=[ProgrammeStateOut.of(p) for p in lc.programmes],
            )
            for lc in c.lists
        ],
    )


@router.get("/api/v1/sites/{site_id}/compliance", response_model=SiteComplianceOut)
def site_compliance(
    site_id: RowId,
    caller: SiteOrAdmin,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
) -> SiteComplianceOut:
    """A site's month: sessions and class hours against the monthly task, and each required list."""

    get_site(session, site_id, caller=caller)
    month = month or this_month()
    task = Task.of(settings)
    (row,) = compliance.sites_compliance(session, month=month, task=task, site_ids=[site_id])
    return _site_out(row, month, task)


RegionQuery = Annotated[
    str, Query(max_length=500, description="a region path, e.g. 河北省/邢台市; empty: all")
]


class SiteSummaryOut(BaseModel):
    site_id: int
    code: str
    name: str
    region: str
    month: str
    sessions: int
    minutes: int
    class_hours: float
    task_met: bool
    required: int = Field(description="programmes the required lists in force ask of the site")
    fully: int
    partly: int
    not_watched: int
    evidenced: int = Field(description="of the required, seen fully by the automatic evidence")


def _summary_out(r: compliance.Summary, month: str, task: Task) -> SiteSummaryOut:
    return SiteSummaryOut(
        site_id=r.site_id,
        code=r.code,
        name=r.name,
        region=r.region,
        month=month,
        sessions=r.sessions,
        minutes=r.minutes,
        class_hours=r.class_hours(task),
        task_met=r.task_met(task),
        required=r.required,
        fully=r.fully,
        partly=r.partly,
        not_watched=r.required - r.fully - r.partly,
        evidenced=r.evidenced,
    )


@router.get("/api/v1/compliance/sites", response_model=Page[SiteSummaryOut])
def compliance_sites(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    region: RegionQuery = "",
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
        items=[_summary_out(r, month, task) for r in page], total=len(rows), limit=limit, offset=offset
    )


class RegionComplianceOut(BaseModel):
    region: str
    sites: int
    sites_met: int
    met_percent: float | None = Field(description="sites that met the monthly task, %")
    sessions: int
    class_hours: float
    required: int = Field(description="(site, programme) pairs the required lists ask for")
    fully: int
    fully_percent: float | None
    evidenced: int = Field(description="of the required pairs, seen fully by the automatic evidence")
    evidenced_percent: float | None


class ComplianceRollupOut(BaseModel):
    month: str
    region: str
    task_sessions: int
    task_class_hours: float
    class_hour_minutes: int
    totals: RegionComplianceOut
    regions: list[RegionComplianceOut]


def _region_out(r: compliance.RegionCompliance) -> RegionComplianceOut:
    return RegionComplianceOut(
        region=r.region,
        sites=r.sites,
        sites_met=r.sites_met,
        met_percent=r.met_percent,
        sessions=r.sessions,
        class_hours=r.class_hours,
        required=r.required,
        fully=r.fully,
        fully_percent=r.fully_percent,
        evidenced=r.evidenced,
        evidenced_percent=r.evidenced_percent,
    )


@router.get("/api/v1/compliance", response_model=ComplianceRollupOut)
def compliance_rollup(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    region: RegionQuery = "",
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
        totals=_region_out(total),
        regions=[_region_out(r) for r in regions],
    )


class ViewIn(BaseModel):
    """What one player was served of a programme on a Beijing day, as the site's LAN origin counted
    it (mediasrv.agent.viewing)."""

    programme_id: str = Field(min_length=1, max_length=32)
    day: date = Field(description="the Beijing day it was served")
    player: str = Field(pattern=r"^[0-9a-f]{16}$", description="the player's hash (agent.viewing.player_id)")
    segments: list[
        tuple[Annotated[int, Field(ge=0, le=evidence.MAX_SEGMENT)], Annotated[float, Field(gt=0, le=600)]]
    ] = Field(min_length=1, max_length=20_000, description="[segment number, #EXTINF seconds] pairs")


class ViewingIn(BaseModel):
    views: list[ViewIn] = Field(max_length=1000)


class ViewingAck(BaseModel):
    views: int = Field(description="(programme, day, player) records touched")
    added: int = Field(description="segments new to the evidence (a batch sent again adds none)")
    unknown: list[str] = Field(description="programme ids not in the catalog, ignored")


@router.post("/api/v1/sites/{site_id}/viewing", response_model=ViewingAck)
def report_viewing(site_id: RowId, body: ViewingIn, caller: SiteOnly, session: SessionDep) -> ViewingAck:
    """Viewing evidence counted by the site's agent: segments served to its players. Idempotent:
    segments are merged as a set, so a batch sent again changes nothing. A site posts only its own."""

    get_site(session, site_id, caller=caller)  # 404 for no such site
    if caller.site_id != site_id:
        raise Forbidden("A site may send viewing evidence for itself only.")
    done = evidence.record(
        session,
        site_id,
        evidence.Source.AGENT,
        (evidence.View(v.programme_id, v.day, v.player, dict(v.segments)) for v in body.views),
    )
    return ViewingAck(views=done.views, added=done.added, unknown=done.unknown)


class DailyViewingOut(BaseModel):
    day: date
    programme_id: str
    title: str
    source: evidence.Source
    minutes: float = Field(description="the most any one player saw that day")
    players: int = Field(description="players that saw any of it")


@router.get("/api/v1/sites/{site_id}/viewing", response_model=list[DailyViewingOut])
def site_viewing(
    site_id: RowId, caller: SiteOrAdmin, session: SessionDep, month: Month | None = None
) -> list[DailyViewingOut]:
    """A site's automatic viewing evidence per day, programme and source (agent, central) in a month
    (default: this month)."""

    get_site(session, site_id, caller=caller)
    first, last = compliance.month_bounds(month or this_month())
    return [DailyViewingOut(**vars(d)) for d in evidence.daily(session, site_id, first=first, last=last)]


@router.get(
    "/api/v1/compliance.{fmt}",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                export.XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
def compliance_export(
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="csv (UTF-8 with BOM) or xlsx")],
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    region: RegionQuery = "",
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


class RatingIn(BaseModel):
    rating: int = Field(ge=1, le=5, description="stars, 1-5")
    comment: str = Field(default="", max_length=2000)
    rated_at: AwareTime = Field(description="when the site rated it (with its UTC offset)")


class RatingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: int
    programme_id: str
    rating: int
    comment: str
    rated_at: datetime


@router.put("/api/v1/sites/{site_id}/ratings/{programme_id}", response_model=RatingOut)
def rate_programme(
    site_id: RowId,
    programme_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: RatingIn,
    caller: SiteOrAdmin,
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


class DemandBody(BaseModel):
    """A topic the site's members need (需求调查); `id` is made by the client, once per request."""

    id: SessionId
    topic: str = Field(min_length=1, max_length=200, examples=["果树冬季修剪技术"])
    category: str | None = Field(default=None, max_length=32, description="a category code, if it fits one")
    detail: str = Field(default="", max_length=2000)
    members: int = Field(default=1, ge=1, le=10_000, description="how many members asked for it")
    requested_at: AwareTime


class DemandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    site_id: int
    topic: str
    category: str | None
    detail: str
    members: int
    requested_at: datetime


@router.post(
    "/api/v1/sites/{site_id}/demands",
    status_code=201,
    response_model=DemandOut,
    responses={
        200: {"model": DemandOut, "description": "Already recorded under this id"},
        **error_responses(409),
    },
)
def request_topic(
    site_id: RowId, body: DemandBody, caller: SiteOrAdmin, session: SessionDep, response: Response
) -> DemandOut:
    """Ask for a topic the site's members need."""
    row, created = feedback.request_topic(
        session,
        caller,
        site_id,
        feedback.DemandIn(
            body.id, body.topic, body.category, body.detail.strip(), body.members, body.requested_at
        ),
    )
    if not created:
        response.status_code = 200
    return DemandOut.model_validate(row)


class RankedDemandOut(BaseModel):
    topic: str
    category: str | None
    sites: int
    members: int
    requests: int
    latest: datetime


@router.get("/api/v1/demands", response_model=list[RankedDemandOut])
def ranked_demand(
    caller: AdminDep,
    session: SessionDep,
    region: RegionQuery = "",
    category: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[AwareTime | None, Query(description="requests since then (with UTC offset)")] = None,
    limit: Limit = 50,
) -> list[RankedDemandOut]:
    """Topics the sites under a region ask for, most members first (worded alike: counted together)."""
    rows = feedback.ranked_demand(
        session, region=normalise_region(region), category=category, since=since, limit=limit
    )
    return [RankedDemandOut(**vars(r)) for r in rows]


class RatedProgrammeOut(BaseModel):
    programme_id: str
    title: str
    ratings: int
    average: float
    comments: list[str] = Field(description="the newest comments, at most 5")


@router.get("/api/v1/ratings", response_model=list[RatedProgrammeOut])
def rated_programmes(
    caller: AdminDep, session: SessionDep, region: RegionQuery = "", limit: Limit = 50
) -> list[RatedProgrammeOut]:
    """Programmes as the sites under a region rated them, best first."""
    rows = feedback.rated_programmes(session, region=normalise_region(region), limit=limit)
    return [RatedProgrammeOut(**vars(r)) for r in rows]


class PartOut(BaseModel):
    name: str = Field(description="reachability, sync, study or feedback")
    value: float = Field(description="0..1, from the inputs")
    weight: float = Field(description="its share of the score")
    points: float = Field(description="100 x value x weight")
    inputs: dict[str, float | int | None]


class AssessmentOut(BaseModel):
    site_id: int
    code: str
    name: str
    region: str
    month: str
    days: int = Field(description="days assessed: the month's, to today, from the site's registration")
    score: float = Field(description="0..100: the sum of the parts' points")
    stars: int = Field(description="5 from 90, 4 from 75, 3 from 60, 2 from 40, else 1")
    parts: list[PartOut]


def _assessment_out(a: assessment.Assessment) -> AssessmentOut:
    return AssessmentOut(
        site_id=a.site_id,
        code=a.code,
        name=a.name,
        region=a.region,
        month=a.month,
        days=a.days,
        score=a.score,
        stars=a.stars,
        parts=[
            PartOut(
                name=p.name,
                value=round(p.value, 4),
                weight=round(p.weight, 4),
                points=p.points,
                inputs=dict(p.inputs),
            )
            for p in a.parts
        ],
    )


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
    caller: SiteOrAdmin,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
) -> AssessmentOut:
    """A site's score and stars for a month (星级评定), with every input behind them."""
    get_site(session, site_id, caller=caller)
    (row,) = _assess(session, settings, month, site_ids=[site_id])
    return _assessment_out(row)


class AssessmentPage(Page[AssessmentOut]):
    month: str
    stars: dict[int, int] = Field(description="how many sites have each number of stars")


@router.get("/api/v1/assessment", response_model=AssessmentPage)
def assessments(
    caller: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    month: Month | None = None,
    region: RegionQuery = "",
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
        items=[_assessment_out(a) for a in rows[offset : offset + limit]],
        total=len(rows),
        limit=limit,
        offset=offset,
        month=month,
        stars=counts,
    )
