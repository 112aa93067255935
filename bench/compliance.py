"""Compliance roll-up at 25,000 sites: a month of sessions and viewing events, on SQLite and PostgreSQL.

    .venv/bin/python bench/compliance.py [--sites 25000] [--sessions 6] [--events 100] [--no-postgres]

Generates, in a fresh database per backend: sites over five provinces (province/city/county/township/
village paths), 200 published programmes with 30-60 minute films, three required lists for the month
(one for everyone, one per province for two provinces, one ending mid-month), and for every site
--sessions study sessions in the month (one to three programmes each, some with minutes) and
--events viewing evidence rows (served segments per player and day; about 3 million rows in all with
the defaults). Then, each against a baseline in the same run:

1. cold: the first roll-up, which computes every site's kept summary (what the first look after a
   list or programme change costs; the beat refreshes the current month in the background).
2. the regional roll-up (GET /api/v1/compliance's function) at province level with the summaries up
   to date: median of 3 runs, and for one province at city level. Target: under 2 s.
3. the same roll-up after 1% of the sites recorded a new session (their summaries recomputed).
4. scoped administrators (issue 19): the roll-up and the fleet status (GET /api/v1/fleet's function)
   for one county's administrator (one of the fleet's counties) and for the province's, median of 3
   each, both under the target, and the ratio county/province: the county's answer must cost its own
   sites, not the whole fleet's.
5. baseline: the same figures computed the naive way, site by site through the ORM (each site's
   sessions, its lists and its viewing evidence), timed on 500 sites spread evenly over the fleet
   and scaled to all of them. Two ratios: naive over the kept roll-up (2), what an administrator
   waits for, and naive over cold (1), the like-for-like cost of computing every site once.

PostgreSQL is Debian's, started here (tests/servers.py) on a free port and removed afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from mediasrv import migrations  # noqa: E402
from mediasrv.catalog.models import Programme, ProgrammeStatus  # noqa: E402
from mediasrv.db import Database  # noqa: E402
from mediasrv.fleet.status import fleet_status  # noqa: E402
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus  # noqa: E402
from mediasrv.protocol.china import CHINA  # noqa: E402
from mediasrv.sites.models import Site  # noqa: E402
from mediasrv.study import compliance  # noqa: E402
from mediasrv.study.compliance import Task  # noqa: E402
from mediasrv.study.models import (  # noqa: E402
    SessionProgramme,
    StudyKind,
    StudyList,
    StudyListItem,
    StudyListStatus,
    StudySession,
    ViewingDay,
    mark_dirty,
)

MONTH = "2026-11"
TARGET_S = 2.0
PROVINCES = ("河北省", "河南省", "山东省", "四川省", "湖南省")
BATCH = 20_000


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def region_of(n: int) -> str:
    """Five provinces x 10 cities x 10 counties x 5 townships x 10 villages = 25,000 places."""
    village, n = n % 10, n // 10
    township, n = n % 5, n // 5
    county, n = n % 10, n // 10
    city, province = n % 10, (n // 10) % len(PROVINCES)
    return f"{PROVINCES[province]}/{city}市/{county}县/{township}镇/{village}村"


def generate(db: Database, *, sites: int, sessions: int, events: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    first, last = compliance.month_bounds(MONTH)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    counts: dict[str, int] = {}
    with db.engine.begin() as conn:
        assets, programmes = [], []
        for i in range(200):
            aid, pid = uuid.uuid4().hex, uuid.uuid4().hex
            assets.append(
                {
                    "id": aid,
                    "sha256": f"{i:064x}",
                    "filename": f"f{i}.mp4",
                    "title": f"节目{i}",
                    "size_bytes": 1,
                    "source_key": f"sources/{i}",
                    "kind": AssetKind.VIDEO,
                    "status": AssetStatus.READY,
                    "duration_seconds": rng.randint(30, 60) * 60.0,
                    "progress": 100.0,
                    "attempts": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            programmes.append(
                {
                    "id": pid,
                    "title": f"党员教育第{i}课",
                    "description": "",
                    "category_code": "party-history",
                    "language": "zh",
                    "asset_id": aid,
                    "status": ProgrammeStatus.PUBLISHED,
                    "published_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        conn.execute(insert(Asset), assets)
        conn.execute(insert(Programme), programmes)
        pids = [p["id"] for p in programmes]
        lists = [
            ("全国11月必学", first, last, [], pids[:6], 8.0),
            ("河北省11月必学", first, last, ["河北省"], pids[6:10], 4.0),
            ("河南省上半月必学", first, first + timedelta(days=14), ["河南省"], pids[10:13], 2.0),
        ]
        for title, lo, hi, regions, items, hours in lists:
            lid = conn.execute(
                insert(StudyList).values(
                    title=title,
                    kind=StudyKind.REQUIRED,
                    status=StudyListStatus.PUBLISHED,
                    starts_on=lo,
                    ends_on=hi,
                    expected_hours=hours,
                    regions=regions,
                    created_at=now,
                    updated_at=now,
                    published_at=now,
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(StudyListItem),
                [{"study_list_id": lid, "programme_id": p, "position": k} for k, p in enumerate(items)],
            )
        site_rows = [
            {
                "id": n + 1,
                "code": f"s{n:05d}",
                "name": f"第{n}村站点",
                "region": region_of(n),
                "device_profile": "iptv",
                "created_at": now - timedelta(days=90),
            }
            for n in range(sites)
        ]
        for part in chunks(site_rows):
            conn.execute(insert(Site), part)
        session_rows, played = [], []
        days = (last - first).days + 1
        for site in site_rows:
            for _ in range(sessions):
                sid = uuid.uuid4().hex
                day = first + timedelta(days=rng.randrange(days))
                start = datetime(day.year, day.month, day.day, 19, 30, tzinfo=CHINA).astimezone(UTC)
                session_rows.append(
                    {
                        "id": sid,
                        "site_id": site["id"],
                        "started_at": start,
                        "day": day,
                        "minutes": rng.choice((45, 60, 90, 120)),
                        "members_present": rng.randint(5, 40),
                        "notes": "",
                        "recorded_by": "bench",
                        "received_at": now,
                    }
                )
                for k, pid in enumerate(rng.sample(pids[:16], rng.randint(1, 3))):
                    played.append(
                        {
                            "session_id": sid,
                            "programme_id": pid,
                            "position": k,
                            "minutes": rng.choice((None, None, 20, 40)),
                        }
                    )
        for part in chunks(session_rows):
            conn.execute(insert(StudySession), part)
        for part in chunks(played):
            conn.execute(insert(SessionProgramme), part)
        counts |= {"sites": sites, "sessions": len(session_rows), "session_programmes": len(played)}
        counts["viewing_events"] = evidence_rows(conn, rng, site_rows, pids[:16], first, days, events, now)
    return counts


def evidence_rows(
    conn: Any,
    rng: random.Random,
    sites: list[dict[str, Any]],
    pids: list[str],
    first: Any,
    days: int,
    per_site: int,
    now: datetime,
) -> int:
    """`per_site` viewing rows per site: (day, programme, source, player) as the agent and the central
    delivery leave them, each with a bitmap of the segments served and their seconds."""
    rows: list[dict[str, Any]] = []
    written = 0
    for site in sites:
        seen: set[tuple[Any, ...]] = set()
        while len(seen) < per_site:
            key = (
                first + timedelta(days=rng.randrange(days)),
                rng.choice(pids),
                rng.choice(("agent", "central")),
                f"{rng.randrange(3):016x}",
            )
            if key in seen:
                continue
            seen.add(key)
            count = rng.randint(20, 450)  # 6-second segments: 2 to 45 minutes
            rows.append(
                {
                    "site_id": site["id"],
                    "day": key[0],
                    "programme_id": key[1],
                    "source": key[2],
                    "player": key[3],
                    "segments": b"\xff" * (count // 8),
                    "millis": count * 6000,
                    "updated_at": now,
                }
            )
        if len(rows) >= BATCH:
            conn.execute(insert(ViewingDay), rows)
            written += len(rows)
            rows = []
    if rows:
        conn.execute(insert(ViewingDay), rows)
        written += len(rows)
    return written


def naive(db: Database, task: Task, sites: int, sample: int) -> float:
    """Seconds to compute `sample` sites the naive way, one at a time through the ORM; the sites are
    spread evenly over the fleet (every province, big and small), not the first ones."""
    first, last = compliance.month_bounds(MONTH)
    step = max(1, sites // sample)
    with db.sessions() as s:
        chosen = s.scalars(select(Site).where(Site.id.in_(range(1, sites + 1, step))).limit(sample)).all()
        lists = s.scalars(select(StudyList).where(StudyList.kind == StudyKind.REQUIRED)).all()
        start = time.perf_counter()
        for site in chosen:
            rows = s.scalars(
                select(StudySession).where(
                    StudySession.site_id == site.id, StudySession.day >= first, StudySession.day <= last
                )
            ).all()
            minutes = sum(r.minutes for r in rows)
            _ = (len(rows) >= task.sessions, minutes / task.class_hour_minutes >= task.class_hours)
            seen: dict[tuple[str, str], int] = {}  # (programme, source) -> most ms one player saw a day
            for v in s.scalars(
                select(ViewingDay).where(
                    ViewingDay.site_id == site.id, ViewingDay.day >= first, ViewingDay.day <= last
                )
            ):
                key = (v.programme_id, v.source)
                seen[key] = max(seen.get(key, 0), v.millis)
            for lst in lists:
                if not compliance.region_matches(site.region, lst.regions):
                    continue
                window = [r for r in rows if lst.starts_on <= r.day <= lst.ends_on]
                for item in lst.items:
                    _ = sum(
                        (p.minutes or 10**9)
                        for r in window
                        for p in r.programmes
                        if p.programme_id == item.programme_id
                    )
                    _ = [seen.get((item.programme_id, source), 0) for source in ("agent", "central")]
        return time.perf_counter() - start


def rollup(db: Database, task: Task, **where: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    with db.sessions() as s:
        result = compliance.regions_compliance(s, month=MONTH, task=task, **where)
        s.commit()  # the summaries it refreshed are kept
    return time.perf_counter() - t, result


def fleet(db: Database, region: str) -> float:
    t = time.perf_counter()
    with db.sessions() as s:
        fleet_status(s, now=datetime(2026, 11, 30, tzinfo=UTC), online_within_seconds=900, region=region)
    return time.perf_counter() - t


def scoped(db: Database, task: Task, sites: int) -> dict[str, Any]:
    """One county's administrator against the province's: what each waits for (summaries up to date)."""
    county = region_of(0).rsplit("/", 2)[0]  # 河北省/0市/0县
    province = county.split("/")[0]
    counties = len({region_of(n).rsplit("/", 2)[0] for n in range(sites)})
    figures: dict[str, Any] = {"county": county, "counties": counties}
    for who, region in (("county", county), ("province", province)):
        figures[f"{who}_sites"] = sum(1 for n in range(sites) if region_of(n).startswith(region + "/"))
        figures[f"{who}_rollup_s"] = statistics.median(rollup(db, task, region=region)[0] for _ in range(3))
        figures[f"{who}_fleet_s"] = statistics.median(fleet(db, region) for _ in range(3))
    return figures


def touch(db: Database, sites: int, share: float) -> int:
    """New sessions at `share` of the sites, as their agents would record them."""
    rng = random.Random(11)
    chosen = rng.sample(range(1, sites + 1), max(1, int(sites * share)))
    with db.sessions() as s:
        for site_id in chosen:
            day = date(2026, 11, rng.randint(1, 30))
            row = StudySession(
                id=uuid.uuid4().hex,
                site_id=site_id,
                day=day,
                minutes=60,
                members_present=9,
                started_at=datetime(2026, 11, day.day, 12, tzinfo=UTC),
                notes="",
                recorded_by="bench",
            )
            s.add(row)
            mark_dirty(s, site_id, [day])
        s.commit()
    return len(chosen)


def measure(name: str, url: str, ns: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    migrations.upgrade(db)
    started = time.perf_counter()
    counts = generate(db, sites=ns.sites, sessions=ns.sessions, events=ns.events)
    generated = time.perf_counter() - started
    task = Task()
    cold, _ = rollup(db, task, level=1)  # computes every site's summary: what a list change costs
    runs = [rollup(db, task, level=1) for _ in range(3)]
    warm = statistics.median(t for t, _ in runs)
    total, regions = runs[-1][1]
    province, _ = rollup(db, task, region="河北省", level=2)
    scopes = scoped(db, task, ns.sites)
    touched = touch(db, ns.sites, 0.01)
    after_touch, _ = rollup(db, task, level=1)
    sample = min(500, ns.sites)
    baseline = naive(db, task, ns.sites, sample) * ns.sites / sample
    db.dispose()
    return {
        "backend": name,
        **counts,
        "generate_s": generated,
        "cold_s": cold,
        "rollup_s": warm,
        "province_s": province,
        "touched": touched,
        "touched_s": after_touch,
        "naive_s": baseline,
        "ratio": baseline / warm,
        "cold_ratio": baseline / cold,
        "sites_met": total.sites_met,
        "regions": len(regions),
        **scopes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=25_000)
    ap.add_argument("--sessions", type=int, default=6, help="sessions per site in the month")
    ap.add_argument("--events", type=int, default=100, help="viewing evidence rows per site in the month")
    ap.add_argument("--no-postgres", action="store_true")
    ns = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", ns))
        if not ns.no_postgres:
            from tests.servers import PostgresServer

            server = PostgresServer(Path(tmp) / "pg")
            server.start()
            try:
                results.append(measure("postgresql", server.create_database("bench"), ns))
            finally:
                server.close()
    print(f"\ncompliance roll-up, month {MONTH}, {ns.sites:,} sites (target: under {TARGET_S:.0f} s)\n")
    columns = ("rows", "roll-up s", "province s", "1% new s", "cold s", "naive s", "naive/kept", "naive/cold")
    head = f"{'backend':<11} " + " ".join(f"{c:>10}" for c in columns) + "  verdict"
    print(head)
    print("-" * len(head))
    for r in results:
        rows = r["sessions"] + r["session_programmes"] + r["viewing_events"] + r["sites"]
        verdict = "PASS" if r["rollup_s"] < TARGET_S else "MISS"
        figures = (
            f"{rows:,}",
            f"{r['rollup_s']:.2f}",
            f"{r['province_s']:.2f}",
            f"{r['touched_s']:.2f}",
            f"{r['cold_s']:.1f}",
            f"{r['naive_s']:.1f}",
        )
        print(
            f"{r['backend']:<11} "
            + " ".join(f"{f:>10}" for f in figures)
            + f" {r['ratio']:>9.1f}x {r['cold_ratio']:>9.1f}x  {verdict}"
        )
    for r in results:
        print(
            f"  {r['backend']}: generated in {r['generate_s']:.0f} s; {r['sessions']:,} sessions, "
            f"{r['session_programmes']:,} programmes played, {r['viewing_events']:,} viewing events; "
            f"{r['sites_met']:,} sites met the task"
        )
    print(
        f"\nscoped administrators: one county of {results[0]['counties']} against its province "
        "(median of 3)\n"
    )
    for r in results:
        for who in ("county", "province"):
            roll, flt = r[f"{who}_rollup_s"], r[f"{who}_fleet_s"]
            verdict = "PASS" if max(roll, flt) < TARGET_S else "MISS"
            print(
                f"  {r['backend']:<11} {who:<9} {r[f'{who}_sites']:>6,} sites: roll-up {roll:.3f} s, "
                f"fleet {flt:.3f} s  {verdict}"
            )
        print(
            f"  {r['backend']:<11} county/province: "
            f"roll-up {r['county_rollup_s'] / r['province_rollup_s']:.3f}, "
            f"fleet {r['county_fleet_s'] / r['province_fleet_s']:.3f} "
            f"(sites {r['county_sites'] / r['province_sites']:.3f})"
        )


if __name__ == "__main__":
    main()
