"""Search latency on generated Chinese programmes: mediasrv's design against a naive baseline.

    .venv/bin/python bench/search.py [--docs 20000] [--queries 200] [--seed 1] [--index-dir DIR]
    .venv/bin/python bench/search.py --docs 100000   # the catalog's size; building both indexes
                                                     # takes ~15 min on 2 cores (whoosh is pure Python)

    .venv/bin/python bench/search.py --writes 20 --queries 1000 --no-baseline
                                                     # one index write every 20 queries: caches
                                                     # carried across writes against dropped

--index-dir keeps both indexes there and reuses them on the next run with the same --docs and --seed
(the design index is rebuilt when its fingerprint no longer matches the generated programmes, e.g.
after an analysis change). --no-baseline skips the naive index (its build is the slower one).

Generates programmes from a vocabulary of domain words, builds the SearchIndex (timed), and a naive
index with the same analysis but one field per source (title, description, tags, category names,
attachment, title pinyin). Then runs the same queries (single word, two words, pinyin initials and
prefixes, mixed Chinese/English, filtered) against both in the same process: the design through
SearchIndex.search with its result cache off, starting from a fresh process (term postings, filter
sets and the date order fill their caches as the queries come, as in a running API process), the
baseline as a MultifieldParser OR query with a fresh searcher per query. Prints p50/p95/p99 for each
and the ratios, the design's CPU time per query (what the wall clock shows on a shared machine is
mostly waiting for a core), then its figures for a second pass over the same queries (warm caches).

--writes N: a publication every N queries. A writer (as the worker process) upserts one programme:
a new one, or every other time a changed title of an existing one (a deletion in an old segment).
Two SearchIndex objects read the index as two API processes would, one carrying its caches across
writes (what mediasrv does), one dropping them all at each write (keep_warm=False, the former
behaviour); each query runs on both, in alternating order, after one warm-up pass over the queries.
Prints both p50/p95/p99 (wall and CPU) and the ratio, and what the carrying one hit, carried and
read. With --index-dir the writes go to a copy: the kept index stays reusable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup

from mediasrv.search.index import SearchDoc, SearchIndex
from mediasrv.search.text import ChineseTokenizer, pinyin_tokens

_VOCABULARY = (
    "党建 乡村振兴 党史 学习 农业技术 种植 养殖 法律 健康 先进典型 电教片 党员 组织生活 基层治理 "
    "理论 政策 解读 讲座 专题 教育 培训 示范 经验 交流 村务 公开 脱贫 攻坚 产业 发展 生态 环境 "
    "保护 文明 乡风 治理 合作社 电商 直播 科技 创新 民生 保障 医疗 卫生 防疫 安全 生产 消防 "
    "禁毒 反诈 普法 宪法 民法典 土地 流转 水稻 小麦 玉米 果树 蔬菜 大棚 生猪 家禽 水产 渔业 "
    "林业 茶叶 中药材 传统 文化 红色 故事 英雄 模范 人物 书记 带头人 驻村 工作队 网格员 "
    "志愿者 服务 老年人 儿童 妇女 就业 创业 技能 职业 党课 主题党日 三会一课 廉政 警示"
)
WORDS = _VOCABULARY.split()
LATIN = ("IPTV", "App", "党建云", "机顶盒", "4K", "HLS", "Wi-Fi")
CATEGORIES = {
    "party-history": "党史教育 Party history",
    "rural": "乡村振兴 Rural revitalisation",
    "agri-tech": "农业技术 Agricultural technology",
    "law": "法律法规 Law",
    "health": "卫生健康 Health",
    "models": "先进典型 Role models",
    "org-life": "组织生活 Party organisation life",
    "governance": "基层治理 Grassroots governance",
}
KINDS = ("video", "video", "video", "audio", "document")


def make_docs(n: int, rng: random.Random) -> list[SearchDoc]:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    docs = []
    for i in range(n):
        title_words = rng.sample(WORDS, rng.randint(2, 4))
        if rng.random() < 0.05:
            title_words.insert(rng.randrange(len(title_words) + 1), rng.choice(LATIN))
        title = "".join(title_words) + rng.choice(
            ("", "", f" 第{rng.randint(1, 30)}集", "专题讲座", "（上）")
        )
        desc_words = [rng.choice(WORDS) for _ in range(rng.randint(15, 40))]
        if rng.random() < 0.05:
            desc_words.append(rng.choice(LATIN))
        kind = rng.choice(KINDS)
        category = rng.choice(list(CATEGORIES))
        docs.append(
            SearchDoc(
                id=f"p{i:06d}",
                title=title,
                description="，".join(" ".join(desc_words[j : j + 5]) for j in range(0, len(desc_words), 5))
                + "。",
                tags=tuple(rng.sample(WORDS, rng.randint(1, 3))),
                category=category,
                category_names=CATEGORIES[category],
                kind=kind,
                duration=0.0 if kind == "document" else float(rng.randint(60, 5400)),
                required=rng.random() < 0.1,
                published_at=start + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60)),
            )
        )
    return docs


def make_queries(docs: list[SearchDoc], n: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    initials = [t for d in rng.sample(docs, 200) for t in pinyin_tokens(d.title) if len(t) in (3, 4)]
    shapes: list[Callable[[], tuple[str, dict[str, Any]]]] = [
        lambda: (rng.choice(WORDS), {}),
        lambda: (f"{rng.choice(WORDS)} {rng.choice(WORDS)}", {}),
        lambda: (rng.choice(initials), {}),
        lambda: (rng.choice(("党建 app", "IPTV 机顶盒", "党建云 App", "HLS 直播", "4K 电教片")), {}),
        lambda: (rng.choice(WORDS), {"category": rng.choice(list(CATEGORIES))}),
        lambda: (rng.choice(WORDS), {"kind": "video", "min_duration": 600.0, "max_duration": 3600.0}),
        lambda: (f"{rng.choice(WORDS)} {rng.choice(WORDS)}", {"required": True, "kind": "video"}),
    ]
    return [rng.choice(shapes)() for _ in range(n)]


def naive_schema() -> Schema:
    cn = ChineseTokenizer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=cn, stored=True),
        description=TEXT(analyzer=cn, stored=True),
        tags=TEXT(analyzer=cn),
        category_names=TEXT(analyzer=cn),
        attachment=TEXT(analyzer=cn),
        py=KEYWORD(),
        category=ID(),
        kind=ID(),
        required=ID(),
        duration=NUMERIC(numtype=float, bits=64),
        published=STORED(),
    )


def build_naive(directory: Path, docs: list[SearchDoc]) -> Any:
    ix = whoosh_index.create_in(str(directory), naive_schema())
    writer = ix.writer()
    for d in docs:
        writer.add_document(
            id=d.id,
            title=d.title,
            description=d.description,
            tags=" ".join(d.tags),
            category_names=d.category_names,
            attachment=d.attachment_text,
            py=" ".join(pinyin_tokens(d.title)),
            category=d.category,
            kind=d.kind,
            required="1" if d.required else "0",
            duration=d.duration,
            published=d.published_at.timestamp(),
        )
    writer.commit()
    return ix


def naive_search(ix: Any, text: str, filters: dict[str, Any]) -> int:
    parser = MultifieldParser(
        ["title", "description", "tags", "category_names", "attachment", "py"],
        schema=ix.schema,
        fieldboosts={"title": 5.0, "py": 5.0},
        group=OrGroup,
    )
    q = parser.parse(text)
    parts: list[wq.Query] = []
    for name in ("category", "kind"):
        if name in filters:
            parts.append(wq.Term(name, filters[name]))
    if "required" in filters:
        parts.append(wq.Term("required", "1" if filters["required"] else "0"))
    if "min_duration" in filters:
        parts.append(wq.NumericRange("duration", filters["min_duration"], filters["max_duration"]))
    with ix.searcher() as searcher:
        results = searcher.search(q, filter=wq.And(parts) if parts else None, limit=20)
        [hit["title"] for hit in results]
        return len(results)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49] * 1000, qs[94] * 1000, qs[98] * 1000


def design_index(directory: Path, docs: list[SearchDoc], reuse: bool) -> SearchIndex:
    index = SearchIndex(directory, result_cache_size=0)
    fresh = reuse and whoosh_index.exists_in(str(directory))
    if fresh and index.fingerprint() == SearchIndex.doc_fingerprint(docs):
        print(f"design: reusing the index of {len(docs)} programmes in {directory}")
        t0 = time.perf_counter()
        written = index.write_sidecars()  # an index written before sidecars existed has none
        if written:
            print(f"design: wrote {written} postings sidecar(s) in {time.perf_counter() - t0:.1f} s")
        return SearchIndex(directory, result_cache_size=0)  # a fresh process's caches
    t0 = time.perf_counter()
    index.rebuild(docs)
    print(f"design: built {len(docs)} programmes in {time.perf_counter() - t0:.1f} s")
    return SearchIndex(directory, result_cache_size=0)


def naive_index(directory: Path, docs: list[SearchDoc], seed: int, reuse: bool) -> Any:
    stamp = directory / "bench.json"
    wanted = {"docs": len(docs), "seed": seed}
    if reuse and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"naive:  reusing the index of {len(docs)} programmes in {directory}")
        return whoosh_index.open_dir(str(directory))
    directory.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    naive = build_naive(directory, docs)
    print(f"naive:  built {len(docs)} programmes in {time.perf_counter() - t0:.1f} s")
    stamp.write_text(json.dumps(wanted))
    return naive


def _rss_mb() -> int:
    """This process's resident memory in MB (Linux; 0 elsewhere), the sidecar pages it touched included."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    rss = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmRSS"))
    return int(rss) // 1024


def run_writes(
    directory: Path, docs: list[SearchDoc], queries: list[tuple[str, dict[str, Any]]], every: int
) -> None:
    """Queries interleaved with one write every `every` queries, caches carried against dropped."""
    rng = random.Random(7)
    writer = SearchIndex(directory, result_cache_size=0)
    readers = {
        "carried": SearchIndex(directory, result_cache_size=0),
        "dropped": SearchIndex(directory, result_cache_size=0, keep_warm=False),
    }
    for index in readers.values():  # a running API process: its caches filled by earlier queries
        for text, filters in queries:
            index.search(text, **filters)
    wall: dict[str, list[float]] = {name: [] for name in readers}
    cpu: dict[str, list[float]] = {name: [] for name in readers}
    readers["carried"].cache_stats.clear()
    written = 0
    t_write = 0.0
    for i, (text, filters) in enumerate(queries):
        if i and i % every == 0:
            if written % 2:  # a changed title: the old version's deletion lands in an old segment
                old = rng.choice(docs)
                doc = dataclasses.replace(old, title=old.title + f" 修订{written}")
            else:
                doc = make_docs(1, rng)[0]
                doc = dataclasses.replace(doc, id=f"w{written:05d}", published_at=datetime.now(UTC))
            t0 = time.perf_counter()
            writer.upsert([doc])
            t_write += time.perf_counter() - t0
            written += 1
        names = list(readers) if i % 2 == 0 else list(reversed(readers))  # neither always goes first
        for name in names:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            readers[name].search(text, **filters)
            elapsed = time.perf_counter() - t0
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(elapsed)
    with writer._index().reader() as reader:
        segments = len(reader.leaf_readers())
    print(
        f"{len(queries)} queries on {len(docs)} programmes, {written} writes (one every {every} queries,"
        f" {t_write / max(written, 1) * 1000:.0f} ms each), {segments} segment(s) at the end"
    )
    for name in readers:
        p50, p95, p99 = percentiles(wall[name])
        c50, c95, c99 = percentiles(cpu[name])
        print(
            f"caches {name}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
            f"   CPU p50 {c50:6.1f} ms  p95 {c95:6.1f} ms  p99 {c99:6.1f} ms"
        )
    ratios = [d / c for d, c in zip(percentiles(wall["dropped"]), percentiles(wall["carried"]), strict=True)]
    cpu_ratios = [
        d / c for d, c in zip(percentiles(cpu["dropped"]), percentiles(cpu["carried"]), strict=True)
    ]
    print(
        f"ratio dropped/carried: p50 {ratios[0]:.2f}x  p95 {ratios[1]:.2f}x  p99 {ratios[2]:.2f}x"
        f"   CPU p50 {cpu_ratios[0]:.2f}x  p95 {cpu_ratios[1]:.2f}x  p99 {cpu_ratios[2]:.2f}x"
    )
    stats = readers["carried"].cache_stats
    print("carried caches, per cache (hit / carried / read):")
    for cache in ("postings", "filters", "lengths", "date"):
        hit, carried, read = (stats[f"{cache}.{outcome}"] for outcome in ("hit", "carried", "read"))
        print(f"  {cache:9s} {hit:7d} / {carried:5d} / {read:5d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--index-dir", type=Path, help="keep the indexes here and reuse them")
    ap.add_argument(
        "--no-baseline", action="store_true", help="design only, while iterating (no naive index or ratios)"
    )
    ap.add_argument(
        "--writes",
        type=int,
        default=0,
        metavar="N",
        help="one index write every N queries: caches carried across writes against dropped (no baseline)",
    )
    ns = ap.parse_args()
    rng = random.Random(ns.seed)
    docs = make_docs(ns.docs, rng)
    queries = make_queries(docs, ns.queries, rng)
    with tempfile.TemporaryDirectory() as tmp:
        root = ns.index_dir or Path(tmp)
        index = design_index(root / "design", docs, reuse=ns.index_dir is not None)
        if ns.writes > 0:
            target = root / "design"
            if ns.index_dir is not None:  # keep the reusable index as it is
                target = Path(tmp) / "writes"
                shutil.copytree(root / "design", target)
            run_writes(target, docs, queries, ns.writes)
            return
        naive = (
            None if ns.no_baseline else naive_index(root / "naive", docs, ns.seed, ns.index_dir is not None)
        )

        index.search("党建")  # open the searcher once, as a running API process has
        rss_before = _rss_mb()
        design_t: list[float] = []
        design_cpu: list[float] = []  # this thread's CPU time: the machine may be shared
        naive_t: list[float] = []
        shape_t: dict[str, list[tuple[float, int]]] = {}
        for text, filters in queries:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            page = index.search(text, **filters)
            elapsed = time.perf_counter() - t0  # the CPU clock's reads stay outside the wall window
            design_cpu.append(time.thread_time() - c0)
            design_t.append(elapsed)
            if naive is not None:
                t0 = time.perf_counter()
                naive_search(naive, text, filters)
                naive_t.append(time.perf_counter() - t0)
            shape = (
                "filtered" if filters else ("pinyin" if text.isascii() else f"{len(text.split())} word(s)")
            )
            shape_t.setdefault(shape, []).append((elapsed, page.total))
        print(f"{len(queries)} queries on {len(docs)} programmes")
        for name, samples in (("design", design_t), ("naive ", naive_t)):
            if samples:
                p50, p95, p99 = percentiles(samples)
                print(
                    f"{name}: p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms"
                    f"  max {max(samples) * 1000:7.1f} ms"
                )
        if naive_t:
            d50, d95, d99 = percentiles(design_t)
            n50, n95, n99 = percentiles(naive_t)
            print(f"ratio naive/design: p50 {n50 / d50:.1f}x  p95 {n95 / d95:.1f}x  p99 {n99 / d99:.1f}x")
        c50, c95, c99 = percentiles(design_cpu)
        print(f"design, CPU time per query: p50 {c50:7.1f} ms  p95 {c95:7.1f} ms  p99 {c99:7.1f} ms")
        warm = []
        for text, filters in queries:  # same queries again: postings, filter sets and order cached
            t0 = time.perf_counter()
            index.search(text, **filters)
            warm.append(time.perf_counter() - t0)
        w50, w95, w99 = percentiles(warm)
        print(
            "design, second pass (warm caches, result cache still off): "
            f"p50 {w50:.1f} ms  p95 {w95:.1f} ms  p99 {w99:.1f} ms"
        )
        if rss_before:
            print(f"design, resident memory of the caches after both passes: +{_rss_mb() - rss_before} MB")
        for shape, rows in sorted(shape_t.items()):
            times = sorted(r[0] for r in rows)
            worst = times[-1] * 1000
            mean_total = statistics.mean(r[1] for r in rows)
            print(f"  design {shape:10s} n={len(rows):3d} median {times[len(times) // 2] * 1000:6.1f} ms")
            print(f"  {'':17s} max {worst:6.1f} ms, mean matches {mean_total:8.0f}")


if __name__ == "__main__":
    main()
