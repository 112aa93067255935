"""Site assessment (星级站点): a score out of 100 and stars for a month, from four parts, each a share
between 0 and 1 whose inputs are returned with it, so that every score can be checked by hand:

- reachability: the days the site was heard from (a heartbeat) over the days assessed;
- sync: its heartbeats that found its cache complete for the current manifest, over all its heartbeats;
- study: the mean of sessions over the monthly task, class hours over the task (each at most 1), and,
  when required lists apply, the required programmes watched fully over those required;
- feedback: ratings and topic requests the site sent in the month, over `feedback_target` (at most 1).

The days assessed are the month's, up to today for the current month, and from the day the site was
registered. Weights are settings (normalised to sum 1); stars by score: 5 from 90, 4 from 75, 3 from
60, 2 from 40, else 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediasrv.protocol.china import CHINA
from mediasrv.sites.models import Site, SitePresence
from mediasrv.study.compliance import Summary, Task, month_bounds, summaries
from mediasrv.study.models import DemandRequest, ProgrammeRating

STARS = ((90.0, 5), (75.0, 4), (60.0, 3), (40.0, 2))


def stars_for(score: float) -> int:
    return next((stars for floor, stars in STARS if score >= floor), 1)


@dataclass(frozen=True)
class Part:
    name: str
    value: float  # 0..1
    weight: float  # share of the score
    inputs: Mapping[str, float | int | None]

    @property
    def points(self) -> float:
        return round(100 * self.value * self.weight, 2)


@dataclass(frozen=True)
class Assessment:
    site_id: int
    code: str
    name: str
    region: str
    month: str
    days: int
    parts: Sequence[Part]

    @property
    def score(self) -> float:
        return round(sum(p.points for p in self.parts), 1)

    @property
    def stars(self) -> int:
        return stars_for(self.score)


def _ratio(part: float, whole: float) -> float:
    return min(1.0, part / whole) if whole > 0 else 1.0


def assess(
    session: Session,
    *,
    month: str,
    task: Task,
    weights: Mapping[str, float],
    feedback_target: int = 1,
    today: date,
    region: str = "",
    site_ids: Sequence[int] | None = None,
) -> list[Assessment]:
    """Every site under `region` (or the given ones), by code."""
    first, last = month_bounds(month)
    last = min(last, today)
    studied = {
        c.site_id: c for c in summaries(session, month=month, task=task, region=region, site_ids=site_ids)
    }
    ids = list(studied)
    created = {
        sid: at.astimezone(CHINA).date()
        for sid, at in session.execute(select(Site.id, Site.created_at).where(Site.id.in_(ids)))
    }
    presence = {
        row.site_id: row
        for row in session.execute(
            select(
                SitePresence.site_id,
                func.count().label("days"),
                func.sum(SitePresence.heartbeats).label("heartbeats"),
                func.sum(SitePresence.complete_heartbeats).label("complete"),
            )
            .where(SitePresence.day >= first, SitePresence.day <= last, SitePresence.site_id.in_(ids))
            .group_by(SitePresence.site_id)
        )
    }
    since, until = _instant(first), _instant(last, end=True)
    said: dict[int, int] = {}
    for model, at in (
        (ProgrammeRating, ProgrammeRating.rated_at),
        (DemandRequest, DemandRequest.requested_at),
    ):
        for sid, n in session.execute(
            select(model.site_id, func.count())
            .where(at >= since, at < until, model.site_id.in_(ids))
            .group_by(model.site_id)
        ):
            said[sid] = said.get(sid, 0) + n
    result = []
    for sid, c in studied.items():
        start = max(first, created.get(sid, first))
        days = max(0, (last - start).days + 1)
        p = presence.get(sid)
        heard, beats, complete = (p.days, int(p.heartbeats or 0), int(p.complete or 0)) if p else (0, 0, 0)
        parts = (
            Part("reachability", _ratio(heard, days) if days else 0.0, weights["reachability"],
                 {"days_heard": heard, "days_assessed": days}),
            Part("sync", complete / beats if beats else 0.0, weights["sync"],
                 {"complete_heartbeats": complete, "heartbeats": beats}),
            Part("study", _study(c, task), weights["study"], {
                "sessions": c.sessions, "task_sessions": task.sessions, "class_hours": c.class_hours(task),
                "task_class_hours": task.class_hours, "required": c.required, "watched_fully": c.fully}),
            Part("feedback", _ratio(said.get(sid, 0), feedback_target), weights["feedback"],
                 {"ratings_and_requests": said.get(sid, 0), "target": feedback_target}),
        )  # fmt: skip
        result.append(Assessment(sid, c.code, c.name, c.region, month, days, parts))
    return result


def _study(c: Summary, task: Task) -> float:
    shares = [_ratio(c.sessions, task.sessions), _ratio(c.class_hours(task), task.class_hours)]
    if c.required:
        shares.append(c.fully / c.required)
    return sum(shares) / len(shares)


def _instant(day: date, *, end: bool = False) -> datetime:
    """The start of a Beijing day (of the next one with `end`), as an aware time."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return start + timedelta(days=1) if end else start
