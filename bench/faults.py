"""The fault sweep at 25,000 sites with a month of heartbeats, on SQLite and PostgreSQL.

    .venv/bin/python bench/faults.py [--sites 25000] [--naive-sample 2500] [--no-postgres]

Generates, in a fresh database per backend: sites over five provinces (province/city/county/township/
village paths), each with its latest report (SiteReport), its current manifest, 30 days of heartbeat
counts (SitePresence: 750,000 rows at 25,000 sites) and a few days of served segments (ViewingDay), and
one required list in force for everyone. Faults planted: 3% of the sites silent for days, 1% never
heard from, 5% out of sync for a week, 1% with failing files, 1% with a nearly full disk, 1% with an
old agent, 2% with nothing played for the month. Then, each timed with its commit:

1. cold: the first sweep, which opens every fault (the day the loop is switched on);
2. steady: the sweep again with nothing changed (what the beat costs every 10 minutes), median of 3;
3. changed: the sweep after 1% of the sites came back (faults closed) and 1% went silent (opened).
4. baseline: the naive sweep, site by site through the ORM (its report, manifest, last complete day,
   whether it played anything, its open faults: six queries a site), reading only, timed on
   --naive-sample sites spread over the fleet and scaled to all of them; the ratio is naive / steady.
Target: each sweep under 5 s.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update  # noqa: E402

from mediasrv import migrations  # noqa: E402
from mediasrv.catalog.models import Programme, ProgrammeStatus  # noqa: E402
from mediasrv.config import Settings  # noqa: E402
from mediasrv.db import Database  # noqa: E402
from mediasrv.delivery.manifest.models import ManifestContent, SiteManifest, SiteManifestState  # noqa: E402
from mediasrv.faults import detect, loop  # noqa: E402
from mediasrv.faults.limits import Limits  # noqa: E402
from mediasrv.faults.models import Fault  # noqa: E402
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus  # noqa: E402
from mediasrv.protocol.china import today_in_china  # noqa: E402
from mediasrv.sites.models import Site, SitePresence, SiteReport  # noqa: E402
from mediasrv.study.lists import region_matches  # noqa: E402
from mediasrv.study.models import StudyKind, StudyList, StudyListStatus, ViewingDay  # noqa: E402

NOW = datetime(2026, 12, 15, 4, 0, tzinfo=UTC)  # noon in Beijing
TARGET_S = 5.0
PROVINCES = ("河北省", "河南省", "山东省", "四川省", "湖南省")
BATCH = 20_000
DAYS = 30
GIB = 1024**3


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


def generate(db: Database, *, sites: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    today = today_in_china(NOW)
    created = NOW - timedelta(days=90)
    with db.engine.begin() as conn:
        aid, pid = uuid.uuid4().hex, uuid.uuid4().hex
        conn.execute(insert(Asset).values(
            id=aid, sha256="0" * 64, filename="f.mp4", title="节目", size_bytes=1, source_key="s/0",
            kind=AssetKind.VIDEO, status=AssetStatus.READY, duration_seconds=1800.0, progress=100.0,
            attempts=1, created_at=created, updated_at=created,
        ))  # fmt: skip
        conn.execute(insert(Programme).values(
            id=pid, title="党员教育", description="", category_code="party-history", language="zh",
            asset_id=aid, status=ProgrammeStatus.PUBLISHED, published_at=created, created_at=created,
            updated_at=created,
        ))  # fmt: skip
        conn.execute(insert(StudyList).values(
            title="12月必学", kind=StudyKind.REQUIRED, status=StudyListStatus.PUBLISHED,
            starts_on=today.replace(day=1), ends_on=today + timedelta(days=20), expected_hours=4.0,
            regions=[], created_at=created, updated_at=created,
        ))  # fmt: skip
        conn.execute(insert(ManifestContent).values(sha256="c" * 64, deflated=b"", raw_size=0))
        site_rows = [
            {"id": n + 1, "code": f"s{n:05d}", "name": f"{region_of(n).rsplit('/', 1)[-1]}活动室{n}",
             "region": region_of(n), "device_profile": "IPTV", "created_at": created}
            for n in range(sites)
        ]  # fmt: skip
        for rows in chunks(site_rows):
            conn.execute(insert(Site), rows)
        reports, manifests, states, presence, viewing = [], [], [], [], []
        for n in range(sites):
            sid = n + 1
            fate = rng.random()
            if fate < 0.01:
                continue  # never heard from
            silent = fate < 0.04
            stalled = 0.04 <= fate < 0.09
            seen = (
                NOW - timedelta(days=rng.randint(2, 6))
                if silent
                else NOW - timedelta(minutes=rng.randint(1, 60))
            )
            reports.append({
                "site_id": sid, "last_seen_at": seen, "manifest_version": 1,
                "bytes_missing": 10**9 if stalled else 0, "files_missing": 12 if stalled else 0,
                "files_failed": 2 if 0.09 <= fate < 0.10 else 0,
                "failed_paths": ["a/1.ts", "a/2.ts"] if 0.09 <= fate < 0.10 else [],
                "free_bytes": GIB // 2 if 0.10 <= fate < 0.11 else 80 * GIB, "used_bytes": 20 * GIB,
                "agent_version": "0.0.9" if 0.11 <= fate < 0.12 else "0.1.0", "address": "10.0.0.1",
                "observed_at": seen,
            })  # fmt: skip
            manifests.append({
                "site_id": sid, "version": 1, "content_sha256": "c" * 64, "head": "{}", "sha256": "d" * 64,
                "crc32": 0, "size": 0, "signature": "x", "total_bytes": 10 * GIB, "file_count": 100,
                "over_quota": False, "created_at": created,
            })  # fmt: skip
            states.append({"site_id": sid, "version": 1, "epoch": 1, "built_on": today})
            last_day = seen.date() if silent else today
            for back in range(DAYS):
                day = today - timedelta(days=back)
                if day > last_day:
                    continue
                complete = 0 if stalled and back < 7 else rng.randint(20, 96)
                presence.append(
                    {"site_id": sid, "day": day, "heartbeats": 96, "complete_heartbeats": complete}
                )
            if not (0.12 <= fate < 0.14):  # the idle ones played nothing this month
                for back in rng.sample(range(DAYS), 3):
                    viewing.append({
                        "site_id": sid, "day": today - timedelta(days=back), "programme_id": pid,
                        "source": "agent", "player": "p1", "segments": b"\xff", "millis": 48_000,
                        "updated_at": NOW,
                    })  # fmt: skip
        for table, rows_ in ((SiteReport, reports), (SiteManifest, manifests), (SiteManifestState, states),
                             (SitePresence, presence), (ViewingDay, viewing)):  # fmt: skip
            for rows in chunks(rows_):
                conn.execute(insert(table), rows)
    return {"sites": sites, "presence": len(presence), "viewing": len(viewing), "reports": len(reports)}


def naive(db: Database, settings: Settings, sites: int, sample: int) -> float:
    """Seconds to find `sample` sites' conditions one site at a time through the ORM (reading only)."""
    t = detect.Thresholds.of(settings)
    today = today_in_china(NOW)
    step = max(1, sites // sample)
    with db.sessions() as s:
        limits = Limits.load(
            s, default_silent=t.default_silent_hours, default_escalate=t.default_escalate_hours
        )
        lists = s.scalars(select(StudyList).where(StudyList.kind == StudyKind.REQUIRED)).all()
        chosen = s.scalars(select(Site).where(Site.id.in_(range(1, sites + 1, step))).limit(sample)).all()
        start = time.perf_counter()
        for site in chosen:
            report = s.get(SiteReport, site.id)
            state = s.get(SiteManifestState, site.id)
            manifest = s.get(SiteManifest, (site.id, state.version)) if state else None
            complete = s.scalar(
                select(func.max(SitePresence.day)).where(
                    SitePresence.site_id == site.id, SitePresence.complete_heartbeats > 0,
                    SitePresence.day >= today - timedelta(days=t.sync_days + 1),
                )
            )  # fmt: skip
            served = s.scalar(
                select(ViewingDay.site_id).where(
                    ViewingDay.site_id == site.id, ViewingDay.day > today - timedelta(days=t.idle_days)
                ).limit(1)
            ) is not None  # fmt: skip
            s.scalars(select(Fault).where(Fault.site_id == site.id, Fault.closed_at.is_(None))).all()
            in_sync = bool(
                report and state and report.manifest_version == state.version
                and report.bytes_missing == 0 and report.files_missing == 0 and report.files_failed == 0
            )  # fmt: skip
            over = bool(manifest and manifest.over_quota) or bool(
                report and site.quota_bytes is not None and (report.used_bytes or 0) > site.quota_bytes
            )
            facts = detect.SiteFacts(
                site.id, site.region, site.created_at, report.last_seen_at if report else None,
                state is not None, in_sync, over, report and report.bytes_missing,
                report and report.files_missing, report and report.files_failed,
                list(report.failed_paths) if report else [], report and report.free_bytes,
                report and report.used_bytes, site.quota_bytes, report and report.agent_version, complete,
                served,
            )  # fmt: skip
            required = any(region_matches(site.region, lst.regions) for lst in lists)
            list(detect.conditions(facts, now=NOW, today=today, limits=limits, t=t, required=required))
        return time.perf_counter() - start


def timed(db: Database, settings: Settings) -> tuple[float, detect.SweepResult]:
    start = time.perf_counter()
    result = loop.sweep(db, settings, now=NOW)
    return time.perf_counter() - start, result


def change(db: Database, sites: int, share: float) -> int:
    """`share` of the silent sites report again, and as many others fall silent."""
    n = max(1, int(sites * share))
    with db.engine.begin() as conn:
        silent = conn.scalars(
            select(SiteReport.site_id).where(SiteReport.last_seen_at < NOW - timedelta(days=1)).limit(n)
        ).all()
        conn.execute(update(SiteReport).where(SiteReport.site_id.in_(silent)).values(last_seen_at=NOW))
        fresh = conn.scalars(
            select(SiteReport.site_id).where(SiteReport.last_seen_at >= NOW - timedelta(hours=2)).limit(n)
        ).all()
        conn.execute(
            update(SiteReport)
            .where(SiteReport.site_id.in_(fresh))
            .values(last_seen_at=NOW - timedelta(days=2))
        )
    return len(silent) + len(fresh)


def measure(name: str, url: str, ns: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    migrations.upgrade(db)
    settings = Settings(agent_min_version="0.1.0")
    started = time.perf_counter()
    counts = generate(db, sites=ns.sites)
    generated = time.perf_counter() - started
    cold, first = timed(db, settings)
    steady = statistics.median(timed(db, settings)[0] for _ in range(3))
    changed_sites = change(db, ns.sites, 0.01)
    changed, after = timed(db, settings)
    sample = min(ns.naive_sample, ns.sites)
    baseline = naive(db, settings, ns.sites, sample) * ns.sites / sample
    with db.sessions() as s:
        by_kind = dict(
            s.execute(
                select(Fault.kind, func.count()).where(Fault.closed_at.is_(None)).group_by(Fault.kind)
            ).all()
        )
    db.dispose()
    return {
        "backend": name, **counts, "generate_s": generated, "cold_s": cold, "steady_s": steady,
        "changed_s": changed, "naive_s": baseline, "ratio": baseline / steady, "opened": first.opened,
        "changed_sites": changed_sites, "closed": after.closed, "reopened": after.opened,
        "by_kind": {k.value: v for k, v in sorted(by_kind.items())},
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=25_000)
    ap.add_argument("--naive-sample", type=int, default=2500, help="sites the naive sweep is timed on")
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
    print(f"\nfault sweep, {ns.sites:,} sites, {DAYS} days of heartbeats (target: under {TARGET_S:.0f} s)\n")
    columns = ("presence", "cold s", "steady s", "changed s", "naive s", "naive/steady")
    head = f"{'backend':<11} " + " ".join(f"{c:>12}" for c in columns) + "  verdict"
    print(head)
    print("-" * len(head))
    for r in results:
        worst = max(r["cold_s"], r["steady_s"], r["changed_s"])
        verdict = "PASS" if worst < TARGET_S else "MISS"
        figures = (f"{r['presence']:,}", f"{r['cold_s']:.2f}", f"{r['steady_s']:.2f}",
                   f"{r['changed_s']:.2f}", f"{r['naive_s']:.1f}", f"{r['ratio']:.1f}x")  # fmt: skip
        print(f"{r['backend']:<11} " + " ".join(f"{f:>12}" for f in figures) + f"  {verdict}")
    for r in results:
        print(
            f"  {r['backend']}: generated in {r['generate_s']:.0f} s ({r['viewing']:,} viewing rows); "
            f"cold sweep opened {r['opened']:,} faults {r['by_kind']}; after {r['changed_sites']:,} sites "
            f"changed: {r['closed']:,} closed, {r['reopened']:,} opened"
        )


if __name__ == "__main__":
    main()
