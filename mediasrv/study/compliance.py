"""Compliance (学习任务完成情况): per site and month, the monthly task (default 4 sessions and 8 class
hours, 每月4次8课时) and each required list in force: the class hours held within the list's period
against its expected hours, and its programmes watched fully, partly or not at all. Rolled up by region.

Definitions, so that every figure can be checked by hand:
- A session counts in the Beijing month of the day it started. Class hours = minutes / class_hour_minutes.
- A list counts for a site when it is published (or archived since) and targets the site's region, for
  the days its period shares with the month. The list as it stands is used: a programme added mid-month
  counts from the period's first day, one removed no longer counts.
- A programme is watched fully when the sessions in that window played it whole (no minutes given: the
  logbook says it was played) or for at least 90 % of its duration in total; partly when for less.
- Beside it, the automatic evidence (mediasrv.study.evidence), each source on its own: the minutes
  the site agent's LAN origin (`agent_minutes`) and the central HLS delivery (`central_minutes`)
  counted within the same window, capped at the duration. A programme is `evidenced` when either
  source saw at least 90 % of its duration (any minutes when the duration is unknown). The logbook's
  state is not changed by it: both are shown, side by side.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from mediasrv import epochs
from mediasrv.catalog.models import Programme
from mediasrv.config import Settings
from mediasrv.db import insert_for, utcnow
from mediasrv.ingest.models import Asset
from mediasrv.kit.errors import MediaError
from mediasrv.sites.models import Site
from mediasrv.sites.registry import site_under
from mediasrv.study import evidence
from mediasrv.study.evidence import Source
from mediasrv.study.lists import layered, region_matches
from mediasrv.study.models import (
    ComplianceSummary,
    SessionProgramme,
    StudyKind,
    StudyList,
    StudyListStatus,
    StudySession,
)

FULLY = 0.9  # of the duration: the credits and a pause do not make a programme "partly" watched
WHOLE = 10**9  # minutes of a programme played whole (no minutes in the logbook): beyond any duration


class Watched(StrEnum):
    FULLY = "fully"
    PARTLY = "partly"
    NOT = "not"


@dataclass(frozen=True)
class Task:
    """The monthly task and the length of a class hour (settings)."""

    sessions: int = 4
    class_hours: float = 8.0
    class_hour_minutes: int = 45

    @classmethod
    def of(cls, settings: Settings) -> Task:
        return cls(
            settings.study_sessions_per_month,
            settings.study_class_hours_per_month,
            settings.class_hour_minutes,
        )


@dataclass
class ProgrammeState:
    programme_id: str
    title: str
    duration_minutes: float | None
    watched_minutes: float
    state: Watched
    agent_minutes: float = 0.0  # counted by the site's LAN origin
    central_minutes: float = 0.0  # counted by the central HLS delivery

    @property
    def evidenced(self) -> bool:
        """Either source saw it fully."""
        seen = max(self.agent_minutes, self.central_minutes)
        return seen > 0 and (self.duration_minutes is None or seen >= FULLY * self.duration_minutes)


@dataclass
class ListCompliance:
    study_list_id: int
    title: str
    first: date
    last: date
    expected_hours: float
    class_hours: float
    hours_met: bool
    programmes: list[ProgrammeState]

    def count(self, state: Watched) -> int:
        return sum(1 for p in self.programmes if p.state is state)

    @property
    def evidenced(self) -> int:
        return sum(1 for p in self.programmes if p.evidenced)


@dataclass
class SiteCompliance:
    site_id: int
    code: str
    name: str
    region: str
    sessions: int
    minutes: int
    class_hours: float
    task_met: bool
    lists: list[ListCompliance] = field(default_factory=list)

    @property
    def required(self) -> int:
        return sum(len(c.programmes) for c in self.lists)

    @property
    def fully(self) -> int:
        return sum(c.count(Watched.FULLY) for c in self.lists)

    @property
    def evidenced(self) -> int:
        return sum(c.evidenced for c in self.lists)


@dataclass
class RegionCompliance:
    region: str
    sites: int = 0
    sites_met: int = 0
    sessions: int = 0
    class_hours: float = 0.0
    minutes: int = 0
    required: int = 0  # (site, programme) pairs a required list asks for
    fully: int = 0  # of them, watched fully
    evidenced: int = 0  # of them, seen fully by the automatic evidence

    @property
    def met_percent(self) -> float | None:
        return round(100 * self.sites_met / self.sites, 1) if self.sites else None

    @property
    def fully_percent(self) -> float | None:
        return round(100 * self.fully / self.required, 1) if self.required else None

    @property
    def evidenced_percent(self) -> float | None:
        return round(100 * self.evidenced / self.required, 1) if self.required else None


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        last = calendar.monthrange(year, number)[1]
        return date(year, number, 1), date(year, number, last)
    except (ValueError, calendar.IllegalMonthError):
        raise MediaError("study.bad_month", month=month) from None


def _hours(minutes: float, task: Task) -> float:
    return round(minutes / task.class_hour_minutes, 2)


def sites_compliance(
    session: Session, *, month: str, task: Task, region: str = "", site_ids: Sequence[int] | None = None
) -> list[SiteCompliance]:
    """Each site under `region` (or the given sites), by code."""
    first, last = month_bounds(month)
    query = select(Site.id, Site.code, Site.name, Site.region).where(site_under(region))
    if site_ids is not None:
        query = query.where(Site.id.in_(site_ids))
    sites = session.execute(query.order_by(Site.code)).all()
    ids = [s.id for s in sites]
    in_month = (StudySession.day >= first, StudySession.day <= last)
    totals = {
        row.site_id: (row.n, row.minutes or 0)
        for row in session.execute(
            select(
                StudySession.site_id, func.count().label("n"), func.sum(StudySession.minutes).label("minutes")
            )
            .where(*in_month, StudySession.site_id.in_(ids) if site_ids is not None else True)  # type: ignore[arg-type]
            .group_by(StudySession.site_id)
        )
    }
    result = []
    for s in sites:
        n, minutes = totals.get(s.id, (0, 0))
        hours = _hours(minutes, task)
        result.append(
            SiteCompliance(
                s.id,
                s.code,
                s.name,
                s.region,
                n,
                minutes,
                hours,
                n >= task.sessions and hours >= task.class_hours,
            )
        )
    _add_lists(session, result, first, last, task, chosen=site_ids is not None)
    return result


def _lists(session: Session, first: date, last: date) -> list[StudyList]:
    """The required lists counted in the month, in the order a site studies them (layered)."""
    return layered(
        session.scalars(
            select(StudyList).where(
                StudyList.kind == StudyKind.REQUIRED,
                StudyList.status.in_([StudyListStatus.PUBLISHED, StudyListStatus.ARCHIVED]),
                StudyList.published_at.is_not(None),
                StudyList.starts_on <= last,
                StudyList.ends_on >= first,
            )
        ).all()
    )


def _add_lists(
    session: Session, sites: list[SiteCompliance], first: date, last: date, task: Task, *, chosen: bool
) -> None:
    """Each required list in force for each site. `chosen`: the sites are a given few (one site, a
    refresh chunk), so every query asks for them alone instead of scanning the whole month."""
    by_id = {s.site_id: s for s in sites}
    for study_list in _lists(session, first, last):
        targeted = [s for s in sites if region_matches(s.region, study_list.regions)]
        if not targeted:
            continue
        lo, hi = max(first, study_list.starts_on), min(last, study_list.ends_on)
        programme_ids = [item.programme_id for item in study_list.items]
        durations = _durations(session, programme_ids)
        ids = [s.site_id for s in targeted]
        window = (
            StudySession.day >= lo,
            StudySession.day <= hi,
            *((StudySession.site_id.in_(ids),) if chosen else ()),
        )
        minutes = {
            row.site_id: row.minutes or 0
            for row in session.execute(
                select(StudySession.site_id, func.sum(StudySession.minutes).label("minutes"))
                .where(*window)
                .group_by(StudySession.site_id)
            )
            if row.site_id in by_id
        }
        watched: dict[tuple[int, str], float] = defaultdict(float)
        if programme_ids:
            for row in session.execute(
                select(
                    StudySession.site_id,
                    SessionProgramme.programme_id,
                    func.sum(func.coalesce(SessionProgramme.minutes, WHOLE)).label("minutes"),
                )
                .join(SessionProgramme, SessionProgramme.session_id == StudySession.id)
                # For chosen sites the programmes are picked below: a programme condition here would
                # lead SQLite to its programme index and through every site's month.
                .where(*window, *(() if chosen else (SessionProgramme.programme_id.in_(programme_ids),)))
                .group_by(StudySession.site_id, SessionProgramme.programme_id)
            ):
                if row.programme_id in durations:
                    watched[row.site_id, row.programme_id] = float(row.minutes)
        seen = evidence.watched(
            session, first=lo, last=hi, programme_ids=programme_ids, site_ids=ids if chosen else None
        )
        for site in targeted:
            hours = _hours(minutes.get(site.site_id, 0), task)
            states = [
                _with_evidence(
                    _state(pid, title, duration, watched.get((site.site_id, pid), 0.0)),
                    seen.get((site.site_id, pid, Source.AGENT), 0.0),
                    seen.get((site.site_id, pid, Source.CENTRAL), 0.0),
                )
                for pid, (title, duration) in ((pid, durations[pid]) for pid in programme_ids)
            ]
            site.lists.append(
                ListCompliance(
                    study_list.id,
                    study_list.title,
                    lo,
                    hi,
                    study_list.expected_hours,
                    hours,
                    hours >= study_list.expected_hours,
                    states,
                )
            )


def _durations(session: Session, programme_ids: Iterable[str]) -> dict[str, tuple[str, float | None]]:
    rows = session.execute(
        select(Programme.id, Programme.title, Asset.duration_seconds)
        .outerjoin(Asset, Asset.id == Programme.asset_id)
        .where(Programme.id.in_(list(programme_ids)))
    )
    return {r.id: (r.title, r.duration_seconds / 60 if r.duration_seconds else None) for r in rows}


def _state(programme_id: str, title: str, duration: float | None, minutes: float) -> ProgrammeState:
    whole = minutes >= WHOLE
    if minutes <= 0:
        state = Watched.NOT
    elif whole or duration is None or minutes >= FULLY * duration:
        state = Watched.FULLY
    else:
        state = Watched.PARTLY
    watched = (duration or 0.0) if whole else minutes
    return ProgrammeState(programme_id, title, duration, round(watched, 1), state)


def _with_evidence(state: ProgrammeState, agent: float, central: float) -> ProgrammeState:
    cap = state.duration_minutes if state.duration_minutes is not None else float("inf")
    state.agent_minutes = round(min(agent, cap), 1)
    state.central_minutes = round(min(central, cap), 1)
    return state


# --- summaries: the roll-up's ground ------------------------------------------------------------

REFRESH_CHUNK = 2_000  # sites computed per pass: bounded memory and IN lists


@dataclass(frozen=True)
class Summary:
    """One site's month as the roll-ups need it (a ComplianceSummary row with the site's place)."""

    site_id: int
    code: str
    name: str
    region: str
    sessions: int
    minutes: int
    required: int
    fully: int
    partly: int
    evidenced: int

    def class_hours(self, task: Task) -> float:
        return _hours(self.minutes, task)

    def task_met(self, task: Task) -> bool:
        return self.sessions >= task.sessions and self.class_hours(task) >= task.class_hours


def _store(session: Session, month: str, task: Task, epoch: int, stale: dict[int, int]) -> list[int]:
    """Compute and keep these sites' summaries, each only if its change count is still the one given
    (read before computing); the sites whose count moved meanwhile, left stale."""
    order = list(stale)
    raced: list[int] = []
    for i in range(0, len(order), REFRESH_CHUNK):
        rows = [
            {
                "month": month, "site_id": c.site_id, "epoch": epoch, "dirty": False,
                "changes": stale[c.site_id], "sessions": c.sessions, "minutes": c.minutes,
                "required": c.required, "fully": c.fully,
                "partly": sum(lc.count(Watched.PARTLY) for lc in c.lists), "evidenced": c.evidenced,
                "computed_at": utcnow(),
            }
            # in site order, as every writer of summaries locks them: no deadlock on PostgreSQL
            for c in sorted(
                sites_compliance(session, month=month, task=task, site_ids=order[i : i + REFRESH_CHUNK]),
                key=lambda c: c.site_id,
            )
        ]  # fmt: skip
        insert = insert_for(session, ComplianceSummary).values(rows)
        columns = {k: insert.excluded[k] for k in rows[0] if k not in ("month", "site_id", "changes")}
        upsert = insert.on_conflict_do_update(
            index_elements=["month", "site_id"],
            set_=columns,
            where=ComplianceSummary.changes == insert.excluded.changes,
        ).returning(ComplianceSummary.site_id)
        kept = set(session.scalars(upsert))
        raced += [site_id for site_id in order[i : i + REFRESH_CHUNK] if site_id not in kept]
    return raced


def refresh(
    session: Session, *, month: str, task: Task, region: str = "", site_ids: Sequence[int] | None = None
) -> int:
    """Recompute the stale summaries of the sites under `region` for `month`; how many were stale.

    Stale: never computed, marked dirty by a site's new records, or computed before the study epoch
    last moved (lists, a site's region, a programme's media: epochs.STUDY)."""
    month_bounds(month)
    epoch = epochs.read(session).get(epochs.STUDY, 0)
    kept = aliased(ComplianceSummary)
    # Each stale site with the change count its summary has now (0: none yet), read before computing.
    query = (
        select(Site.id, func.coalesce(kept.changes, 0))
        .outerjoin(kept, (kept.site_id == Site.id) & (kept.month == month))
        .where(site_under(region), or_(kept.site_id.is_(None), kept.epoch != epoch, kept.dirty.is_(True)))
        .order_by(Site.id)
    )
    if site_ids is not None:  # one site's page recomputes that site, not the fleet
        query = query.where(Site.id.in_(site_ids))
    stale: dict[int, int] = {site_id: changes for site_id, changes in session.execute(query)}
    raced = _store(session, month, task, epoch, stale)
    for _ in range(2):  # rare: recorded while computed; their summaries again, at their new count
        if not raced:
            break
        counts = select(ComplianceSummary.site_id, ComplianceSummary.changes).where(
            ComplianceSummary.month == month, ComplianceSummary.site_id.in_(raced)
        )
        raced = _store(session, month, task, epoch, {site_id: n for site_id, n in session.execute(counts)})
    return len(stale)


def summaries(
    session: Session, *, month: str, task: Task, region: str = "", site_ids: Sequence[int] | None = None
) -> list[Summary]:
    """Every site under `region` (or those given), by code, from up-to-date summaries (stale ones
    recomputed first)."""
    refresh(session, month=month, task=task, region=region, site_ids=site_ids)
    query = (
        select(
            Site.id, Site.code, Site.name, Site.region, ComplianceSummary.sessions, ComplianceSummary.minutes,
            ComplianceSummary.required, ComplianceSummary.fully, ComplianceSummary.partly,
            ComplianceSummary.evidenced,
        )
        .join(ComplianceSummary, ComplianceSummary.site_id == Site.id)
        .where(ComplianceSummary.month == month, site_under(region))
        .order_by(Site.code)
    )  # fmt: skip
    if region:  # the region's sites by their index, then their summaries by key: not the month's every row
        query = query.where(ComplianceSummary.site_id.in_(select(Site.id).where(site_under(region))))
    if site_ids is not None:
        query = query.where(Site.id.in_(site_ids))
    return [Summary(*tuple(row)) for row in session.execute(query)]


def regions_compliance(
    session: Session, *, month: str, task: Task, region: str = "", level: int | None = None
) -> tuple[RegionCompliance, list[RegionCompliance]]:
    """The total under `region` and one row per region one level below it (or at `level`)."""
    depth = level or (len([p for p in region.split("/") if p]) + 1)
    total = RegionCompliance(region)
    below: dict[str, RegionCompliance] = {}
    for site in summaries(session, month=month, task=task, region=region):
        parts = site.region.split("/")
        name = "/".join(parts[:depth]) if len(parts) >= depth else site.region
        for bucket in (total, below.setdefault(name, RegionCompliance(name))):
            bucket.sites += 1
            bucket.sites_met += site.task_met(task)
            bucket.sessions += site.sessions
            bucket.minutes += site.minutes
            bucket.required += site.required
            bucket.fully += site.fully
            bucket.evidenced += site.evidenced
    for bucket in (total, *below.values()):
        bucket.class_hours = _hours(bucket.minutes, task)
    return total, [below[k] for k in sorted(below)]
