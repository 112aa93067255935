"""The search engine on its own: Chinese segmentation, pinyin, folding, filters, ranking, writers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from mediasrv.search import index as search
from mediasrv.search.index import SearchDoc, SearchIndex

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def doc(doc_id: str, title: str, description: str = "", **kw: Any) -> SearchDoc:
    fields: dict[str, Any] = {
        "tags": (),
        "category": "party-history",
        "category_names": "党史教育 Party history",
        "kind": "video",
        "duration": 1200.0,
        "required": False,
        "published_at": T0,
    }
    fields.update(kw)
    return SearchDoc(id=doc_id, title=title, description=description, **fields)


DOCS = [
    doc("rural", "全面推进乡村振兴战略", "讲解新时代农村工作", published_at=day(1)),
    doc("rural-desc", "农业技术讲座", "种植养殖技术助力乡村振兴", category="agri-tech", published_at=day(2)),
    doc(
        "cloud",
        "党建云平台使用指南",
        "手机 App 登录与学习记录",
        tags=("党建", "操作指南"),
        published_at=day(3),
    ),
    doc("history", "党史学习教育专题片", "百年党史", required=True, duration=3000.0, published_at=day(4)),
    doc(
        "iptv",
        "IPTV 机顶盒安装与调试",
        "村级站点终端维护",
        kind="document",
        duration=0.0,
        tags=("终端",),
        category="governance",
        category_names="基层治理 Governance",
        published_at=day(5),
    ),
    doc(
        "audio",
        "组织生活会 音频党课",
        "三会一课",
        kind="audio",
        duration=600.0,
        required=True,
        tags=("党课",),
        category="org-life",
        category_names="组织生活 Party life",
        published_at=day(6),
    ),
    doc("html", "<b>警示</b> & 教育", "廉政<script>alert(1)</script>教育片", published_at=day(7)),
    doc("trad", "鄉村振興 繁體版", "臺灣地區黨員教育", published_at=day(8)),
    doc(
        "attach",
        "讲义下载",
        "配套讲义",
        kind="document",
        duration=0.0,
        attachment_text="第一章 基层党组织建设。第二章 网格化管理与基层治理实践。",
        published_at=day(9),
    ),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("search"))
    ix.ensure()
    assert ix.rebuild(DOCS) == len(DOCS)
    return ix


def ids(index: SearchIndex, q: str, **kw: Any) -> list[str]:
    return [h.id for h in index.search(q, **kw).hits]


def test_segmentation_finds_words_inside_sentences(index: SearchIndex) -> None:
    assert "rural" in ids(index, "乡村振兴")
    assert "rural" in ids(index, "振兴")  # a shorter word inside the indexed one


def test_pinyin_initials_full_and_prefixes(index: SearchIndex) -> None:
    for q in ("djy", "dj", "dangjianyun", "dangj", "dang jian yun", "DJY"):
        assert ids(index, q)[:1] == ["cloud"], q
    assert "rural" in ids(index, "xczx")  # initials from a word inside the title
    assert ids(index, "qmtjxczxzl") == ["rural"]  # all ten initials
    assert ids(index, "quanmiantuijinxiangcun") == ["rural"]  # longer than the indexed prefixes


def test_traditional_and_simplified_meet(index: SearchIndex) -> None:
    assert "history" in ids(index, "黨史學習")
    assert "trad" in ids(index, "乡村振兴")  # traditional title, simplified query
    assert "trad" in ids(index, "台湾")


def test_full_width_latin(index: SearchIndex) -> None:
    assert ids(index, "ＩＰＴＶ") == ["iptv"]
    assert ids(index, "iptv") == ["iptv"]


def test_mixed_chinese_english(index: SearchIndex) -> None:
    assert ids(index, "党建 app") == ["cloud"]
    assert ids(index, "IPTV 机顶盒") == ["iptv"]
    assert ids(index, "IPTV 乡村振兴") == []  # AND across words


def test_title_match_outranks_description_match(index: SearchIndex) -> None:
    found = ids(index, "乡村振兴")
    assert found.index("rural") < found.index("rural-desc")
    assert found.index("trad") < found.index("rural-desc")


def test_other_fields_are_searched(index: SearchIndex) -> None:
    assert ids(index, "操作指南") == ["cloud"]  # tag
    assert "iptv" in ids(index, "governance")  # category names
    assert ids(index, "网格化") == ["attach"]  # attachment text


def test_filters_each_and_combined(index: SearchIndex) -> None:
    assert set(ids(index, "", category="agri-tech")) == {"rural-desc"}
    assert set(ids(index, "", tag="党课")) == {"audio"}
    assert set(ids(index, "", tag="党")) == set()  # tags match exactly
    assert set(ids(index, "", required=True)) == {"history", "audio"}
    assert "history" not in ids(index, "", required=False)
    assert set(ids(index, "", kind="document")) == {"iptv", "attach"}
    assert set(ids(index, "", min_duration=1000)) == {d.id for d in DOCS if d.duration >= 1000}
    assert set(ids(index, "", max_duration=700)) == {"audio", "iptv", "attach"}
    assert set(ids(index, "", min_duration=500, max_duration=700)) == {"audio"}
    assert set(ids(index, "", required=True, kind="audio", min_duration=100)) == {"audio"}
    assert ids(index, "党课", required=True, kind="video") == []
    assert ids(index, "乡村振兴", category="agri-tech") == ["rural-desc"]
    assert ids(index, "", category="no-such-category") == []


def test_browse_and_date_sort(index: SearchIndex) -> None:
    everything = index.search("")
    by_date = sorted(DOCS, key=lambda d: d.published_at, reverse=True)
    assert [h.id for h in everything.hits] == [d.id for d in by_date]
    assert everything.total == len(DOCS)
    assert ids(index, "乡村振兴", sort="date") == ["trad", "rural-desc", "rural"]


def test_pagination(index: SearchIndex) -> None:
    first = index.search("", per_page=4)
    second = index.search("", per_page=4, page=2)
    third = index.search("", per_page=4, page=3)
    assert first.total == second.total == len(DOCS)
    assert (second.page, second.per_page) == (2, 4)
    seen = [h.id for h in first.hits + second.hits + third.hits]
    assert len(seen) == len(set(seen)) == len(DOCS)
    page2 = index.search("教育", per_page=1, page=2)
    assert page2.total > 1 and [h.id for h in page2.hits] == ids(index, "教育")[1:2]


def test_highlighting_and_escaping(index: SearchIndex) -> None:
    (hit,) = index.search("乡村振兴", category="agri-tech").hits
    assert hit.title == "农业技术讲座"
    assert "<mark>乡村振兴</mark>" in hit.snippet or "<mark>乡村</mark><mark>振兴</mark>" in hit.snippet
    (hit,) = index.search("警示").hits
    assert hit.title == "&lt;b&gt;<mark>警示</mark>&lt;/b&gt; &amp; 教育"
    (hit,) = index.search("廉政").hits
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet
    (hit,) = index.search("网格化").hits
    assert "<mark>网格化</mark>" in hit.snippet
    (hit,) = index.search("黨史").hits[:1]
    assert "<mark>党史</mark>" in hit.title


@pytest.mark.parametrize(
    "q",
    ["title:(*", 'AND OR NOT "', "*?~^2", "[a TO z]", "😀🎉", "乡村" * 5000, "\x00\n\t", "   ", "<>&'\""],
)
def test_odd_input_never_raises(index: SearchIndex, q: str) -> None:
    page = index.search(q, page=99999, per_page=100000)
    assert page.hits == [] or page.total >= 0


def test_upsert_delete_rebuild_and_fingerprint(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.ensure()
    ix.ensure()  # idempotent
    ix.upsert(DOCS[:3])
    assert ix.fingerprint() == SearchIndex.doc_fingerprint(DOCS[:3])

    renamed = dataclasses.replace(DOCS[0], title="乡村振兴新篇章")
    ix.upsert([renamed, renamed])
    assert ids(ix, "新篇章") == ["rural"]
    assert ids(ix, "全面推进") == []
    assert ix.search("").total == 3  # replaced, not duplicated
    current = [renamed, *DOCS[1:3]]
    assert ix.fingerprint() == SearchIndex.doc_fingerprint(current)

    missed = dataclasses.replace(DOCS[1], description="一次没送到索引的修改")
    assert ix.fingerprint() != SearchIndex.doc_fingerprint([renamed, missed, DOCS[2]])  # stale
    assert ix.fingerprint() != SearchIndex.doc_fingerprint(current[:2])  # extra in index
    assert ix.fingerprint() != SearchIndex.doc_fingerprint([*current, DOCS[3]])  # missing

    ix.delete(["cloud", "no-such-id"])
    assert ids(ix, "djy") == []
    assert ix.search("").total == 2

    assert ix.rebuild(DOCS[3:5]) == 2
    assert {h.id for h in ix.search("").hits} == {"history", "iptv"}
    assert ix.fingerprint() == SearchIndex.doc_fingerprint(DOCS[3:5])


def test_searcher_sees_writes_from_another_index_object(tmp_path: Path) -> None:
    reader, writer = SearchIndex(tmp_path), SearchIndex(tmp_path)
    writer.ensure()
    assert reader.search("").total == 0
    writer.upsert(DOCS[:2])
    assert reader.search("").total == 2


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from mediasrv.search.index import SearchDoc, SearchIndex

    ix = SearchIndex(Path(sys.argv[1]))
    for batch in range(4):
        ix.upsert([
            SearchDoc(id=f"{sys.argv[2]}-{batch}-{i}", title=f"党员教育 第{i}集", description="学习",
                      tags=(), category="c", category_names="", kind="video", duration=1.0,
                      required=False, published_at=datetime(2024, 1, 1, tzinfo=UTC))
            for i in range(10)
        ])
    """
)


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    SearchIndex(tmp_path).ensure()
    # Hold the index's write lock while both start, so that both must wait for it.
    held = whoosh_index.open_dir(str(tmp_path)).writer()
    procs = [
        subprocess.Popen(
            [sys.executable, "-W", "error", "-c", _WRITER, str(tmp_path), name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    time.sleep(2)
    assert all(p.poll() is None for p in procs)  # waiting, not failed
    held.cancel()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert SearchIndex(tmp_path).search("").total == 80


def test_threads_search_while_another_writes(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path)
    ix.rebuild(DOCS)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(30):
                assert "cloud" in ids(ix, "djy")
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(5):
        ix.upsert([doc(f"extra{n}", f"新增节目{n}")])
    for t in threads:
        t.join()
    assert errors == []
    assert ix.search("新增节目").total == 5


def test_whoosh_collector_fallback_ranks_like_direct_scoring(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = SearchIndex(index.directory, result_cache_size=0)
    expected = [(h.id, round(h.score, 6)) for h in fresh.search("教育").hits]
    monkeypatch.setattr(search, "DIRECT_SCORING_LIMIT", 0)
    assert [(h.id, round(h.score, 6)) for h in fresh.search("教育").hits] == expected
    assert len(expected) > 3


def test_pages_past_the_result_window_are_empty_but_counted(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_RESULT_WINDOW", 2)
    fresh = SearchIndex(index.directory, result_cache_size=0)
    assert len(fresh.search("教育", per_page=1, page=2).hits) == 1
    past = fresh.search("教育", per_page=1, page=3)
    assert past.hits == [] and past.total > 3


def test_a_writer_that_cannot_get_the_lock_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ix = SearchIndex(tmp_path)
    ix.ensure()
    monkeypatch.setattr(search, "WRITE_LOCK_TIMEOUT", 0.2)
    held = whoosh_index.open_dir(str(tmp_path)).writer()
    try:
        with pytest.raises(search.SearchIndexBusy, match="locked by another writer"):
            ix.upsert(DOCS[:1])
    finally:
        held.cancel()
    ix.upsert(DOCS[:1])
    assert ix.search("").total == 1


def test_a_busy_index_says_so_in_either_language(tmp_path: Path) -> None:
    busy = SearchIndex(tmp_path)._busy()
    assert (busy.status_code, busy.code, busy.key) == (503, "search_index_busy", "search.index_busy")
    assert busy.render("zh").startswith("搜索索引正在被另一个程序更新，等了 30 秒仍未完成：请稍后再试")
    assert busy.render("en").startswith(
        f"The search index at {tmp_path} stayed locked by another writer for 30 s"
    )


# -- the fast paths rank exactly as whoosh does ----------------------------------------------------

_WORDS = ("党建", "乡村振兴", "党史", "学习", "农业技术", "种植", "养殖", "法律", "健康", "先进典型")
_WORDS += ("电教片", "党员", "组织生活", "基层治理", "讲座")


def _corpus(n: int, seed: int) -> list[SearchDoc]:
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(("video", "video", "audio", "document"))
        out.append(
            doc(
                f"g{i:04d}",
                "".join(rng.sample(_WORDS, rng.randint(1, 3))) + rng.choice(("", " IPTV", " App")),
                "，".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 25))),
                kind=kind,
                duration=0.0 if kind == "document" else float(rng.randint(1, 60) * 60),
                required=rng.random() < 0.2,
                published_at=day(rng.randint(0, 300)),
            )
        )
    return out


def _exhaustive(ix: SearchIndex, q: str, **filters: Any) -> list[tuple[str, float]]:
    """Every match scored by whoosh's own collector (no pruning), best first, ties by docnum."""
    from whoosh import query as wq

    from mediasrv.search.text import query_words

    words = query_words(q, max_words=search.MAX_QUERY_WORDS)
    parts: list[wq.Query] = []
    if "kind" in filters:
        parts.append(wq.Term("kind", filters["kind"]))
    if "required" in filters:
        parts.append(wq.Term("required", "1" if filters["required"] else "0"))
    if "min_duration" in filters or "max_duration" in filters:
        parts.append(wq.NumericRange("duration", filters.get("min_duration"), filters.get("max_duration")))
    with ix._searching() as searcher:
        results = searcher.search(
            search._build_query(words), filter=wq.And(parts) if parts else None, limit=None, optimize=False
        )
        ranked = sorted(((hit.docnum, float(hit.score)) for hit in results), key=lambda ds: (-ds[1], ds[0]))
        return [(searcher.stored_fields(d)["id"], round(s, 6)) for d, s in ranked]


@pytest.mark.parametrize("segments", [1, 3], ids=["optimised", "segments-with-deletions"])
def test_top_k_is_the_exhaustive_ranking(tmp_path: Path, segments: int) -> None:
    docs = _corpus(400, seed=segments)
    ix = SearchIndex(tmp_path, result_cache_size=0)
    ix.rebuild(docs)
    for n in range(1, segments):  # later writes: new segments, and deletions in the older ones
        ix.upsert(dataclasses.replace(d, title=d.title + f" 第{n}集") for d in docs[n * 50 : n * 50 + 80])
        ix.delete(d.id for d in docs[n * 7 : n * 7 + 5])
    queries: list[tuple[str, dict[str, Any]]] = [
        ("党建", {}),
        ("学习", {}),
        ("党史 学习", {}),
        ("iptv", {}),
        ("dj", {}),
        ("xczx", {}),
        ("讲座", {"kind": "video", "min_duration": 600.0, "max_duration": 1800.0}),
        ("健康 党员", {"required": True}),
        ("养殖", {"max_duration": 0.0}),
    ]
    for q, filters in queries:
        expected = _exhaustive(ix, q, **filters)
        for per_page in (5, 20):
            page = ix.search(q, per_page=per_page, **filters)
            assert page.total == len(expected), q
            assert [(h.id, round(h.score, 6)) for h in page.hits] == expected[:per_page], (q, filters)


def test_a_description_only_match_is_found_and_ranked_below_title_matches(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path)
    titles = [doc(f"t{i}", f"养殖技术第{i}讲", "如何喂养") for i in range(30)]
    body = [doc("body", "农村电商入门", "合作社带头人讲养殖经验")]
    ix.rebuild([*titles, *body])
    assert ids(ix, "电商 养殖") == ["body"]  # no title holds both words
    everything = ids(ix, "养殖", per_page=100)
    assert everything[-1] == "body" and len(everything) == 31
    assert ids(ix, "带头人") == ["body"]


def test_filters_match_whoosh_queries(tmp_path: Path) -> None:
    from whoosh import query as wq

    ix = SearchIndex(tmp_path)
    ix.rebuild(_corpus(300, seed=7))
    ix.delete(["g0003", "g0100"])
    with ix._searching() as searcher:
        reader = searcher.reader()
        for q in [
            wq.NumericRange("duration", 600.0, 1800.0),
            wq.NumericRange("duration", None, 0.0),
            wq.NumericRange("duration", 61.5, None),
            wq.Term("kind", "audio"),
            wq.Term("required", "1"),
        ]:
            assert search._query_docs(reader, q) == set(searcher.docs_for_query(q)), q
        for field in ("all", "title", "py"):
            for term in list(reader.lexicon(field))[:50]:
                expected = dict(reader.postings(field, term).items_as("weight"))
                assert search._term_postings(reader, field, term) == expected, (field, term)
            lengths = search._field_lengths(reader, field)
            assert lengths == [
                reader.doc_field_length(d, field, 1) or 1 for d in range(reader.doc_count_all())
            ]


@pytest.mark.parametrize("seed", [11, 12])
def test_pruned_top_k_is_the_exhaustive_ranking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Scoring a one-word query's top tier shortest title (pinyin) first and stopping early gives the
    page the exhaustive ranking gives, scores and ties included, and it does stop early."""
    import random

    rng = random.Random(seed)
    docs = []
    for i in range(500):
        # Titles of 1-4 words (lengths vary), descriptions repeating words (frequencies vary).
        title = "".join(rng.sample(_WORDS, rng.randint(1, 4))) + rng.choice(("", "", " IPTV", " 专题讲座"))
        body = [rng.choice(_WORDS[:5]) for _ in range(rng.randint(1, 12))] + rng.sample(_WORDS, 3)
        docs.append(doc(f"p{i:04d}", title, "，".join(body), published_at=day(rng.randint(0, 300))))
    ix = SearchIndex(tmp_path, result_cache_size=0)
    ix.rebuild(docs)
    monkeypatch.setattr(search, "PRUNING_CHUNK", 3)
    scored: list[int] = []
    pools: list[int] = []
    real_scores, real_pruned = SearchIndex._scores, SearchIndex._length_pruned

    def counting_scores(self: SearchIndex, searcher: Any, words: Any, pool: Any) -> Any:
        pool = list(pool)
        scored.append(len(pool))
        return real_scores(self, searcher, words, pool)

    def counting_pruned(self: SearchIndex, searcher: Any, words: Any, pool: Any, want: int) -> Any:
        scored.clear()
        found = real_pruned(self, searcher, words, pool, want)
        if found is not None:
            pools.append(len(pool) - sum(scored))  # docs never scored
        return found

    monkeypatch.setattr(SearchIndex, "_scores", counting_scores)
    monkeypatch.setattr(SearchIndex, "_length_pruned", counting_pruned)
    queries = [*_WORDS, "专题", "iptv", "dj", "dang", "xczx", "jc", "zzsh"]
    for q in queries:
        expected = _exhaustive(ix, q)
        for per_page in (1, 4, 10):
            page = ix.search(q, per_page=per_page)
            assert page.total == len(expected), q
            assert [(h.id, round(h.score, 6)) for h in page.hits] == expected[:per_page], (q, per_page)
    assert pools and max(pools) > 100  # the pruning ran and left docs unscored


# -- the sidecar: a segment's big postings read from a compact file -------------------------------


def _rewrite_table(path: Path, shift: int) -> None:
    """Move every term's data offset by `shift` and re-sign the table: only the data checks can tell."""
    import struct
    import zlib

    from mediasrv.search import sidecar

    raw = bytearray(path.read_bytes())
    head = list(sidecar._HEADER.unpack_from(raw, 0))
    t_off, t_len = head[4], head[5]
    table = bytearray()
    for (field, text), (offset, n, kind, crc) in sidecar._entries(bytes(raw[t_off : t_off + t_len])):
        table += struct.pack("<BH", len(field.encode()), len(text)) + field.encode() + text
        table += sidecar._ENTRY_TAIL.pack(offset + shift, n, kind, crc)
    head[6] = zlib.crc32(table)
    sidecar._HEADER.pack_into(raw, 0, *head)
    path.write_bytes(bytes(raw[:t_off]) + bytes(table))


def test_sidecar_reads_as_whoosh_does_and_a_bad_one_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two segments, deletions in the older one: pages, scores and totals read through the sidecars
    are those read through whoosh alone; a damaged, shifted or another segment's sidecar is not used."""
    from mediasrv.search import sidecar

    monkeypatch.setattr(sidecar, "MIN_DOCS", 8)
    docs = _corpus(400, seed=21)
    ix = SearchIndex(tmp_path, result_cache_size=0)
    ix.rebuild(docs)
    ix.upsert(
        dataclasses.replace(d, title=d.title + " 第2集", description="党建，学习") for d in docs[100:190]
    )
    ix.delete(d.id for d in docs[3:40:3])
    with ix._searching() as searcher:
        leaves = searcher.reader().leaf_readers()
        assert len(leaves) == 2 and leaves[0][0].has_deletions() and leaves[1][1] > 0
        segments = [search._segment_id(leaf) for leaf, _ in leaves]
    paths = [sidecar.path_for(tmp_path, str(seg)) for seg in segments]
    assert all(p.exists() for p in paths)

    used: list[int] = []
    real_read = sidecar.Sidecar.read

    def counting_read(self: sidecar.Sidecar, field: str, text: bytes) -> Any:
        found = real_read(self, field, text)
        used.append(found is not None)
        return found

    monkeypatch.setattr(sidecar.Sidecar, "read", counting_read)
    queries = [*_WORDS, "党建 学习", "iptv", "dj", "xczx", "第2集"]

    def pages(index: SearchIndex) -> list[tuple[int, list[tuple[str, float]]]]:
        out = []
        for q in queries:
            for per_page in (5, 50):
                page = index.search(q, per_page=per_page)
                out.append((page.total, [(h.id, h.score) for h in page.hits]))
        return out

    plain = SearchIndex(tmp_path, result_cache_size=0)
    monkeypatch.setattr(plain, "_sidecar", lambda leaf: None)
    expected = pages(plain)
    assert not used
    assert pages(SearchIndex(tmp_path, result_cache_size=0)) == expected
    assert sum(used) > 20  # the big terms of both segments came from the sidecars

    with ix._searching() as searcher:  # every sidecar term, posting by posting
        reader = searcher.reader()
        for field in sidecar.FIELDS:
            for term in reader.lexicon(field):
                assert search._term_postings(reader, field, term, sidecars=ix._sidecar) == (
                    search._term_postings(reader, field, term)
                ), (field, term)

    # Damaged data, offsets that point elsewhere (under a valid table), another segment's file.
    original = paths[0].read_bytes()
    for damage in ("data", "shift", "other"):
        paths[0].write_bytes(original)
        if damage == "data":
            raw = bytearray(original)
            raw[200:260] = bytes(60)
            paths[0].write_bytes(bytes(raw))
        elif damage == "shift":
            _rewrite_table(paths[0], 4)
        else:
            paths[0].write_bytes(paths[1].read_bytes())
        used.clear()
        assert pages(SearchIndex(tmp_path, result_cache_size=0)) == expected, damage
        assert used, damage  # the second segment's sidecar is still read
    assert sidecar.Sidecar.open(paths[1], str(segments[0]), 10_000) is None  # another segment's


def test_a_sidecar_that_cannot_be_written_leaves_the_commit_and_search_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediasrv.search import sidecar

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sidecar, "write", full_disk)
    ix = SearchIndex(tmp_path)
    ix.rebuild([doc("a", "党建学习")])
    ix.upsert([doc("b", "党建讲座")])
    assert sorted(ids(ix, "党建")) == ["a", "b"]
    assert not list(tmp_path.glob(f"*{sidecar.SUFFIX}"))
