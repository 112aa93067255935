"""The fault register for the monthly written report: by region and month, faults opened, closed and
open at the month's end (now, for the month under way), the mean and 90th percentile time to repair of
those closed in the month, and the fault rate: sites with a fault during the month / sites. As JSON,
CSV and XLSX (the compliance export's writers). And the open faults per region beside the fleet's
reachability rate.

Aggregated in Python over the month's faults and the sites grouped by village: percentiles are not
spelt alike in SQLite and PostgreSQL, and a month's faults are few next to the heartbeats."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mediasrv.faults.models import Fault
from mediasrv.fleet.status import LEVELS, percent
from mediasrv.kit.regions import depth, normalise_region, under
from mediasrv.protocol.china import CHINA
from mediasrv.sites.models import Site
from mediasrv.study.compliance import month_bounds
from mediasrv.study.export import Cell

HEADER = (
    "地区 region", "月份 month", "站点数 sites", "有故障站点 faulty sites", "故障率% fault rate",
    "新发故障 opened", "已修复 closed", "未修复 open", "平均修复小时 mean hours to repair",
    "90%修复小时 p90 hours to repair",
)  # fmt: skip
WIDTHS = (30, 9, 9, 12, 11, 10, 10, 10, 14, 14)


@dataclass
class RegisterRow:
    region: str
    sites: int = 0
    faulty_sites: int = 0
    opened: int = 0
    closed: int = 0
    open: int = 0
    repairs: list[int] = field(default_factory=list)  # seconds, of the faults closed in the month

    @property
    def fault_percent(self) -> float | None:
        return percent(self.faulty_sites, self.sites)

    @property
    def mean_repair_hours(self) -> float | None:
        return round(sum(self.repairs) / len(self.repairs) / 3600, 1) if self.repairs else None

    @property
    def p90_repair_hours(self) -> float | None:
        """Nearest rank: the smallest time at least 90% of the repairs took no longer than."""
        if not self.repairs:
            return None
        ordered = sorted(self.repairs)
        return round(ordered[math.ceil(0.9 * len(ordered)) - 1] / 3600, 1)


@dataclass(frozen=True)
class Register:
    month: str
    region: str
    level: int
    totals: RegisterRow
    regions: list[RegisterRow]


def _cut(region: str, level: int) -> str:
    return "/".join(region.split("/")[:level])


def month_span(month: str) -> tuple[datetime, datetime]:
    """The Beijing month as UTC instants [start, end)."""
    first, last = month_bounds(month)
    start = datetime.combine(first, time(), CHINA).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), CHINA).astimezone(UTC)
    return start, end


def register(session: Session, *, month: str, region: str, level: int | None, now: datetime) -> Register:
    region = normalise_region(region)
    level = level or min(depth(region) + 1, LEVELS)
    start, end = month_span(month)
    until = min(end, now.astimezone(UTC))  # "open" is at the month's end, or now within it
    groups: dict[str, RegisterRow] = {}
    total = RegisterRow(region)

    def row(site_region: str) -> RegisterRow:
        key = _cut(site_region, level)
        return groups.setdefault(key, RegisterRow(key))

    for site_region, count in session.execute(
        select(Site.region, func.count()).where(under(Site.region, region)).group_by(Site.region)
    ):
        row(site_region).sites += count
        total.sites += count
    faulty: dict[str, set[int]] = defaultdict(set)
    query = (
        select(Fault.site_id, Fault.opened_at, Fault.closed_at, Fault.repair_seconds, Site.region)
        .join(Site, Site.id == Fault.site_id)
        .where(under(Site.region, region), Fault.opened_at < end)
        .where(or_(Fault.closed_at.is_(None), Fault.closed_at >= start))
    )
    for site_id, opened, closed, repair, site_region in session.execute(query):
        opened = opened.astimezone(UTC)
        closed = closed.astimezone(UTC) if closed is not None else None
        r = row(site_region)
        faulty[r.region].add(site_id)
        faulty[""].add(site_id)
        for target in (r, total):
            if opened >= start:
                target.opened += 1
            if closed is not None and closed < end:
                target.closed += 1
                target.repairs.append(repair or 0)
            if opened <= until and (closed is None or closed > until):
                target.open += 1
    for key, sites in faulty.items():
        if key:
            groups[key].faulty_sites = len(sites)
    total.faulty_sites = len(faulty[""])
    return Register(month, region, level, total, [groups[k] for k in sorted(groups)])


def open_by_region(session: Session, *, region: str, level: int) -> tuple[int, dict[str, int]]:
    """Sites with an open fault under `region`: in all, and per region cut to `level` parts."""
    rows = session.execute(
        select(Site.region, func.count(func.distinct(Fault.site_id)))
        .join(Site, Site.id == Fault.site_id)
        .where(Fault.closed_at.is_(None), under(Site.region, region))
        .group_by(Site.region)
    )
    per: dict[str, int] = defaultdict(int)
    total = 0
    for site_region, n in rows:
        per[_cut(site_region, level)] += n
        total += n  # a site lies in one region: the per-village counts add up without repeats
    return total, dict(per)


def open_by_kind(session: Session, *, region: str) -> dict[str, int]:
    """Open faults under `region`, counted per kind (the fleet page's 未修复故障)."""
    rows = session.execute(
        select(Fault.kind, func.count())
        .join(Site, Site.id == Fault.site_id)
        .where(Fault.closed_at.is_(None), under(Site.region, region))
        .group_by(Fault.kind)
    )
    return {kind.value: n for kind, n in rows}


def table(reg: Register) -> list[tuple[Cell, ...]]:
    def blank(v: float | None) -> Cell:
        return "" if v is None else v

    def cells(r: RegisterRow, name: str) -> tuple[Cell, ...]:
        return (name, reg.month, r.sites, r.faulty_sites, blank(r.fault_percent), r.opened,
                r.closed, r.open, blank(r.mean_repair_hours), blank(r.p90_repair_hours))  # fmt: skip

    # The last row sums the region asked for (its name after 合计, "total").
    return [*(cells(r, r.region) for r in reg.regions), cells(reg.totals, f"合计 total {reg.region}".strip())]


def disposition(month: str, region: str, ext: str) -> str:
    place = region.rsplit("/", 1)[-1]
    name = f"faults-{place}-{month}.{ext}" if place else f"faults-{month}.{ext}"
    return f"attachment; filename=\"faults-{month}.{ext}\"; filename*=UTF-8''{quote(name)}"
