"""Caches outlive index writes: what a commit left untouched stays warm, and results stay exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from mediasrv.search import index as search
from mediasrv.search.index import SearchIndex
from tests.search.test_index import _WORDS, _corpus, day, doc

# Words, pinyin, filters and browsing: postings, filter sets, lengths and the date order all cached.
QUERIES: list[tuple[str, dict[str, Any]]] = [
    *((w, {}) for w in _WORDS),
    ("党建 学习", {}),
    ("iptv", {}),
    ("dj", {}),
    ("第2集", {}),
    ("养殖", {"kind": "video", "min_duration": 600.0, "max_duration": 1800.0}),
    ("健康 党员", {"required": True}),
    ("党史", {"sort": "date"}),
    ("", {}),
    ("", {"kind": "audio"}),
]


def pages(ix: SearchIndex) -> list[tuple[int, list[tuple[str, float, str]]]]:
    out = []
    for q, filters in QUERIES:
        for per_page in (3, 100):
            page = ix.search(q, per_page=per_page, **filters)
            out.append((page.total, [(h.id, round(h.score, 6), h.title) for h in page.hits]))
    return out


def cold(directory: Path) -> list[tuple[int, list[tuple[str, float, str]]]]:
    """The same queries from a new process's empty caches: what a warm index must answer."""
    return pages(SearchIndex(directory, result_cache_size=0))


@pytest.fixture
def ix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SearchIndex:
    from mediasrv.search import sidecar

    monkeypatch.setattr(sidecar, "MIN_DOCS", 8)  # the big segment's common terms come from its sidecar
    index = SearchIndex(tmp_path, result_cache_size=0)
    index.rebuild(_corpus(400, seed=31))
    return index


def segments(ix: SearchIndex) -> list[str | None]:
    with ix._searching():
        assert ix._gen.layout is not None
        return [s.id for s in ix._gen.layout.segments]


def test_a_write_reuses_the_untouched_segments_data(ix: SearchIndex, tmp_path: Path) -> None:
    """One document added: every cached value is carried (the same objects, the new segment's part
    read), none is read again, and the pages are those of an index read from scratch."""
    pages(ix)
    before = {key: id(postings) for key, (_, postings) in ix._warm.postings.items()}
    assert len(before) > 20
    ix.cache_stats.clear()

    ix.upsert([doc("new", "党建学习新篇 第2集", "乡村振兴，健康", published_at=day(500), kind="audio")])
    assert len(segments(ix)) == 2
    after = pages(ix)
    assert after == cold(tmp_path)
    assert ("new", "党建") in {(h.id, "党建") for h in ix.search("党建", per_page=100).hits}
    stats = ix.cache_stats
    # Every term cached before is carried; reads are only of terms this generation's pages reach
    # for the first time (the new document makes "第2集" a title word: its title postings are read).
    assert stats["postings.carried"] == len(before), stats
    assert stats["postings.read"] == len(ix._warm.postings.keys() - before.keys()), stats
    assert stats["filters.read"] == 0 and stats["filters.carried"] > 0, stats
    assert stats["lengths.read"] == 0 and stats["lengths.carried"] > 0, stats
    assert stats["date.read"] == 0 and stats["date.carried"] == 1, stats
    for key, ident in before.items():
        assert id(ix._warm.postings[key][1]) == ident, key  # updated in place, never rebuilt

    ix.cache_stats.clear()
    pages(ix)  # the next queries of that generation only hit
    assert set(ix.cache_stats) <= {"postings.hit", "filters.hit", "lengths.hit", "date.hit"}


def test_a_deleted_programme_vanishes_at_once(ix: SearchIndex, tmp_path: Path) -> None:
    pages(ix)
    victims = [h.id for h in ix.search("党建", per_page=5).hits] + [ix.search("").hits[0].id]
    audio = ix.search("", kind="audio").hits[0].id
    ix.delete([*victims, audio])
    after = pages(ix)
    assert after == cold(tmp_path)
    found = {hit[0] for _, hits in after for hit in hits}
    assert found and not found & {*victims, audio}
    assert ix.cache_stats["postings.carried"] > 0 and ix.cache_stats["date.carried"] == 1


def test_an_updated_title_shows_its_new_text(ix: SearchIndex, tmp_path: Path) -> None:
    pages(ix)
    target = ix.search("党建", per_page=1).hits[0]
    old = next(d for d in _corpus(400, seed=31) if d.id == target.id)
    ix.upsert([dataclasses.replace(old, title="种植讲座 第2集", description="法律")])
    assert target.id not in [h.id for h in ix.search("党建", per_page=100).hits]
    [hit] = [h for h in ix.search("第2集", per_page=100).hits if h.id == target.id]
    assert hit.title == "种植讲座 <mark>第2集</mark>"
    assert pages(ix) == cold(tmp_path)
    assert ix.cache_stats["postings.carried"] > 0


def test_merges_drop_the_merged_segments_entries(ix: SearchIndex, tmp_path: Path) -> None:
    """Small commits, then whoosh merges them into one segment (the big one kept), then an optimize
    rewrites everything: every step answers as an index read from scratch, the big segment's data is
    carried across the small merge and read again after the optimize."""
    corpus = _corpus(400, seed=31)
    pages(ix)
    big = segments(ix)[0]
    merged = False
    for n in range(8):
        before = segments(ix)
        ix.upsert([dataclasses.replace(corpus[n * 3], title=f"党建讲座 第{n}集", published_at=day(400 + n))])
        now = segments(ix)
        assert now[0] == big
        assert pages(ix) == cold(tmp_path), n
        merged |= len(now) < len(before)
    assert merged  # whoosh merged the small segments (MERGE_SMALL) while keeping the big one
    assert ix.cache_stats["postings.carried"] > 0

    with ix._writer() as writer:
        writer.commit(optimize=True)
    ix.cache_stats.clear()
    assert pages(ix) == cold(tmp_path)
    assert len(segments(ix)) == 1 and segments(ix)[0] != big
    assert ix.cache_stats["postings.carried"] == 0 and ix.cache_stats["postings.read"] > 20
    layout = ix._gen.layout
    assert all(entry_layout is layout for entry_layout, _ in ix._warm.postings.values())


def test_keep_warm_off_drops_everything_at_a_write(ix: SearchIndex, tmp_path: Path) -> None:
    """The former behaviour, kept for bench/search.py's comparison."""
    plain = SearchIndex(tmp_path, result_cache_size=0, keep_warm=False)
    pages(plain)
    ix.upsert([doc("new", "党建学习新篇")])
    plain.cache_stats.clear()
    assert pages(plain) == cold(tmp_path)
    assert plain.cache_stats["postings.carried"] == 0 and plain.cache_stats["postings.read"] > 20


def test_carry_plans() -> None:
    """Kept: same segment, same base, same or more deletions; everything else is dropped or read."""

    def layout(*segs: tuple[str, int, int, set[int]]) -> search._Layout:
        return search._Layout(search._Segment(i, b, c, frozenset(d)) for i, b, c, d in segs)

    big, s1, s2 = ("big", 0, 100, {3}), ("s1", 100, 2, set[int]()), ("s2", 102, 2, set[int]())
    old = layout(big, s1, s2)
    # A commit: a new segment, a deletion in the big one.
    plan = search._carry(old, layout(("big", 0, 100, {3, 7}), s1, s2, ("s3", 104, 1, set())))
    assert plan == search._Carry(dropped=(), deleted=(7,), fresh=frozenset({3}))
    # A merge of the small ones into a new segment: their docnums are dropped, the new one read.
    merged = search._Carry(dropped=(range(100, 102), range(102, 104)), deleted=(), fresh=frozenset({1}))
    assert search._carry(old, layout(big, ("m", 100, 5, set()))) == merged
    # A segment moved by a merge before it is dropped too, and read again where it is now.
    assert search._carry(old, layout(big, ("s2", 100, 2, set()))) == merged
    # An undelete changes the segment, and so does a new base: with nothing kept, no plan.
    assert search._carry(old, layout(("big", 0, 100, set()), s1, s2)) is None
    assert search._carry(old, layout(("s1", 0, 2, set()), ("big", 2, 100, {3}))) is None
