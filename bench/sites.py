"""Caching manifests for 25,000 terminal sites: build time, delta size, polling throughput, soak.

    .venv/bin/python bench/sites.py [--sites 25000] [--programmes 5000] [--required 200]
                                    [--polled 1000] [--duration 20] [--soak 60] [--connections 500]

Generates a fresh data directory (SQLite at the default URL): sites with Chinese names and region
paths over five provinces, mixed device profiles and quotas; published programmes, each with a ready
asset whose renditions mirror media/profiles.py and whose files (one 6 s segment per AssetFile row,
index.m3u8 per rendition, poster.jpg) carry plausible sizes and random SHA-256; a required study list
in force today for every region and an optional one; tokens for the polled sites. Then, each against a
baseline measured in the same run:

1. build: mediasrv.delivery.manifest.build_document (format 2: programmes and their file lists' digests)
   for several sites from scratch (nothing in memory, the lists' summaries read from the database; the
   first build of each profile, which writes the lists, is shown apart), against today's flat build
   (format 1, every file; frozen in bench/flat_manifest.py) on the same sites: time (target under
   50 ms) and bytes, raw and gzip (target: 100x fewer for a mobile site).
1b. the server's build per site (ManifestService): a content shared by sites alike, then the site's part;
   then one publication and each of those sites' first poll after it: ms per site (its version row,
   contents apart), against each site writing its own row at its poll (the baseline, same run).
1c. one publication (a programme first on the required list every site has, so every content changes):
   a content rebuilt after it by each builder warmed as a server is, times --combinations distinct list
   combinations, plus each of --fleet sites' own part after a publication (1b): CPU seconds, format 2
   against today's.
2. delta: add 1 then 10 programmes to the required list through the API and fetch ?since=<previous
   version>: the delta's size against the full manifest's (proportional to the change, not the catalog).
3. polling: `mediasrv serve` and a bare FastAPI endpoint that only answers 304, served by uvicorn with
   the same options, loaded by wrk with the same script (random polled site, its token, its ETag).
   Target: mediasrv's 304 rate at least 0.7x the bare endpoint's. Every answer is checked to be a 304.
4. nginx (one worker, gzip_static, etag) serving the same manifest bytes as a static file, 304 and 200,
   beside mediasrv's full gzip manifest of that site (--full-connections for the 200s).
5. soak: --connections clients for --soak seconds mixing manifest polls (304), full manifests (200)
   and playlist.m3u8 polls; PASS only with no socket error and no status outside 2xx/3xx.

Needs wrk and nginx (Debian: `apt-get install wrk nginx-light`; installed when missing and running as
root). Only 127.0.0.1 is loaded; every server started here is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import pwd
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import HOST, Processes, Report, free_port, verdict, wait_until_up

BUILD_TARGET_MS = 50.0
BYTES_RATIO_TARGET = 100.0  # a mobile site's manifest against the flat one
POLL_RATIO_TARGET = 0.7
TIMEOUT = "10s"

# --------------------------------------------------------------------------------------------------
# The bare baseline: one async endpoint answering 304, run by this file in a child process
# (`--serve-bare PORT`) through uvicorn.run with the options `mediasrv serve` uses.
# --------------------------------------------------------------------------------------------------


def serve_bare(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/api/v1/sites/{site_id}/manifest")
    async def manifest(site_id: int) -> Response:
        return Response(status_code=304, headers={"ETag": '"bare"'})

    # The same call as mediasrv.cli.operators.serve: default loop and HTTP implementation, one process,
    # the same logging options (serve logs requests from its own middleware, so uvicorn's access log is off).
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        proxy_headers=True,
        log_level="info",
        log_config=None,
        access_log=False,
        timeout_keep_alive=75,
    )


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------

PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "河北省": ("hb", ("石家庄市", "邢台市", "保定市")),
    "河南省": ("ha", ("郑州市", "洛阳市", "南阳市")),
    "山东省": ("sd", ("济南市", "临沂市", "菏泽市")),
    "四川省": ("sc", ("成都市", "绵阳市", "南充市")),
    "湖南省": ("hn", ("长沙市", "衡阳市", "邵阳市")),
}
_NAME_CHARS = (
    "东西南北中上下前后大小新老黄白红青石李王张刘陈杨赵周吴徐孙马朱胡林郭何高罗郑梁谢宋唐许韩冯邓曹彭曾"
    "田董潘袁蒋蔡杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金廖贾夏方邹孟熊秦江尹薛段雷侯龙陶贺顾毛郝龚邵钱严孔汤"
)
_PLACE = "庄营屯沟坪河湾岭桥寨堡集店铺坝山台塘埠"
_WORDS = (
    "党建 乡村振兴 党史 学习 农业技术 种植 养殖 法律 健康 先进典型 党员 组织生活 基层治理 理论 政策 解读 "
    "讲座 专题 培训 示范 经验 交流 村务公开 产业发展 生态环境 文明乡风 合作社 电商 科技创新 民生保障 "
    "医疗卫生 安全生产 消防 禁毒 反诈 普法 民法典 土地流转 水稻 小麦 玉米 果树 蔬菜大棚 生猪 水产 "
    "茶叶 中药材 红色故事 英雄模范 驻村工作队 网格员 志愿服务 就业创业 职业技能 党课 主题党日 "
    "三会一课 廉政"
)
_TITLE_WORDS = _WORDS.split()
CATEGORY_CODES = (
    "political-theory",
    "party-spirit",
    "policy-law",
    "agri-tech",
    "skills",
    "health",
    "model-stories",
    "party-history",
)
SEGMENT_SECONDS = 6.0
# (source width, height, share): 1080p films, 720p films, PAL SD archive films.
SOURCES = ((1920, 1080, 0.70), (1280, 720, 0.25), (1024, 576, 0.05))
PROFILE_WEIGHTS = (("IPTV", 0.50), ("IPTV_LEGACY", 0.15), ("MOBILE", 0.25), ("PC", 0.10))
GB = 1000**3
QUOTAS: tuple[tuple[int | None, float], ...] = (
    (None, 0.40),
    (500 * GB, 0.30),
    (1000 * GB, 0.20),
    (100 * GB, 0.10),  # less than the required programmes: the manifest must say so
)


@dataclass
class Dataset:
    data_dir: Path
    database_url: str
    today: date
    site_ids: list[int]
    profiles: dict[int, str]  # site id -> device profile value
    tokens: dict[int, str]  # polled site id -> plain bearer token
    admin_token: str
    required_list_id: int
    required_ids: list[str]
    spare_ids: list[str]  # published programmes on no list, oldest first (for the delta step)
    file_rows: int = 0
    seconds: float = 0.0


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _codecs(profile: str, level: str) -> str:
    idc = {"high": 0x64, "main": 0x4D}.get(profile, 0x42)
    return f"avc1.{idc:02x}00{int(level.replace('.', '')):02x},mp4a.40.2"


def generate(
    data_dir: Path, *, sites: int, programmes: int, required: int, optional: int, polled: int, seed: int
) -> Dataset:
    from sqlalchemy import insert

    from mediasrv import migrations
    from mediasrv.accounts.models import ApiToken, OrgUnit, User
    from mediasrv.accounts.service import TOKEN_PREFIX, hash_secret
    from mediasrv.catalog.models import Programme, ProgrammeStatus, ProgrammeTag
    from mediasrv.config import Settings
    from mediasrv.db import Database
    from mediasrv.ingest.models import Asset, AssetFile, AssetKind, AssetStatus, Rendition
    from mediasrv.kit.caller import Role
    from mediasrv.media.probe import AudioInfo, MediaInfo, VideoInfo
    from mediasrv.media.profiles import renditions_for
    from mediasrv.protocol.china import today_in_china
    from mediasrv.sites.models import DeviceProfile, Site
    from mediasrv.study.models import StudyKind, StudyList, StudyListItem, StudyListStatus

    started = time.perf_counter()
    rng = random.Random(seed)
    # Explicit empty URLs: a MEDIASRV_DATABASE_URL in this environment must not point the bench elsewhere.
    settings = Settings(data_dir=data_dir, database_url="", storage_url="", broker_url="")
    data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    db = Database(url)
    migrations.upgrade(db)
    now = datetime.now(UTC)
    today = today_in_china()

    ladders = {
        (w, h): renditions_for(
            MediaInfo(
                format_name="mov,mp4,m4a,3gp,3g2,mj2",
                duration=600.0,
                size=0,
                bit_rate=0,
                video=VideoInfo("h264", w, h, 0, 25.0, False, "progressive", "yuv420p"),
                audio=AudioInfo("aac", 2, "stereo", 48000),
            )
        )
        for w, h, _ in SOURCES
    }

    with db.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        unit_id = conn.execute(
            insert(OrgUnit).values(name="县委组织部电教中心", created_at=now)
        ).inserted_primary_key
        assert unit_id is not None
        org = unit_id[0]
        admin = conn.execute(
            insert(User).values(
                username="bench-admin",
                display_name="基准测试管理员",
                role=Role.ADMIN,
                org_unit_id=None,
                password_hash=None,
                is_active=True,
                created_at=now,
            )
        ).inserted_primary_key
        assert admin is not None
        admin_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            insert(ApiToken).values(
                name="bench admin", token_hash=hash_secret(admin_token), user_id=admin[0], created_at=now
            )
        )

        # Sites: province/city/county/township/village.
        regions: list[tuple[str, str]] = []  # (township path, province code)
        for province, (abbr, cities) in PROVINCES.items():
            for city in cities:
                counties = {rng.choice(_NAME_CHARS) + rng.choice(_NAME_CHARS) + "县" for _ in range(4)}
                for county in sorted(counties):
                    for t in range(6):
                        town = rng.choice(_NAME_CHARS) + rng.choice(_PLACE) + ("镇" if t % 3 else "乡")
                        regions.append((f"{province}/{city}/{county}/{town}", abbr))
        site_rows: list[dict[str, Any]] = []
        profiles: dict[int, str] = {}
        for i in range(1, sites + 1):
            town, abbr = regions[i % len(regions)]
            village = rng.choice(_NAME_CHARS) + rng.choice(_NAME_CHARS) + rng.choice(_PLACE) + "村"
            profile = DeviceProfile[_weighted(rng, PROFILE_WEIGHTS)]
            profiles[i] = profile.value
            window = _weighted(rng, ((None, 0.5), (("01:00", "05:00"), 0.3), (("22:00", "06:00"), 0.2)))
            site_rows.append(
                {
                    "id": i,
                    "code": f"{abbr}-{i:06d}",
                    "name": village + rng.choice(("党员活动室", "党群服务中心", "远程教育站点")),
                    "region": f"{town}/{village}",
                    "device_profile": profile,
                    "quota_bytes": _weighted(rng, QUOTAS),
                    "window_start": window[0] if window else None,
                    "window_end": window[1] if window else None,
                    "bandwidth_kbps": rng.choice((None, None, 2000, 4000, 8000, 20000)),
                    "created_at": now,
                }
            )
        conn.execute(insert(Site), site_rows)

        polled_ids = sorted(rng.sample(range(1, sites + 1), min(polled, sites)))
        tokens = {i: TOKEN_PREFIX + secrets.token_urlsafe(32) for i in polled_ids}
        conn.execute(
            insert(ApiToken),
            [
                {"name": "set-top box", "token_hash": hash_secret(t), "site_id": i, "created_at": now}
                for i, t in tokens.items()
            ],
        )

        # Programmes, their ready assets, renditions and files.
        programme_ids: list[str] = []
        published: dict[str, datetime] = {}
        file_rows = 0
        batch_assets: list[dict[str, Any]] = []
        batch_programmes: list[dict[str, Any]] = []
        batch_tags: list[dict[str, Any]] = []
        batch_renditions: list[dict[str, Any]] = []
        batch_files: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(insert(Asset), batch_assets)
            conn.execute(insert(Programme), batch_programmes)
            if batch_tags:
                conn.execute(insert(ProgrammeTag), batch_tags)
            conn.execute(insert(Rendition), batch_renditions)
            conn.execute(insert(AssetFile), batch_files)
            for batch in (batch_assets, batch_programmes, batch_tags, batch_renditions, batch_files):
                batch.clear()

        for _ in range(programmes):
            asset_id, programme_id, generation = uuid_hex(rng), uuid_hex(rng), uuid_hex(rng)
            w, h = _weighted(rng, [((w, h), share) for w, h, share in SOURCES])
            duration = round(rng.uniform(300.0, 1800.0), 3)
            title = "".join(rng.sample(_TITLE_WORDS, rng.randint(2, 3))) + rng.choice(
                ("", f" 第{rng.randint(1, 40)}集", "专题讲座", "（上）", "（下）")
            )
            published_at = now - timedelta(minutes=rng.randint(60, 2 * 365 * 24 * 60))
            prefix = f"hls/{asset_id}/{generation}/"
            segments = math.ceil(duration / SEGMENT_SECONDS)
            last = duration - SEGMENT_SECONDS * (segments - 1)
            for spec in ladders[(w, h)]:
                rate = spec.video_bitrate + spec.audio_bitrate
                low, high = (0.97, 1.03) if spec.cbr else (0.55, 1.10)
                sizes = [
                    int(
                        rate
                        * (SEGMENT_SECONDS if k < segments - 1 else last)
                        / 8
                        * 1.04
                        * rng.uniform(low, high)
                    )
                    for k in range(segments)
                ]
                for k, size in enumerate(sizes):
                    batch_files.append(
                        {
                            "asset_id": asset_id,
                            "path": f"{generation}/{spec.name}/seg_{k:05d}.ts",
                            "size_bytes": size,
                            "sha256": f"{rng.getrandbits(256):064x}",
                        }
                    )
                batch_files.append(
                    {
                        "asset_id": asset_id,
                        "path": f"{generation}/{spec.name}/index.m3u8",
                        "size_bytes": 120 + 40 * segments,
                        "sha256": f"{rng.getrandbits(256):064x}",
                    }
                )
                peak = max(s * 8 / SEGMENT_SECONDS for s in sizes[:-1]) if segments > 1 else rate
                batch_renditions.append(
                    {
                        "asset_id": asset_id,
                        "name": spec.name,
                        "groups": [g.value for g in spec.groups],
                        "playlist_key": prefix + f"{spec.name}/index.m3u8",
                        "codecs": _codecs(spec.h264_profile, spec.h264_level),
                        "width": spec.width,
                        "height": spec.height,
                        "frame_rate": 25.0,
                        "bandwidth": int(peak),
                        "average_bandwidth": int(sum(sizes) * 8 / duration),
                        "segment_count": segments,
                        "duration_seconds": duration,
                        "size_bytes": sum(sizes),
                    }
                )
            batch_files.append(
                {
                    "asset_id": asset_id,
                    "path": f"{generation}/poster.jpg",
                    "size_bytes": rng.randint(30_000, 160_000),
                    "sha256": f"{rng.getrandbits(256):064x}",
                }
            )
            sha = f"{rng.getrandbits(256):064x}"
            batch_assets.append(
                {
                    "id": asset_id,
                    "sha256": sha,
                    "filename": f"{title}.mp4",
                    "title": title,
                    "size_bytes": int(duration * rng.uniform(2e6, 12e6) / 8),
                    "source_key": f"sources/{sha[:2]}/{sha}",
                    "kind": AssetKind.VIDEO,
                    "status": AssetStatus.READY,
                    "progress": 100.0,
                    "duration_seconds": duration,
                    "org_unit_id": org,
                    "generation": generation,
                    "published_generation": generation,
                    "poster_key": prefix + "poster.jpg",
                    "attempts": 1,
                    "created_at": published_at - timedelta(hours=2),
                    "updated_at": published_at - timedelta(hours=1),
                }
            )
            batch_programmes.append(
                {
                    "id": programme_id,
                    "title": title,
                    "description": "，".join(rng.sample(_TITLE_WORDS, 8)) + "。",
                    "category_code": rng.choice(CATEGORY_CODES),
                    "language": "zh",
                    "org_unit_id": org,
                    "asset_id": asset_id,
                    "status": ProgrammeStatus.PUBLISHED,
                    "published_at": published_at,
                    "created_at": published_at - timedelta(hours=2),
                    "updated_at": published_at,
                }
            )
            batch_tags.extend(
                {"programme_id": programme_id, "name": tag, "position": k}
                for k, tag in enumerate(rng.sample(_TITLE_WORDS, 2))
            )
            programme_ids.append(programme_id)
            published[programme_id] = published_at
            if len(batch_files) >= 100_000:
                file_rows += len(batch_files)
                flush()
        file_rows += len(batch_files)
        flush()

        # Study lists: one required list in force today for every region, one optional list.
        chosen = rng.sample(programme_ids, required + optional)
        required_ids, optional_ids = chosen[:required], chosen[required:]
        on_lists = set(chosen)
        spare_ids = sorted((p for p in programme_ids if p not in on_lists), key=published.__getitem__)[:50]
        list_ids = []
        for title, kind, items in (
            (
                f"{today.year}年第{(today.month - 1) // 3 + 1}季度党员必学清单",
                StudyKind.REQUIRED,
                required_ids,
            ),
            ("乡村振兴选学专题", StudyKind.OPTIONAL, optional_ids),
        ):
            pk = conn.execute(
                insert(StudyList).values(
                    title=title,
                    kind=kind,
                    status=StudyListStatus.PUBLISHED,
                    starts_on=today - timedelta(days=30),
                    ends_on=today + timedelta(days=60),
                    expected_hours=40.0 if kind is StudyKind.REQUIRED else 10.0,
                    regions=[],
                    created_by_user_id=admin[0],
                    created_at=now,
                    updated_at=now,
                    published_at=now,
                )
            ).inserted_primary_key
            assert pk is not None
            list_ids.append(pk[0])
            conn.execute(
                insert(StudyListItem),
                [{"study_list_id": pk[0], "programme_id": p, "position": k} for k, p in enumerate(items)],
            )
    db.dispose()
    return Dataset(
        data_dir=data_dir,
        database_url=url,
        today=today,
        site_ids=list(range(1, sites + 1)),
        profiles=profiles,
        tokens=tokens,
        admin_token=admin_token,
        required_list_id=list_ids[0],
        required_ids=required_ids,
        spare_ids=spare_ids,
        file_rows=file_rows,
        seconds=time.perf_counter() - started,
    )


def uuid_hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


# --------------------------------------------------------------------------------------------------
# 1. Build time and bytes: build_document (format 2) against the flat build (bench/flat_manifest.py)


def design_build(session: Any, site: Any, on: date) -> bytes:
    """One site's whole manifest document (format 2), from scratch: nothing in memory, the file
    lists' summaries read from the database (the one call to adapt if the API moves)."""
    from mediasrv.delivery.manifest.build import build_document

    return build_document(session, site, on=on)


def flat_build(session: Any, site: Any, on: date) -> bytes:
    """Today's flat document (format 1, every file), uncached: the frozen baseline."""
    from flat_manifest import build_document

    return build_document(session, site, on=on)


def document_programme_ids(document: bytes) -> list[str]:
    """The programmes a manifest lists, by rank."""
    doc = json.loads(document)
    if "order" in doc:
        return list(doc["order"])
    return [p["id"] for p in sorted(doc["programmes"], key=lambda p: p["rank"])]


@dataclass
class BuildRow:
    site_id: int
    profile: str
    programmes: int
    files: int
    design_ms: float
    design_cpu_ms: float
    design_bytes: int
    design_gzip: int
    flat_ms: float
    flat_cpu_ms: float
    flat_bytes: int
    flat_gzip: int


@dataclass
class BuildResult:
    first_ms: float  # the first build ever: it writes the file lists
    lists_written: int
    rows: list[BuildRow]

    def summary(self) -> dict[str, float]:
        # CPU time beside wall time: on a machine shared with other work the wall clock mostly
        # measures the wait for a core.
        return {
            "median": statistics.median(r.design_ms for r in self.rows),
            "p95": percentile([r.design_ms for r in self.rows], 95),
            "cpu_median": statistics.median(r.design_cpu_ms for r in self.rows),
            "cpu_p95": percentile([r.design_cpu_ms for r in self.rows], 95),
            "flat_median": statistics.median(r.flat_ms for r in self.rows),
            "flat_cpu_median": statistics.median(r.flat_cpu_ms for r in self.rows),
            "ratio": statistics.median(r.flat_cpu_ms / r.design_cpu_ms for r in self.rows),
        }

    def largest(self, profile: str) -> BuildRow | None:
        rows = [r for r in self.rows if r.profile == profile]
        return max(rows, key=lambda r: r.flat_bytes) if rows else None


def percentile(samples: Sequence[float], p: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(p) - 1]


def _gzip_size(document: bytes) -> int:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)  # what the service stores, once
    return len(compressor.compress(document) + compressor.flush(zlib.Z_SYNC_FLUSH)) + 18


def bench_build(ds: Dataset, *, sites: int, rng: random.Random) -> BuildResult:
    from sqlalchemy import func, select

    from mediasrv.db import Database
    from mediasrv.delivery.manifest.models import FileList
    from mediasrv.sites.models import Site

    db = Database(ds.database_url)
    by_profile: dict[str, list[int]] = {}
    for site_id, profile in ds.profiles.items():
        by_profile.setdefault(profile, []).append(site_id)
    # First, one build per profile as after an upgrade: every file list is made and stored. Then
    # sites from scratch (no memory; lists read from the database) beside today's flat build.
    first_ms = 0.0
    for profile in sorted(by_profile):
        with db.session_scope() as session:
            site = session.get_one(Site, by_profile[profile][0])
            t0 = time.perf_counter()
            design_build(session, site, ds.today)
            first_ms = max(first_ms, (time.perf_counter() - t0) * 1000)
    with db.session_scope() as session:
        lists_written = int(session.scalar(select(func.count()).select_from(FileList)) or 0)
    print(
        f"  first build of each profile (writes the file lists): slowest {first_ms:.0f} ms,"
        f" {lists_written:,} lists"
    )
    order = ["iptv", "iptv", "mobile", "iptv-legacy", "pc"]
    sample = [rng.choice(by_profile[order[k % len(order)]]) for k in range(sites)]
    rows: list[BuildRow] = []
    for site_id in sample:
        with db.session_scope() as session:
            site = session.get_one(Site, site_id)
            profile = site.device_profile.value
            t0, c0 = time.perf_counter(), time.process_time()
            document = design_build(session, site, ds.today)
            t1, c1 = time.perf_counter(), time.process_time()
            flat = flat_build(session, site, ds.today)
            t2, c2 = time.perf_counter(), time.process_time()
        doc = json.loads(document)
        row = BuildRow(
            site_id,
            profile,
            len(doc["order"]),
            doc["file_count"],
            (t1 - t0) * 1000,
            (c1 - c0) * 1000,
            len(document),
            _gzip_size(document),
            (t2 - t1) * 1000,
            (c2 - c1) * 1000,
            len(flat),
            _gzip_size(flat),
        )
        rows.append(row)
        print(
            f"  site {site_id:6d} ({profile:11s}) {row.programmes} programmes, {row.files:,} files:"
            f" design {row.design_cpu_ms:5.1f} ms CPU ({row.design_ms:6.1f} wall),"
            f" {kib(row.design_bytes)} raw ({kib(row.design_gzip)} gzip);"
            f" flat {row.flat_cpu_ms:6.0f} ms CPU ({row.flat_ms:6.0f} wall),"
            f" {kib(row.flat_bytes)} raw ({kib(row.flat_gzip)} gzip);"
            f" {row.flat_bytes / row.design_bytes:5.0f}x fewer bytes",
            flush=True,
        )
    db.dispose()
    return BuildResult(first_ms, lists_written, rows)


def bench_publication(
    ds: Dataset, *, sample: int, classes: int, sites: int, head_ms: float, rng: random.Random
) -> dict[str, float]:
    """The cost of one publication: a programme put first on the required list every site has, so
    that every content changes. Each builder is warmed first (today's with every asset's file entries
    in memory, format 2 with every list's summary), as a server that has built them before; then
    the change, and `sample` contents rebuilt with each. Extrapolated to `classes` distinct list
    combinations and `sites` sites (each also gets its own head, signature and row: `head_ms`)."""
    from flat_manifest import PiecesCache
    from flat_manifest import build_content as flat_content
    from sqlalchemy import update

    from mediasrv.db import Database
    from mediasrv.delivery.manifest.build import Summaries, build_content
    from mediasrv.sites.models import Site
    from mediasrv.study.models import StudyListItem

    db = Database(ds.database_url)
    by_profile: dict[str, list[int]] = {}
    for site_id, profile in ds.profiles.items():
        by_profile.setdefault(profile, []).append(site_id)
    profiles = sorted(by_profile)
    chosen = [rng.choice(by_profile[profiles[k % len(profiles)]]) for k in range(sample)]
    pieces, summaries = PiecesCache(), Summaries()
    for site_id in chosen:  # warm: what the server holds from the builds before the change
        with db.session_scope() as session:
            site = session.get_one(Site, site_id)
            flat_content(session, site, on=ds.today, pieces_cache=pieces)
            build_content(session, site, on=ds.today, summaries=summaries)
    newcomer = ds.spare_ids[-1]
    with db.session_scope() as session:  # the publication: first on the required list
        session.execute(
            update(StudyListItem)
            .where(StudyListItem.study_list_id == ds.required_list_id)
            .values(position=StudyListItem.position + 1)
        )
        session.add(StudyListItem(study_list_id=ds.required_list_id, programme_id=newcomer, position=0))
    old_ms: list[float] = []
    new_ms: list[float] = []
    for site_id in chosen:
        with db.session_scope() as session:
            site = session.get_one(Site, site_id)
            t0 = time.process_time()  # CPU: the cost is CPU, and the machine may be shared
            flat_content(session, site, on=ds.today, pieces_cache=pieces)
            t1 = time.process_time()
            build_content(session, site, on=ds.today, summaries=summaries)
            t2 = time.process_time()
        old_ms.append((t1 - t0) * 1000)
        new_ms.append((t2 - t1) * 1000)
    with db.session_scope() as session:  # put the list back as it was
        session.execute(
            StudyListItem.__table__.delete().where(
                StudyListItem.study_list_id == ds.required_list_id, StudyListItem.programme_id == newcomer
            )
        )
        session.execute(
            update(StudyListItem)
            .where(StudyListItem.study_list_id == ds.required_list_id)
            .values(position=StudyListItem.position - 1)
        )
    db.dispose()
    per_sites = sites * head_ms / 1000
    result = {
        "old_class_ms": statistics.median(old_ms),
        "new_class_ms": statistics.median(new_ms),
        "old_s": classes * statistics.median(old_ms) / 1000 + per_sites,
        "new_s": classes * statistics.median(new_ms) / 1000 + per_sites,
        "sites_s": per_sites,
    }
    print(
        f"  one content after the change: today's {result['old_class_ms']:.0f} ms, format 2"
        f" {result['new_class_ms']:.1f} ms (medians of {sample}, the first format-2 one also writes the"
        f" new programme's lists)"
    )
    print(
        f"  x {classes} list combinations + {sites:,} sites x {head_ms:.2f} ms each (head, signature, row):"
        f" today's {result['old_s']:.0f} s, format 2 {result['new_s']:.0f} s of CPU"
        f" ({result['old_s'] / result['new_s']:.1f}x)"
    )
    return result


# --------------------------------------------------------------------------------------------------
# Processes: mediasrv, the bare baseline, nginx
# --------------------------------------------------------------------------------------------------


def bench_service(ds: Dataset, *, sites: int, rng: random.Random) -> dict[str, float]:
    """What the server does: ManifestService.current() per site. Sites with the same profile, quota
    and study lists share one content (built once per change); each site then costs its own head,
    the SHA-256 and CRC continued over it, a signature and one row."""
    from sqlalchemy import select

    from mediasrv import epochs
    from mediasrv.db import Database
    from mediasrv.delivery.manifest.store import ManifestService
    from mediasrv.sites.models import Site

    db = Database(ds.database_url)
    service = ManifestService(db, b"bench secret", epochs.EpochWatch(db))
    with db.session_scope() as session:
        epoch = epochs.read(session).get(epochs.MANIFESTS, 0)
        keys = {
            site.id: service.class_key(session, site, epoch, ds.today)
            for site in session.scalars(select(Site))
        }
    classes = set(keys.values())
    first: list[float] = []
    further: list[float] = []
    seen: set[Any] = set()
    polled = rng.sample(ds.site_ids, min(sites, len(ds.site_ids)))
    for site_id in polled:
        t0 = time.perf_counter()
        service.current(site_id, ds.today)
        ms = (time.perf_counter() - t0) * 1000
        (further if keys[site_id] in seen else first).append(ms)
        seen.add(keys[site_id])
    publication = bench_service_publication(ds, db, service, polled)
    db.dispose()
    return {
        "classes": len(classes),
        "first_median": statistics.median(first) if first else 0.0,
        "next_median": statistics.median(further) if further else float("nan"),
        "next_p95": percentile(further, 95) if further else float("nan"),
        "next_n": len(further),
        **publication,
    }


def bench_service_publication(ds: Dataset, db: Any, service: Any, polled: Sequence[int]) -> dict[str, float]:
    """What one publication costs each site in the server: a programme put first on the required
    list every site has (so every content changes), then each site polled so far polls once; its
    version row included, the contents rebuilt apart (timed around build.build_content). Measured
    twice: the baseline with each site's row written in its own transaction at its poll (the
    server's batch step switched off, as before), then, with the programme taken off again (another
    publication), as the server does it: the rows of sites alike written together at the first poll
    of their content. The list ends as it was."""
    from sqlalchemy import delete, update

    from mediasrv import epochs
    from mediasrv.delivery.manifest import build
    from mediasrv.study.models import StudyListItem

    def move(by: int) -> None:
        with db.session_scope() as session:
            if by < 0:
                session.execute(
                    delete(StudyListItem).where(
                        StudyListItem.study_list_id == ds.required_list_id,
                        StudyListItem.programme_id == newcomer,
                    )
                )
            session.execute(
                update(StudyListItem)
                .where(StudyListItem.study_list_id == ds.required_list_id)
                .values(position=StudyListItem.position + by)
            )
            if by > 0:
                session.add(
                    StudyListItem(study_list_id=ds.required_list_id, programme_id=newcomer, position=0)
                )
            epochs.bump(session, epochs.MANIFESTS)

    newcomer = ds.spare_ids[-1]
    real = build.build_content
    building: list[float] = [0.0, 0.0, 0]  # wall s, CPU s, contents

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            building[0] += time.perf_counter() - t0
            building[1] += time.process_time() - c0
            building[2] += 1

    def poll_all() -> dict[str, float]:
        building[:] = [0.0, 0.0, 0]
        build.build_content = timed
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            for site_id in polled:
                service.current(site_id, ds.today)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            build.build_content = real
        return {
            "site_ms": (wall - building[0]) / n * 1000,
            "site_cpu_ms": (cpu - building[1]) / n * 1000,
            "s": wall,
            "cpu_s": cpu,
            "contents": building[2],
            "contents_s": building[0],
            "contents_cpu_s": building[1],
        }

    n = len(polled)
    # Baseline: each site writes its own version at its own poll, one transaction each (as before the
    # versions of sites alike were written together): the batch step switched off.
    move(+1)
    batch = service._alike
    service._alike = lambda *args, **kwargs: ([], [])  # no sites alike: each writes its own
    try:
        old = poll_all()
    finally:
        service._alike = batch
    move(-1)  # a publication too: every content changes back
    new = poll_all()
    for label, r in (("a row per site at its poll (before)", old), ("rows per content (now)", new)):
        print(
            f"  one publication across {n:,} sites, {label}: {r['site_ms']:.2f} ms per site"
            f" ({r['site_cpu_ms']:.2f} ms CPU), {r['s']:.1f} s total ({r['cpu_s']:.1f} s CPU), of which"
            f" {r['contents_s']:.1f} s ({r['contents_cpu_s']:.1f} s CPU) rebuilding"
            f" {r['contents']:.0f} contents",
            flush=True,
        )
    return {
        "pub_sites": n,
        **{f"pub_old_{k}": v for k, v in old.items()},
        **{f"pub_{k}": v for k, v in new.items()},
    }


def mediasrv_argv(port: int) -> list[str]:
    script = Path(sys.executable).with_name("mediasrv")
    head = (
        [str(script)] if script.exists() else [sys.executable, "-c", "from mediasrv.cli import main; main()"]
    )
    return [*head, "serve", "--host", HOST, "--port", str(port)]


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    types {{ application/json json; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {{
        listen {host}:{port};
        root {root}/html;
        gzip_static on;
        etag on;
    }}
}}
"""


def start_nginx(procs: Processes, root: Path, port: int) -> subprocess.Popen[bytes]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, host=HOST, port=port, user=user))
    return procs.start(
        "nginx", [nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "nginx-error.log")]
    )


# --------------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------------

# Arguments after `--`: the sites file (site id, token, manifest ETag, playlist ETag; tab-separated),
# the mix ("m304:88,m200:2,p304:10"; kinds below), "count" to count statuses (buffers bodies),
# and for the static kinds the path and ETag of the file.
#   m304  manifest with If-None-Match       m200  manifest without it (full, gzip)
#   p304  playlist.m3u8 with If-None-Match  s304 / s200  the static file (nginx)
WRK_LUA = r"""
local sites, psites, kinds, bounds = {}, {}, {}, {}
local static_path, static_etag
counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for line in io.lines(args[1]) do
    local id, token, etag, petag = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if id then
      table.insert(sites, {id, token, etag, petag})
      if petag ~= "" then table.insert(psites, {id, token, etag, petag}) end
    end
  end
  local total = 0
  for kind, weight in args[2]:gmatch("(%w+):(%d+)") do
    total = total + tonumber(weight)
    table.insert(kinds, kind)
    table.insert(bounds, total)
  end
  for i = 1, #bounds do bounds[i] = bounds[i] / total end
  if args[3] ~= "count" then response = nil end
  static_path, static_etag = args[4], args[5]
  math.randomseed(os.time() * 100 + tid)
end

function request()
  local r, kind = math.random(), kinds[#kinds]
  for i = 1, #bounds do
    if r <= bounds[i] then kind = kinds[i] break end
  end
  local headers = {["Accept-Encoding"] = "gzip"}
  local path
  if kind == "s304" or kind == "s200" then
    path = static_path
    if kind == "s304" then headers["If-None-Match"] = static_etag end
  else
    local s
    if kind == "p304" then s = psites[math.random(#psites)] else s = sites[math.random(#sites)] end
    headers["Authorization"] = "Bearer " .. s[2]
    if kind == "p304" then
      path = "/api/v1/sites/" .. s[1] .. "/playlist.m3u8"
      headers["If-None-Match"] = s[4]
    else
      path = "/api/v1/sites/" .. s[1] .. "/manifest"
      if kind == "m304" then headers["If-None-Match"] = s[3] end
    end
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    if c then
      for status, n in pairs(c) do total[status] = (total[status] or 0) + n end
    end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  io.write(string.format("LATENCY p50=%d p99=%d max=%d\n",
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class WrkResult:
    label: str
    rps: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    transfer: str = ""

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def line(self) -> str:
        errs = ", ".join(f"{k} {v}" for k, v in self.socket_errors.items() if v) or "none"
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items())) or "-"
        return (
            f"{self.label:34s} {self.rps:9.0f} req/s  p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms"
            f"  ({self.requests} in {self.seconds:.1f} s, {self.transfer}/s; statuses {statuses};"
            f" non-2xx/3xx {self.non_2xx_3xx}; socket errors {errs})"
        )


@dataclass
class Load:
    lua: Path
    sites_file: Path
    threads: int
    timeout: str = TIMEOUT


def run_wrk(
    load: Load,
    label: str,
    url: str,
    *,
    mix: str,
    seconds: int,
    connections: int,
    count: bool,
    sites_file: Path | None = None,
    static: tuple[str, str] = ("/", ""),
    quiet: bool = False,
) -> WrkResult:
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        load.timeout,
        "-s",
        str(load.lua),
        url,
        "--",
        str(sites_file or load.sites_file),
        mix,
        "count" if count else "nocount",
        static[0],
        static[1],
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    result = parse_wrk(label, out.stdout)
    if not quiet:
        print("  " + result.line(), flush=True)
    return result


def parse_wrk(label: str, text: str) -> WrkResult:
    r = WrkResult(label)
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        r.rps = float(m.group(1))
    if m := re.search(r"Transfer/sec:\s+(\S+)", text):
        r.transfer = m.group(1)
    if m := re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text):
        r.requests = int(m.group(1))
        r.seconds = float(m.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(3)]
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        r.non_2xx_3xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        r.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    if m := re.search(r"^STATUS (.*)$", text, re.M):
        pairs = (part.split("=", 1) for part in m.group(1).split())
        r.statuses = {status: int(n) for status, n in pairs}
    if m := re.search(r"^LATENCY p50=(\d+) p99=(\d+) max=(\d+)", text, re.M):
        r.p50_ms, r.p99_ms, r.max_ms = (int(x) / 1000 for x in m.groups())
    return r


# --------------------------------------------------------------------------------------------------
# HTTP helpers, the delta step, learning ETags
# --------------------------------------------------------------------------------------------------


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    wire: bytes  # as sent (gzip when Content-Encoding says so); empty when the body was not read
    body: bytes  # decoded

    @property
    def version(self) -> int:
        return int(self.headers.get("x-manifest-version", "0"))


def fetch(client: Any, path: str, token: str, *, etag: str | None = None, read: bool = True) -> Fetched:
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    with client.stream("GET", path, headers=headers) as r:
        wire = b"".join(r.iter_raw()) if read else b""
        got = {k.lower(): v for k, v in r.headers.items()}
    body = gzip.decompress(wire) if wire and got.get("content-encoding") == "gzip" else wire
    return Fetched(r.status_code, got, wire, body)


def manifest_path(site_id: int, since: int | None = None) -> str:
    return f"/api/v1/sites/{site_id}/manifest" + (f"?since={since}" if since is not None else "")


@dataclass
class DeltaRow:
    programmes: int
    since: int
    version: int
    full_wire: int
    full_raw: int
    delta_wire: int
    delta_raw: int
    files_added: int
    files_removed: int
    programme_entries: int
    seconds_to_new_version: float
    applies: bool


def bench_delta(client: Any, ds: Dataset, site_id: int) -> list[DeltaRow]:
    """Add 1, then 10 programmes to the required list through the API; fetch ?since=<previous>."""
    from mediasrv.protocol.document import apply_delta

    token = ds.tokens[site_id]
    admin = {"Authorization": f"Bearer {ds.admin_token}"}
    before = fetch(client, manifest_path(site_id), token)
    assert before.status == 200, (before.status, before.body[:300])
    old_doc = json.loads(before.body)
    ids = list(ds.required_ids)
    spare = iter(ds.spare_ids)
    rows = []
    for n in (1, 10):
        ids += [next(spare) for _ in range(n)]
        t0 = time.perf_counter()
        r = client.patch(
            f"/api/v1/study-lists/{ds.required_list_id}", json={"programme_ids": ids}, headers=admin
        )
        r.raise_for_status()
        after = fetch(client, manifest_path(site_id), token, etag=before.headers.get("etag"))
        waited = time.perf_counter() - t0
        assert after.status == 200 and after.version > before.version, (after.status, after.version)
        delta = fetch(client, manifest_path(site_id, since=before.version), token)
        assert delta.status == 200, (delta.status, delta.body[:300])
        d = json.loads(delta.body)
        new_doc = json.loads(after.body)
        applies = "since" in d and apply_delta(old_doc, d) == new_doc
        rows.append(
            DeltaRow(
                programmes=n,
                since=before.version,
                version=after.version,
                full_wire=len(after.wire),
                full_raw=len(after.body),
                delta_wire=len(delta.wire),
                delta_raw=len(delta.body),
                files_added=sum(len(p["lists"]) for p in d.get("programmes", {}).get("added", [])),
                files_removed=len(d.get("programmes", {}).get("removed", [])),
                programme_entries=len(d.get("programmes", {}).get("added", [])),
                seconds_to_new_version=waited,
                applies=applies,
            )
        )
        row = rows[-1]
        print(
            f"  +{n:2d} required: version {row.since} -> {row.version} ({waited:.1f} s after the change);"
            f" delta {row.delta_wire / 1024:8.1f} KiB gzip ({row.delta_raw / 1024:8.1f} KiB raw),"
            f" full {row.full_wire / 1024:8.1f} KiB gzip ({row.full_raw / 1024:8.1f} KiB raw);"
            f" lists named +{row.files_added}, programmes -{row.files_removed},"
            f" entries {row.programme_entries};"
            f" apply_delta(old, delta) == new: {'yes' if applies else 'NO'}",
            flush=True,
        )
        before, old_doc = after, new_doc
    return rows


@dataclass
class Polled:
    site_id: int
    token: str
    etag: str
    playlist_etag: str = ""


def learn_etags(
    base: str, ds: Dataset, *, playlist_sites: int, workers: int = 8
) -> tuple[list[Polled], list[float], list[float]]:
    """Poll each polled site's manifest once (headers only) and some sites' playlists, for their
    ETags. Also returns how long each first manifest poll and each playlist took (ms)."""
    import httpx

    site_ids = sorted(ds.tokens)
    with_playlist = set(site_ids[:playlist_sites])
    manifest_ms: list[float] = []
    playlist_ms: list[float] = []

    def one(site_id: int) -> Polled:
        with httpx.Client(base_url=base, timeout=600.0) as client:
            t0 = time.perf_counter()
            got = fetch(client, manifest_path(site_id), ds.tokens[site_id], read=False)
            manifest_ms.append((time.perf_counter() - t0) * 1000)
            if got.status != 200 or "etag" not in got.headers:
                raise RuntimeError(f"site {site_id}: manifest answered {got.status} {got.headers}")
            polled = Polled(site_id, ds.tokens[site_id], got.headers["etag"])
            if site_id in with_playlist:
                t0 = time.perf_counter()
                pl = fetch(client, f"/api/v1/sites/{site_id}/playlist.m3u8", ds.tokens[site_id])
                playlist_ms.append((time.perf_counter() - t0) * 1000)
                if pl.status != 200 or "etag" not in pl.headers:
                    raise RuntimeError(f"site {site_id}: playlist.m3u8 answered {pl.status}")
                polled.playlist_etag = pl.headers["etag"]
            return polled

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, site_ids)), manifest_ms, playlist_ms


def write_sites_file(path: Path, polled: Sequence[Polled]) -> Path:
    path.write_text("".join(f"{p.site_id}\t{p.token}\t{p.etag}\t{p.playlist_etag}\n" for p in polled))
    return path


def check_304s(result: WrkResult) -> str:
    other = {k: v for k, v in result.statuses.items() if k != "304"}
    return "all 304" if not other else "NOT all 304: " + ", ".join(f"{k} x{v}" for k, v in other.items())


# --------------------------------------------------------------------------------------------------
# Set-up and main
# --------------------------------------------------------------------------------------------------


def ensure_tools() -> None:
    """wrk and nginx, from Debian's packages when missing (as root; otherwise say what to install)."""
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if not tool_path(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"bench/sites.py needs {' and '.join(missing)}: sudo apt-get install -y {' '.join(missing)}")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env
    )


def tool_path(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    return None


def raise_file_limit(wanted: int = 65536) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def server_env(data_dir: Path) -> dict[str, str]:
    """This environment without any MEDIASRV_* setting, pointed at the generated data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIASRV_")}
    env["MEDIASRV_DATA_DIR"] = str(data_dir)
    return env


def kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 2**20 else f"{n / 2**20:,.1f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sites", type=int, default=25_000)
    ap.add_argument("--programmes", type=int, default=5_000)
    ap.add_argument("--required", type=int, default=200)
    ap.add_argument("--optional", type=int, default=300, help="programmes on the optional list")
    ap.add_argument("--polled", type=int, default=1_000, help="sites with tokens that the load polls")
    ap.add_argument("--playlist-sites", type=int, default=100, help="polled sites whose playlist is polled")
    ap.add_argument("--build-sites", type=int, default=8, help="sites timed after the cold build")
    ap.add_argument("--publication-sites", type=int, default=10, help="contents rebuilt after a publication")
    ap.add_argument("--combinations", type=int, default=200, help="distinct list combinations to cost")
    ap.add_argument("--fleet", type=int, default=25_000, help="sites a publication is costed for")
    ap.add_argument("--service-sites", type=int, default=300, help="sites built through ManifestService")
    ap.add_argument("--duration", type=int, default=20, help="seconds of each throughput measurement")
    ap.add_argument("--soak", type=int, default=60, help="seconds of the mixed soak")
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--full-connections", type=int, default=50, help="connections for full (200) bodies")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--mix", default="m304:88,m200:2,p304:10", help="soak mix (kind:weight)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.serve_bare:
        serve_bare(ns.serve_bare)
        return

    import httpx

    ensure_tools()
    raise_file_limit()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks below
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    rng = random.Random(ns.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sites-"))
    procs = Processes(tmp)
    report = Report()
    started = time.monotonic()
    try:
        print(f"== data: {ns.sites} sites, {ns.programmes} programmes, {ns.required} required ({tmp})")
        ds = generate(
            tmp / "var",
            sites=ns.sites,
            programmes=ns.programmes,
            required=ns.required,
            optional=ns.optional,
            polled=ns.polled,
            seed=ns.seed,
        )
        print(
            f"  generated in {ds.seconds:.0f} s: {ds.file_rows:,} asset files, {len(ds.tokens)} site tokens"
        )

        print("== 1. build one site's manifest from scratch (format 2) vs today's flat build (format 1)")
        b = bench_build(ds, sites=ns.build_sites, rng=rng)
        s = b.summary()
        print(
            f"  format 2: median {s['cpu_median']:.1f} ms CPU (p95 {s['cpu_p95']:.1f}),"
            f" wall {s['median']:.1f} (p95 {s['p95']:.1f});"
            f" flat: median {s['flat_cpu_median']:.0f} ms CPU, wall"
            f" {s['flat_median']:.0f} ({s['ratio']:.0f}x the CPU)"
        )
        ok = s["cpu_median"] < BUILD_TARGET_MS
        print(
            f"  under {BUILD_TARGET_MS:.0f} ms of CPU: {verdict(ok)} (load average {os.getloadavg()[0]:.1f})"
        )
        report.add(
            f"build one site from scratch, CPU median of {len(b.rows)} (p95)",
            f"{s['cpu_median']:.1f} ms ({s['cpu_p95']:.1f})",
            f"flat {s['flat_cpu_median']:.0f} ms",
            f"{s['ratio']:.0f}x",
            f"< {BUILD_TARGET_MS:.0f} ms {verdict(ok)}",
        )
        report.add(
            "  the same, wall clock (p95)",
            f"{s['median']:.1f} ms ({s['p95']:.1f})",
            f"flat {s['flat_median']:.0f} ms",
        )
        report.add(
            "first build of a profile (writes its lists)",
            f"{b.first_ms:.0f} ms",
            f"{b.lists_written:,} lists",
        )
        for profile in ("mobile", "iptv"):
            row = b.largest(profile)
            if row is None:
                continue
            ratio = row.flat_bytes / row.design_bytes
            ok = ratio >= BYTES_RATIO_TARGET if profile == "mobile" else True
            report.add(
                f"{profile} manifest bytes, raw (gzip)",
                f"{kib(row.design_bytes)} ({kib(row.design_gzip)})",
                f"flat {kib(row.flat_bytes)} ({kib(row.flat_gzip)})",
                f"{ratio:.0f}x fewer",
                f">= {BYTES_RATIO_TARGET:.0f}x {verdict(ok)}" if profile == "mobile" else "",
            )

        print("== 1b. the server's build per site: a content shared by sites alike, then the site's own part")
        per_site = bench_service(ds, sites=ns.service_sites, rng=rng)
        print(
            f"  {per_site['classes']:,} distinct contents for {len(ds.site_ids):,} sites"
            " (profile, quota, study lists)"
        )
        print(
            f"  first site of a content: median {per_site['first_median']:.0f} ms;"
            f" any further site: median {per_site['next_median']:.1f} ms, p95 {per_site['next_p95']:.1f} ms"
            f" ({per_site['next_n']} sites)"
        )
        ok = per_site["next_median"] < BUILD_TARGET_MS
        print(f"  a site's manifest under {BUILD_TARGET_MS:.0f} ms once its content exists: {verdict(ok)}")
        report.add(
            "server: site part / content (median)",
            f"{per_site['next_median']:.1f} ms / {per_site['first_median']:.0f} ms",
            f"{per_site['classes']:,} contents",
            "",
            f"< {BUILD_TARGET_MS:.0f} ms {verdict(ok)}",
        )

        report.add(
            f"one publication, per site ({per_site['pub_sites']:,.0f} sites' first poll)",
            f"{per_site['pub_site_ms']:.2f} ms ({per_site['pub_site_cpu_ms']:.2f} CPU)",
            f"row per site {per_site['pub_old_site_ms']:.2f} ms ({per_site['pub_old_site_cpu_ms']:.2f} CPU)",
            f"{per_site['pub_old_site_ms'] / per_site['pub_site_ms']:.1f}x",
            f"total {per_site['pub_s']:.1f} s vs {per_site['pub_old_s']:.1f} s",
        )
        print(
            f"== 1c. one publication across {ns.sites:,} sites, {ns.combinations} distinct list combinations"
        )
        cost = bench_publication(
            ds,
            sample=ns.publication_sites,
            classes=ns.combinations,
            sites=ns.fleet,
            head_ms=per_site["pub_site_cpu_ms"],
            rng=rng,
        )
        report.add(
            f"one publication, {ns.combinations} combinations, {ns.fleet:,} sites",
            f"{cost['new_s']:.0f} s CPU",
            f"today {cost['old_s']:.0f} s",
            f"{cost['old_s'] / cost['new_s']:.1f}x",
            f"a content {cost['new_class_ms']:.1f} ms vs {cost['old_class_ms']:.0f} ms",
        )

        print("== servers")
        port, bare_port, nginx_port = free_port(), free_port(), free_port()
        env = server_env(ds.data_dir)
        base = f"http://{HOST}:{port}"
        ms = procs.start("mediasrv", mediasrv_argv(port), env=env)
        wait_until_up(f"{base}/healthz", ms)
        bare = procs.start(
            "bare", [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(bare_port)]
        )
        wait_until_up(f"http://{HOST}:{bare_port}/docs", bare)
        print(f"  mediasrv serve on {base}, bare FastAPI 304 on :{bare_port} (uvicorn, same options)")
        client = httpx.Client(base_url=base, timeout=600.0)
        probe_site = sorted(ds.tokens)[0]
        probe = fetch(client, manifest_path(probe_site), ds.tokens[probe_site], read=False)
        if probe.status == 404:
            sys.exit("GET /api/v1/sites/{id}/manifest answers 404: the manifest route is not there yet.")

        print("== 2. delta size after a change (through the API)")
        iptv_site = next(i for i in sorted(ds.tokens) if ds.profiles[i] == "iptv")
        deltas = bench_delta(client, ds, iptv_site)
        for row in deltas:
            report.add(
                f"delta after +{row.programmes} required programme(s)",
                f"{kib(row.delta_wire)} gzip",
                f"full {kib(row.full_wire)}",
                f"{row.delta_wire / row.full_wire:.4f}",
                f"lists +{row.files_added}; applies: {'yes' if row.applies else 'NO'}",
            )

        print(f"== learning ETags of {len(ds.tokens)} polled sites ({ns.playlist_sites} playlists)")
        t0 = time.perf_counter()
        polled, first_ms, playlist_ms = learn_etags(base, ds, playlist_sites=ns.playlist_sites)
        print(
            f"  done in {time.perf_counter() - t0:.0f} s (8 clients): a site's first manifest poll median"
            f" {statistics.median(first_ms):.0f} ms, p95 {percentile(first_ms, 95):.0f} ms; playlist.m3u8"
            f" median {statistics.median(playlist_ms):.0f} ms, p95 {percentile(playlist_ms, 95):.0f} ms"
        )
        report.add(
            "first poll of a site / playlist.m3u8 (median)",
            f"{statistics.median(first_ms):.0f} / {statistics.median(playlist_ms):.0f} ms",
        )
        sites_file = write_sites_file(tmp / "sites.tsv", polled)
        lua = tmp / "poll.lua"
        lua.write_text(WRK_LUA)
        load = Load(lua, sites_file, ns.threads)

        print(
            f"== 3. 304 polls: bare FastAPI vs mediasrv ({ns.connections} connections, {ns.duration} s each)"
        )
        run = run_wrk
        conns = ns.connections
        run(
            load,
            "warm-up",
            f"http://{HOST}:{bare_port}",
            mix="m304:1",
            seconds=3,
            connections=conns,
            count=False,
            quiet=True,
        )
        bare304 = run(
            load,
            "bare FastAPI 304",
            f"http://{HOST}:{bare_port}",
            mix="m304:1",
            seconds=ns.duration,
            connections=conns,
            count=True,
        )
        run(load, "warm-up", base, mix="m304:1", seconds=3, connections=conns, count=False, quiet=True)
        ms304 = run(
            load,
            "mediasrv manifest 304",
            base,
            mix="m304:1",
            seconds=ns.duration,
            connections=conns,
            count=True,
        )
        procs.stop("bare")
        ratio = ms304.rps / bare304.rps if bare304.rps else 0.0
        print(
            f"  mediasrv/bare = {ratio:.2f} (target >= {POLL_RATIO_TARGET}):"
            f" {verdict(ratio >= POLL_RATIO_TARGET)}; mediasrv answers: {check_304s(ms304)}"
        )
        report.add(
            f"manifest 304 polls, {conns} conns",
            f"{ms304.rps:,.0f} req/s",
            f"bare {bare304.rps:,.0f} req/s",
            f"{ratio:.2f}",
            f">= {POLL_RATIO_TARGET} {verdict(ratio >= POLL_RATIO_TARGET and ms304.errors == 0)}",
        )

        print(
            "== 4. the same manifest as a static file: nginx (1 worker) beside mediasrv"
            f" ({ns.full_connections} connections for full bodies)"
        )
        one = next(p for p in polled if p.site_id == iptv_site)
        full = fetch(client, manifest_path(one.site_id), one.token)
        html = tmp / "nginx" / "html"
        html.mkdir(parents=True)
        (html / "manifest.json").write_bytes(full.body)
        (html / "manifest.json.gz").write_bytes(full.wire)
        nginx = start_nginx(procs, tmp / "nginx", nginx_port)
        nbase = f"http://{HOST}:{nginx_port}"
        wait_until_up(f"{nbase}/manifest.json", nginx)
        nginx_etag = httpx.get(f"{nbase}/manifest.json", headers={"Accept-Encoding": "gzip"}).headers["etag"]
        print(
            f"  file: {kib(len(full.body))} raw, {kib(len(full.wire))} gzip (site {one.site_id}, version"
            f" {full.version})"
        )
        one_file = write_sites_file(tmp / "one-site.tsv", [one])
        static = ("/manifest.json", nginx_etag)
        run(
            load,
            "warm-up",
            nbase,
            mix="s304:1",
            seconds=3,
            connections=conns,
            count=False,
            static=static,
            quiet=True,
        )
        ng304 = run(
            load,
            "nginx manifest.json 304",
            nbase,
            mix="s304:1",
            seconds=ns.duration,
            connections=conns,
            count=True,
            static=static,
        )
        fc = ns.full_connections
        ng200 = run(
            load,
            "nginx manifest.json.gz 200",
            nbase,
            mix="s200:1",
            seconds=ns.duration,
            connections=fc,
            count=False,
            static=static,
        )
        ms200 = run(
            load,
            "mediasrv manifest 200 (gzip)",
            base,
            mix="m200:1",
            seconds=ns.duration,
            connections=fc,
            count=False,
            sites_file=one_file,
        )
        procs.stop("nginx")
        report.add(
            f"304, nginx static file, {conns} conns",
            f"{ms304.rps:,.0f} req/s",
            f"nginx {ng304.rps:,.0f} req/s",
            f"{ms304.rps / ng304.rps:.2f}" if ng304.rps else "-",
        )
        report.add(
            f"full manifest 200 gzip, {fc} conns",
            f"{ms200.rps:,.1f} req/s ({ms200.transfer}/s)",
            f"nginx {ng200.rps:,.1f} req/s ({ng200.transfer}/s)",
            f"{ms200.rps / ng200.rps:.2f}" if ng200.rps else "-",
            f"errors {ms200.errors} / {ng200.errors}",
        )

        print(f"== 5. soak: {conns} connections for {ns.soak} s, mix {ns.mix} (wrk --timeout {TIMEOUT})")
        soak = run(load, "mediasrv soak", base, mix=ns.mix, seconds=ns.soak, connections=conns, count=True)
        ok = soak.errors == 0 and soak.requests > 0
        print(f"  zero errors: {verdict(ok)}")
        for line in procs.errors("mediasrv"):
            print(f"  mediasrv logged: {line}")
        errs = soak.non_2xx_3xx + sum(soak.socket_errors.values())
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(soak.statuses.items()))
        report.add(
            f"soak {ns.soak} s, {conns} conns ({ns.mix})",
            f"{soak.rps:,.0f} req/s, p99 {soak.p99_ms:.0f} ms",
            statuses,
            "",
            f"0 errors {verdict(ok)} ({errs})",
        )
        client.close()

        print(
            f"\n== summary ({os.cpu_count()} cores, {ns.sites} sites, {ns.programmes} programmes,"
            f" {ns.required} required; {time.monotonic() - started:.0f} s)"
        )
        report.print()
    except Exception:
        for line in procs.errors("mediasrv"):
            print(f"mediasrv logged: {line}", file=sys.stderr)
        raise
    finally:
        procs.stop_all()
        if ns.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every server started here was stopped")
