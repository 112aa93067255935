"""API shapes of study: the lists (what sites must study) and the records (what they did), their
compliance, assessment, feedback and demand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from mediasrv.catalog.models import ProgrammeStatus
from mediasrv.catalog.schemas import ProgrammeOut
from mediasrv.kit.caller import Caller
from mediasrv.sites.schemas import Region
from mediasrv.study import assessment, compliance, evidence, lists
from mediasrv.study.compliance import Task, Watched
from mediasrv.study.models import StudyKind, StudyList, StudyListStatus, StudySession

_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$"  # a UUID, or any client id of 8-64 safe characters
SessionId = Annotated[str, Field(pattern=_ID)]


def _utc(value: datetime) -> datetime:
    # A site's clock time without its offset is ambiguous by eight hours: refuse it, say how.
    if value.tzinfo is None:
        raise PydanticCustomError(
            "study.time_needs_offset", "give the time with its UTC offset, e.g. 2026-11-20T19:30:00+08:00"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 at +08:00 is before the first UTC instant there is
        raise PydanticCustomError(
            "study.time_out_of_range",
            "{time} is not a date mediasrv can keep: check the year",
            {"time": value.isoformat()},
        ) from None


AwareTime = Annotated[datetime, AfterValidator(_utc)]


# --- study lists ------------------------------------------------------------------------------

# What compliance compares the list's hours with (compliance.Task): class hours, not clock hours.
_CLASS_HOURS = (
    "class hours (课时) the period asks of a site: minutes of study / the class hour's minutes "
    "(settings.class_hour_minutes, 45 by default), as compliance counts them"
)


class StudyListIn(BaseModel):
    title: str = Field(min_length=1, max_length=255, examples=["2026年12月必学清单"])
    kind: StudyKind = StudyKind.REQUIRED
    starts_on: date
    ends_on: date
    expected_hours: float = Field(default=0.0, ge=0, le=1000, description=_CLASS_HOURS)
    regions: list[str] = Field(default_factory=list, max_length=500, examples=[["河北省/邢台市"]])
    programme_ids: list[str] = Field(default_factory=list, max_length=1000)
    region: Region = Field(
        default="",
        description="the layer the list belongs to (who may change it), inside your scope; empty: your "
        "scope. `regions` lie inside it; none: the whole layer",
    )

    @model_validator(mode="after")
    def _period(self) -> StudyListIn:
        if self.ends_on < self.starts_on:
            # A catalogue key (mediasrv/study/messages.json): the 422 handler renders it per language.
            raise PydanticCustomError("study.ends_before_start", "ends_on is before starts_on")
        return self


class StudyListPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    starts_on: date | None = None
    ends_on: date | None = None
    expected_hours: float | None = Field(default=None, ge=0, le=1000, description=_CLASS_HOURS)
    regions: list[str] | None = Field(default=None, max_length=500)
    programme_ids: list[str] | None = Field(
        default=None, max_length=1000, description="the whole list, in order"
    )


class StudyListItemOut(BaseModel):
    position: int
    programme_id: str
    title: str
    status: ProgrammeStatus


class StudyListOut(BaseModel):
    id: int
    title: str
    kind: StudyKind
    status: StudyListStatus
    starts_on: date
    ends_on: date
    expected_hours: float = Field(description=_CLASS_HOURS)
    regions: list[str]
    region: str = Field(description="the layer that set it ('' the whole network): who may change it")
    editable: bool = Field(description="whether you may change, publish or archive it (a layer above: no)")
    items: list[StudyListItemOut]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, s: StudyList, caller: Caller) -> StudyListOut:
        """The list as `caller` may see it: programmes since withdrawn only for their department."""
        return cls(
            id=s.id,
            title=s.title,
            kind=s.kind,
            status=s.status,
            starts_on=s.starts_on,
            ends_on=s.ends_on,
            expected_hours=s.expected_hours,
            regions=s.regions,
            region=s.region,
            editable=lists.changes_it(caller, s),
            items=[
                StudyListItemOut(
                    position=i.position,
                    programme_id=i.programme_id,
                    title=i.programme.title,
                    status=i.programme.status,
                )
                for i in s.items
                if i.programme.visible_to(caller)
            ],
            created_at=s.created_at,
            updated_at=s.updated_at,
            published_at=s.published_at,
        )


class RequiredForSite(BaseModel):
    """What a site must study on a day: the lists in force there and their programmes, in order."""

    site_id: int
    site_code: str
    on: date
    expected_hours: float = Field(description=_CLASS_HOURS)
    lists: list[StudyListOut]
    programmes: list[ProgrammeOut]


# --- sessions and photos ----------------------------------------------------------------------


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


# --- compliance -------------------------------------------------------------------------------


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
    expected_hours: float = Field(description=_CLASS_HOURS)
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

    @classmethod
    def of(cls, c: compliance.SiteCompliance, month: str, task: Task) -> SiteComplianceOut:
        return cls(
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

    @classmethod
    def of(cls, r: compliance.Summary, month: str, task: Task) -> SiteSummaryOut:
        return cls(
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

    @classmethod
    def of(cls, r: compliance.RegionCompliance) -> RegionComplianceOut:
        return cls(
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


class ComplianceRollupOut(BaseModel):
    month: str
    region: str
    task_sessions: int
    task_class_hours: float
    class_hour_minutes: int
    totals: RegionComplianceOut
    regions: list[RegionComplianceOut]


# --- viewing evidence -------------------------------------------------------------------------


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


class DailyViewingOut(BaseModel):
    day: date
    programme_id: str
    title: str
    source: evidence.Source
    minutes: float = Field(description="the most any one player saw that day")
    players: int = Field(description="players that saw any of it")


# --- feedback and demand ----------------------------------------------------------------------


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


class DemandBody(BaseModel):
    """A topic the site's members need (需求调查); `id` is made by the client, once per request."""

    id: SessionId
    topic: str = Field(min_length=1, max_length=200, examples=["果树冬季修剪技术"])
    category: str | None = Field(
        default=None, max_length=32, description="a category code or its Chinese name, if it fits one"
    )
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


class RankedDemandOut(BaseModel):
    topic: str
    category: str | None
    sites: int
    members: int
    requests: int
    latest: datetime


class RatedProgrammeOut(BaseModel):
    programme_id: str
    title: str
    ratings: int
    average: float
    comments: list[str] = Field(description="the newest comments, at most 5")


# --- assessment -------------------------------------------------------------------------------


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

    @classmethod
    def of(cls, a: assessment.Assessment) -> AssessmentOut:
        return cls(
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
