"""Site heartbeats and the administrators' fleet status: which sites are reachable (畅通率) and up to date.

A site's sync agent reports after each sync run. Only the latest report per site is kept (SiteReport)
plus a count per site and day (SitePresence); heartbeats are not audited, there are too many. Fleet
figures are aggregated in the database with one grouped query, so 25,000 sites cost one round trip.
Days are Beijing days: China has one time zone and no daylight saving, and a UTC day would put
00:00-08:00 Beijing time into the day before.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv.db import Base, utcnow
from mediasrv.delivery.manifest.models import SiteManifest, SiteManifestState
from mediasrv.kit.caller import Caller
from mediasrv.kit.cells import excel_cell
from mediasrv.kit.errors import Forbidden
from mediasrv.kit.regions import depth
from mediasrv.protocol.china import CHINA, today_in_china
from mediasrv.sites.models import (
    MAX_FAILED_SAMPLE,
    MAX_REPLACED,
    RECEIPT_DAYS,
    Site,
    SitePresence,
    SiteReport,
    SiteReportReceipt,
    State,
)
from mediasrv.sites.registry import get_site, normalise_region, site_under

Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")
LEVELS = 5  # 省/市/县/乡/村


@dataclass(frozen=True)
class Report:
    """What a site's agent reports: the manifest version it applied and what it still lacks."""

    manifest_version: int | None
    bytes_missing: int
    files_missing: int
    files_failed: int
    failed_paths: Sequence[str]
    free_bytes: int | None
    used_bytes: int | None
    agent_version: str
    address: str
    channel_replaced: Sequence[Mapping[str, Any]] = ()
    report_id: str | None = None  # unique per report: a resent copy is not counted twice
    observed_at: datetime | None = None  # when the agent made it; None: on arrival


@dataclass(frozen=True)
class SiteStatus:
    """One site as the fleet views show it; the report fields are None for a site never seen."""

    site_id: int
    code: str
    name: str
    region: str
    state: State
    last_seen_at: datetime | None
    current_version: int | None
    applied_version: int | None
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
    address: str | None
    observed_at: datetime | None = None
    heartbeats_today: int = 0  # reports counted on the Beijing day of `now`
    channel_replaced: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Counts:
    sites: int = 0
    online: int = 0
    stale: int = 0
    never_seen: int = 0
    in_sync: int = 0
    over_quota: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def reachable_percent(self) -> float | None:
        return percent(self.online, self.sites)

    @property
    def sync_percent(self) -> float | None:
        return percent(self.in_sync, self.sites)


@dataclass(frozen=True)
class FleetStatus:
    at: datetime
    online_within_seconds: int
    region: str
    level: int
    totals: Counts
    regions: list[tuple[str, Counts]]  # by region path cut to `level` parts; '' is "no region given"


def percent(part: int, whole: int) -> float | None:
    """part/whole in percent to one decimal, half rounded up (integer arithmetic: 12.25 is 12.3, not
    12.2 as float rounding gives); None when there is nothing to divide by."""
    if whole == 0:
        return None
    return (part * 2000 + whole) // (2 * whole) / 10


# --- heartbeats ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    site_id: int
    current_version: int | None
    in_sync: bool
    server_time: datetime
    counted: bool = True  # False: a resent report id, or a report older than RECEIPT_DAYS


def record_heartbeat(
    session: Session, caller: Caller, site_id: int, report: Report, *, now: datetime | None = None
) -> Ack:
    """Store a site's report as its latest and count it for today; a site reports only for itself.

    Agents queue reports while offline and resend any whose answer they did not get, so a report may
    arrive twice or late. A report id already received is acknowledged without being counted again
    (SiteReportReceipt), and a report observed before the stored one does not replace it; either way
    the site was heard from now, so last_seen_at moves."""
    if caller.site_id is None:
        raise Forbidden("sites.heartbeat_own_agent_only")
    site = get_site(session, site_id, caller=caller)
    now = (now or utcnow()).astimezone(UTC)
    observed = (report.observed_at or now).astimezone(UTC)
    counted = _first_receipt(session, site.id, report.report_id, observed, now)
    if counted:
        values: dict[str, Any] = {
            "last_seen_at": now,
            "observed_at": observed,
            "report_id": report.report_id,
            "manifest_version": report.manifest_version,
            "bytes_missing": report.bytes_missing,
            "files_missing": report.files_missing,
            "files_failed": report.files_failed,
            "failed_paths": list(report.failed_paths[:MAX_FAILED_SAMPLE]),
            "channel_replaced": [_jsonable(r) for r in report.channel_replaced[:MAX_REPLACED]],
            "free_bytes": report.free_bytes,
            "used_bytes": report.used_bytes,
            "agent_version": report.agent_version[:64],
            "address": report.address[:45],
        }
        older = or_(SiteReport.observed_at.is_(None), SiteReport.observed_at <= observed)
        _upsert(session, SiteReport, {"site_id": site.id}, values, values, only_if=older)
        _upsert(
            session,
            SitePresence,
            {"site_id": site.id, "day": today_in_china(now)},
            {"heartbeats": SitePresence.heartbeats + 1},
            {"heartbeats": 1},
        )
    # Heard from now, whether or not the report itself was news.
    session.execute(
        update(SiteReport)
        .where(SiteReport.site_id == site.id, SiteReport.last_seen_at < now)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    # The same query as the fleet views, so the agent and the administrators agree on "in sync"
    # (the online window plays no part in it).
    status = next(_statuses(session, now=now, online_within_seconds=1, site_id=site.id))
    if counted and status.in_sync:
        session.execute(
            update(SitePresence)
            .where(SitePresence.site_id == site.id, SitePresence.day == today_in_china(now))
            .values(complete_heartbeats=SitePresence.complete_heartbeats + 1)
            .execution_options(synchronize_session=False)
        )
    return Ack(site.id, status.current_version, status.in_sync, now, counted)


def _first_receipt(
    session: Session, site_id: int, report_id: str | None, observed: datetime, now: datetime
) -> bool:
    """Whether this report is to be counted: it has no id (an older agent), or its id is new and it is
    recent enough for its receipt to be kept. Prunes the site's expired receipts on the way."""
    if report_id is None:
        return True
    cutoff = now - timedelta(days=RECEIPT_DAYS)
    if observed < cutoff:
        return False  # its receipt, if any, was pruned: counting it could count it twice
    session.execute(
        delete(SiteReportReceipt).where(
            SiteReportReceipt.site_id == site_id, SiteReportReceipt.observed_at < cutoff
        )
    )
    try:
        with session.begin_nested():
            session.execute(
                insert(SiteReportReceipt).values(site_id=site_id, report_id=report_id, observed_at=observed)
            )
    except IntegrityError:
        return False
    return True


def _upsert(
    session: Session,
    model: type[Base],
    key: dict[str, Any],
    changes: dict[str, Any],
    new: dict[str, Any],
    *,
    only_if: ColumnElement[bool] | None = None,
) -> None:
    """UPDATE the row with `key`, else INSERT it: portable, and the common case (a site seen before)
    is one statement. When a concurrent heartbeat of the same site inserts first, update its row.
    With `only_if`, an existing row that fails it is left alone (and nothing is inserted)."""
    where = [getattr(model, name) == value for name, value in key.items()]
    if only_if is not None:
        where.append(only_if)
    statement = update(model).where(*where).values(changes).execution_options(synchronize_session=False)
    if cast(CursorResult[Any], session.execute(statement)).rowcount:
        return
    if only_if is not None:
        exists = select(func.count()).select_from(model).where(*where[:-1])
        if session.scalar(exists):
            return
    try:
        with session.begin_nested():
            session.execute(insert(model).values({**key, **new}))
    except IntegrityError:
        session.execute(statement)


# --- fleet status -------------------------------------------------------------------------------------


def _joined(query: Query) -> Query:
    """Each site with its latest report, its current manifest state and that manifest (all optional)."""
    return (
        query.select_from(Site)
        .outerjoin(SiteReport, SiteReport.site_id == Site.id)
        .outerjoin(SiteManifestState, SiteManifestState.site_id == Site.id)
        .outerjoin(
            SiteManifest,
            and_(SiteManifest.site_id == Site.id, SiteManifest.version == SiteManifestState.version),
        )
    )


def _conditions(cutoff: datetime) -> dict[str, ColumnElement[bool]]:
    """The one definition of each state and flag, used by the counts and by the per-site rows."""
    current = SiteManifestState.version
    return {
        "online": SiteReport.last_seen_at >= cutoff,
        "stale": SiteReport.last_seen_at < cutoff,
        "never_seen": SiteReport.site_id.is_(None),
        # Applied the current manifest and lacks nothing; a site without a manifest is never in sync.
        "in_sync": and_(
            current.is_not(None),
            SiteReport.manifest_version == current,
            SiteReport.bytes_missing == 0,
            SiteReport.files_missing == 0,
            SiteReport.files_failed == 0,
        ),
        # Its manifest's required items alone exceed the quota, or the site says it holds more.
        "over_quota": or_(
            SiteManifest.over_quota.is_(True),
            and_(Site.quota_bytes.is_not(None), SiteReport.used_bytes > Site.quota_bytes),
        ),
    }


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 or 0, never NULL: the outer joins leave NULLs that a bare condition would pass on."""
    return case((condition, 1), else_=0)


def fleet_status(
    session: Session,
    *,
    now: datetime,
    online_within_seconds: int,
    region: str = "",
    level: int | None = None,
) -> FleetStatus:
    """Counts for the sites under `region`, in total and per region cut to `level` parts (default: one
    level below `region`, so that each call drills down a level)."""
    region = normalise_region(region)
    level = level or min(depth(region) + 1, LEVELS)
    now = now.astimezone(UTC)
    cond = _conditions(now - timedelta(seconds=online_within_seconds))
    # Grouped by the full region path in the database (one row per village at most), then cut to
    # `level` here: splitting paths in SQL differs between SQLite and PostgreSQL.
    query = _joined(
        select(
            Site.region,
            func.count(),
            *(func.sum(_flag(cond[name])) for name in ("online", "stale", "never_seen", "in_sync")),
            func.sum(_flag(cond["over_quota"])),
        )
    )
    groups: dict[str, Counts] = {}
    for site_region, *numbers in session.execute(query.where(site_under(region)).group_by(Site.region)):
        key = "/".join(site_region.split("/")[:level])
        groups[key] = groups.get(key, Counts()) + Counts(*(int(n or 0) for n in numbers))
    rows = sorted(groups.items())
    totals = sum((c for _, c in rows), Counts())
    return FleetStatus(now, online_within_seconds, region, level, totals, rows)


def _jsonable(item: Mapping[str, Any]) -> dict[str, Any]:
    """A reported item as the JSON column keeps it (times as ISO 8601)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()}


def _status_query(cutoff: datetime, day: date) -> Select[*tuple[Any, ...]]:
    cond = _conditions(cutoff)
    state = case(
        (cond["never_seen"], State.NEVER.value), (cond["online"], State.ONLINE.value), else_=State.STALE.value
    )
    query = _joined(
        select(
            Site.id,
            Site.code,
            Site.name,
            Site.region,
            state,
            SiteReport.last_seen_at,
            SiteManifestState.version,
            SiteReport.manifest_version,
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
            SiteReport.address,
            SiteReport.observed_at,
            func.coalesce(SitePresence.heartbeats, 0),
            SiteReport.channel_replaced,
        )
    )
    return query.outerjoin(SitePresence, and_(SitePresence.site_id == Site.id, SitePresence.day == day))


def _statuses(
    session: Session,
    *,
    now: datetime,
    online_within_seconds: int,
    region: str = "",
    state: State | None = None,
    site_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[SiteStatus]:
    cutoff = now.astimezone(UTC) - timedelta(seconds=online_within_seconds)
    query = _filtered(_status_query(cutoff, today_in_china(now)), cutoff, region, state)
    if site_id is not None:
        query = query.where(Site.id == site_id)
    query = query.order_by(Site.region, Site.code).offset(offset).limit(limit)
    for row in session.execute(query):
        (sid, code, name, site_region, st, seen, current, applied, in_sync, over, *rest) = row
        bytes_missing, files_missing, files_failed, paths, free, used, quota, agent, address, *more = rest
        observed, heartbeats_today, replaced = more
        yield SiteStatus(
            sid,
            code,
            name,
            site_region,
            State(st),
            seen,
            current,
            applied,
            bool(in_sync),
            bool(over),
            bytes_missing,
            files_missing,
            files_failed,
            list(paths or []),
            free,
            used,
            quota,
            agent,
            address,
            observed,
            int(heartbeats_today),
            list(replaced or []),
        )


def _filtered(query: Query, cutoff: datetime, region: str, state: State | None) -> Query:
    query = query.where(site_under(normalise_region(region)))
    if state is not None:
        name = {State.ONLINE: "online", State.STALE: "stale", State.NEVER: "never_seen"}[state]
        query = query.where(_conditions(cutoff)[name])
    return query


def list_site_statuses(
    session: Session,
    *,
    now: datetime,
    online_within_seconds: int,
    region: str = "",
    state: State | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[SiteStatus], int]:
    """One page of sites under `region` (optionally in one state), by region and code; and the total."""
    cutoff = now.astimezone(UTC) - timedelta(seconds=online_within_seconds)
    total = session.scalar(_filtered(_joined(select(func.count())), cutoff, region, state)) or 0
    page = _statuses(
        session,
        now=now,
        online_within_seconds=online_within_seconds,
        region=region,
        state=state,
        limit=limit,
        offset=offset,
    )
    return list(page), total


# Each header is Chinese then English in one cell: the administrators read the file in Excel and report
# upwards in Chinese, while scripts (and colleagues without Chinese) match the English word; a single
# header row keeps it a plain CSV that any reader parses. Values stay as in the JSON API.
CSV_HEADER = (
    "站点编码 code",
    "站点名称 name",
    "所属区域 region",
    "状态 state",
    "最后上报 last_seen_at",
    "当前版本 current_version",
    "已应用版本 applied_version",
    "已同步 in_sync",
    "缺少字节 bytes_missing",
    "失败文件 files_failed",
    "剩余空间 free_bytes",
    "超出配额 over_quota",
    "终端程序版本 agent_version",
)


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def fleet_csv(
    session: Session,
    *,
    now: datetime,
    online_within_seconds: int,
    region: str = "",
    state: State | None = None,
) -> bytes:
    """Every matching site, one row each, as UTF-8 with a BOM: without it Excel in China reads the file
    as GBK and garbles every Chinese name. Times are Beijing time, with the offset, for the same readers."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for s in _statuses(
        session, now=now, online_within_seconds=online_within_seconds, region=region, state=state
    ):
        writer.writerow(
            (
                excel_cell(s.code),
                excel_cell(s.name),
                excel_cell(s.region),
                s.state.value,
                s.last_seen_at.astimezone(CHINA).isoformat(timespec="seconds") if s.last_seen_at else "",
                _number(s.current_version),
                _number(s.applied_version),
                "true" if s.in_sync else "false",
                _number(s.bytes_missing),
                _number(s.files_failed),
                _number(s.free_bytes),
                "true" if s.over_quota else "false",
                excel_cell(s.agent_version),
            )
        )
    return out.getvalue().encode("utf-8")
