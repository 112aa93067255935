"""The sweep: every site's conditions from what the fleet already holds, in a few grouped queries (no
query per site), compared with the open faults: new conditions open a fault, conditions that hold
again refresh theirs, conditions gone close theirs with the repair time.

What the heartbeats carry, and so what is detected (SiteReport, SitePresence, ViewingDay):
- silent: last_seen_at older than the region's limit (a site never heard from: its registration);
- sync_stalled: not in sync with its manifest, and no heartbeat with a complete cache for N days;
- files_failed: files_failed > 0 in the latest report (its failed_paths sample as evidence);
- disk: free_bytes below the setting, or over its quota (fleet's own definition);
- agent_old: agent_version below MEDIASRV_AGENT_MIN_VERSION;
- idle: required lists in force for its region, heard from, yet no segment served for a month.
Reported faults (tv_broken, ...) are never touched here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mediasrv.config import Settings
from mediasrv.db import insert_for
from mediasrv.delivery.manifest.models import SiteManifestState
from mediasrv.faults.limits import Limits
from mediasrv.faults.models import DETECTED, Fault, FaultKind
from mediasrv.fleet.status import _conditions, _flag, _joined  # the one definition of in_sync, over_quota
from mediasrv.protocol.china import today_in_china
from mediasrv.sites.models import Site, SitePresence, SiteReport
from mediasrv.study.lists import region_matches
from mediasrv.study.models import StudyKind, StudyList, StudyListStatus, ViewingDay

CHUNK = 5000  # ids per IN list and rows per executemany


@dataclass(frozen=True)
class Thresholds:
    sync_days: int
    disk_free_bytes: int
    idle_days: int
    agent_min_version: str
    default_silent_hours: int
    default_escalate_hours: int

    @staticmethod
    def of(settings: Settings) -> Thresholds:
        return Thresholds(
            settings.fault_sync_days,
            settings.fault_disk_free_bytes,
            settings.fault_idle_days,
            settings.agent_min_version,
            settings.fault_silent_hours,
            settings.fault_escalate_hours,
        )


@dataclass(frozen=True)
class SiteFacts:
    """What the sweep knows of one site (None: never reported)."""

    site_id: int
    region: str
    created_at: datetime
    last_seen_at: datetime | None
    has_manifest: bool
    in_sync: bool
    over_quota: bool
    bytes_missing: int | None
    files_missing: int | None
    files_failed: int | None
    failed_paths: list[str]
    free_bytes: int | None
    used_bytes: int | None
    quota_bytes: int | None
    agent_version: str | None
    last_complete_day: date | None  # the last day with a heartbeat after which the cache was complete
    served_recently: bool  # the player served something within idle_days


@dataclass(frozen=True)
class SweepResult:
    opened: int
    refreshed: int
    closed: int


def version_key(version: str) -> tuple[int, ...]:
    """'0.10.2' -> (0, 10, 2): versions compare by number, part by part ('0.9' < '0.10'); a part's
    leading digits count ('1rc2' is 1)."""
    return tuple(int(m[0]) if (m := re.match(r"\d+", p)) else 0 for p in version.strip().split("."))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def conditions(
    facts: SiteFacts, *, now: datetime, today: date, limits: Limits, t: Thresholds, required: bool
) -> Iterator[tuple[FaultKind, dict[str, Any]]]:
    """Each fault condition the site is in now, with its evidence. `required`: required lists in
    force target the site's region."""
    hours = limits.silent_for(facts.region)
    heard = facts.last_seen_at if facts.last_seen_at is not None else facts.created_at
    silent = heard < now - timedelta(hours=hours)
    if silent:
        yield FaultKind.SILENT, {"last_seen_at": _iso(facts.last_seen_at), "limit_hours": hours}
    if facts.last_seen_at is None:
        return  # nothing reported: only silence can be told
    old_enough = facts.created_at < now - timedelta(days=t.sync_days)
    stalled_since = today - timedelta(days=t.sync_days)
    if (
        facts.has_manifest
        and not facts.in_sync
        and old_enough
        and (facts.last_complete_day is None or facts.last_complete_day < stalled_since)
    ):
        yield (
            FaultKind.SYNC_STALLED,
            {
                "last_complete_day": facts.last_complete_day.isoformat() if facts.last_complete_day else None,
                "bytes_missing": facts.bytes_missing,
                "files_missing": facts.files_missing,
                "limit_days": t.sync_days,
            },
        )
    if facts.files_failed:
        yield FaultKind.FILES_FAILED, {"files_failed": facts.files_failed, "paths": facts.failed_paths[:5]}
    low = facts.free_bytes is not None and facts.free_bytes < t.disk_free_bytes
    if low or facts.over_quota:
        yield (
            FaultKind.DISK,
            {
                "free_bytes": facts.free_bytes,
                "used_bytes": facts.used_bytes,
                "quota_bytes": facts.quota_bytes,
                "over_quota": facts.over_quota,
            },
        )
    agent = facts.agent_version or ""
    if t.agent_min_version and agent and version_key(agent) < version_key(t.agent_min_version):
        yield FaultKind.AGENT_OLD, {"agent_version": agent, "min_version": t.agent_min_version}
    if (
        required
        and not silent
        and not facts.served_recently
        and facts.created_at < now - timedelta(days=t.idle_days)
    ):
        yield FaultKind.IDLE, {"days": t.idle_days}


def _required_targets(session: Session, today: date) -> list[list[str]]:
    """The regions of each required list in force today ([] in the list: every site)."""
    rows = session.scalars(
        select(StudyList.regions).where(
            StudyList.kind == StudyKind.REQUIRED,
            StudyList.status == StudyListStatus.PUBLISHED,
            StudyList.starts_on <= today,
            StudyList.ends_on >= today,
        )
    )
    return [list(r or []) for r in rows]


def site_facts(session: Session, *, now: datetime, t: Thresholds) -> Iterator[SiteFacts]:
    """Every site's facts in three queries: the sites with their reports (the fleet's join), the last
    complete day within the sync window, the sites served within the idle window."""
    today = today_in_china(now)
    cond = _conditions(now)  # the cutoff is not used: only in_sync and over_quota are read
    complete = dict(
        session.execute(
            select(SitePresence.site_id, func.max(SitePresence.day))
            .where(SitePresence.day >= today - timedelta(days=t.sync_days + 1))
            .where(SitePresence.complete_heartbeats > 0)
            .group_by(SitePresence.site_id)
        ).all()
    )
    served = set(
        session.scalars(
            select(ViewingDay.site_id).where(ViewingDay.day > today - timedelta(days=t.idle_days)).distinct()
        )
    )
    query = _joined(
        select(
            Site.id,
            Site.region,
            Site.created_at,
            SiteReport.last_seen_at,
            SiteManifestState.version,
            _flag(cond["in_sync"]),
            _flag(cond["over_quota"]),
            SiteReport.bytes_missing,
            SiteReport.files_missing,
            SiteReport.files_failed,
            SiteReport.failed_paths,
            SiteReport.free_bytes,
            SiteReport.used_bytes,
            Site.quota_bytes,
            SiteReport.agent_version,
        )
    )
    for row in session.execute(query):
        sid, region, created, seen, current, in_sync, over, *rest = row
        missing, files_missing, failed, paths, free, used, quota, agent = rest
        yield SiteFacts(
            sid,
            region,
            created,
            seen,
            current is not None,
            bool(in_sync),
            bool(over),
            missing,
            files_missing,
            failed,
            list(paths or []),
            free,
            used,
            quota,
            agent,
            complete.get(sid),
            sid in served,
        )


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def sweep(session: Session, *, now: datetime, settings: Settings) -> SweepResult:
    """Open, refresh and close the detected faults of every site (one transaction: the caller commits)."""
    t = Thresholds.of(settings)
    return apply(session, now=now, t=t, found=found_conditions(session, now=now, t=t))


def found_conditions(
    session: Session, *, now: datetime, t: Thresholds
) -> dict[tuple[int, FaultKind], dict[str, Any]]:
    now = now.astimezone(UTC)
    today = today_in_china(now)
    limits = Limits.load(
        session, default_silent=t.default_silent_hours, default_escalate=t.default_escalate_hours
    )
    targets = _required_targets(session, today)
    required_of: dict[str, bool] = {}  # per region: sites share villages
    found: dict[tuple[int, FaultKind], dict[str, Any]] = {}
    for facts in site_facts(session, now=now, t=t):
        required = required_of.get(facts.region)
        if required is None:
            required = required_of[facts.region] = any(region_matches(facts.region, r) for r in targets)
        for kind, evidence in conditions(facts, now=now, today=today, limits=limits, t=t, required=required):
            found[(facts.site_id, kind)] = evidence
    return found


def apply(
    session: Session, *, now: datetime, t: Thresholds, found: dict[tuple[int, FaultKind], dict[str, Any]]
) -> SweepResult:
    """Compare the conditions found with the open detected faults and write the difference."""
    now = now.astimezone(UTC)
    open_rows = session.execute(
        select(Fault.id, Fault.site_id, Fault.kind, Fault.opened_at, Fault.evidence).where(
            Fault.closed_at.is_(None), Fault.kind.in_(DETECTED)
        )
    ).all()
    still: list[int] = []
    changed: list[dict[str, Any]] = []
    closing: list[dict[str, Any]] = []
    known: set[tuple[int, FaultKind]] = set()
    for fid, sid, kind, opened, evidence in open_rows:
        key = (sid, kind)
        known.add(key)
        if key in found:
            still.append(fid)
            if found[key] != evidence:
                changed.append({"id": fid, "evidence": found[key]})
        else:
            repair = int((now - opened.astimezone(UTC)).total_seconds())
            closing.append({"id": fid, "closed_at": now, "repair_seconds": max(repair, 0)})
    new = [
        {"site_id": sid, "kind": kind, "opened_at": now, "last_seen_at": now, "evidence": evidence}
        for (sid, kind), evidence in found.items()
        if (sid, kind) not in known
    ]
    for ids in _chunks(still):
        session.execute(
            update(Fault)
            .where(Fault.id.in_(ids))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    for rows in _chunks(changed):
        session.execute(update(Fault), list(rows))
    for rows in _chunks(closing):
        session.execute(update(Fault), list(rows))
    opened = 0  # a row another sweep opened meanwhile counts here too
    for rows in _chunks(new):
        # Another sweep at the same moment may have opened the same fault: the partial index keeps one.
        statement = insert_for(session, Fault).on_conflict_do_nothing(
            index_elements=["site_id", "kind"], index_where=Fault.closed_at.is_(None)
        )
        session.execute(statement, [_defaults(r) for r in rows])
        opened += len(rows)
    return SweepResult(opened=opened, refreshed=len(still), closed=len(closing))


def _defaults(row: dict[str, Any]) -> dict[str, Any]:
    # A Core insert of many rows gives no Python-side defaults: every column the table requires.
    return {"note": "", "closed_note": "", "reported_by": "", "closed_by": "", **row}


def open_kinds(session: Session, site_ids: Iterable[int]) -> dict[int, set[FaultKind]]:
    """The kinds of each site's open faults (tests and views)."""
    out: dict[int, set[FaultKind]] = {}
    for ids in _chunks(list(site_ids)):
        for sid, kind in session.execute(
            select(Fault.site_id, Fault.kind).where(Fault.closed_at.is_(None), Fault.site_id.in_(ids))
        ):
            out.setdefault(sid, set()).add(kind)
    return out
