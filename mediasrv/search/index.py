"""Full-text search over programmes: one Whoosh index, Chinese-aware, with pinyin for titles.

Design (for ~100k programmes; numbers in bench/search.py):
- Everything searchable also goes into one `all` field, so a query word is one posting list instead of
  an OR over five fields; the user's words are ANDed. Titles are also indexed on their own (`title`)
  and as pinyin (`py`) for ranking and for letter-only queries.
- Whoosh stores the postings; matching is set algebra over cached per-term docnum sets (C speed, and
  an exact total), filters are cached docnum sets, browse/date order is a cached docnum list.
  Postings are decoded a whole block at a time and field lengths a whole column at a time (whoosh's
  per-posting and per-document calls cost ~2 and ~15 µs each); a duration range is the union of its
  trie terms' postings.
- Ranking is BM25F where every title/pinyin term match adds TIER, so a title hit always outranks
  description-only hits. Docs are bucketed by their number of title terms (counted in C) and only the
  top buckets that fill the page get scored, from the cached postings (whoosh's own collector is the
  fallback for huge body-only result sets). A one-word query's top bucket (a common word's 3,000
  titles, a pinyin prefix's 30,000) is scored shortest title first and cut where the title score plus
  the other terms' upper bounds can no longer reach the page; the page is exactly the exhaustive one.
- What stays per query is loading a term's postings the first time and set algebra in C; the exact
  total is len() of the matched set. A segment's big terms (sidecar.MIN_DOCS postings or more) load
  from its sidecar file (sidecar.py: arrays copied from an mmap, ~0.08 µs a posting, written after
  each commit); the rest decode from whoosh's blocks (~0.1-0.3 µs a posting: they are pickles).
- Whoosh is only an implementation detail: user input never reaches its query parser.
- One searcher per SearchIndex, refreshed when the index generation changes. Postings, filter sets,
  field lengths and the date order outlive it (_Warm): Whoosh segments are immutable, so a value
  cached for an older generation keeps the part of the segments still there and loses only the
  documents deleted since, the docnums of segments merged away, and reads the new segments (_Carry).
  What depends on every document at once (result pages, idf-based bounds, ranks) is per generation.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import html
import json
import logging
import operator
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate, repeat
from pathlib import Path
from typing import Any, Literal

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.analysis import RegexTokenizer
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.index import LockError
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F, BM25FScorer
from whoosh.util.filelock import try_for
from whoosh.util.numeric import byte_to_length
from whoosh.writing import CLEAR

from mediasrv.kit.errors import MediaError
from mediasrv.kit.regions import Reach, above
from mediasrv.search import sidecar
from mediasrv.search.text import (
    PINYIN_MAX_FULL,
    ChineseTokenizer,
    fold,
    is_pinyin_candidate,
    pinyin_tokens,
    query_words,
)

log = logging.getLogger(__name__)

ANALYSIS_VERSION = "1"  # part of every doc version: bump when analysis changes, drift then says reindex
TIER = 1_000_000.0  # added per title/pinyin term match; larger than any sum of BM25 scores
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8
MAX_PER_PAGE = 100
MAX_RESULT_WINDOW = 2_000
WRITE_LOCK_TIMEOUT = 30.0
STORED_ATTACHMENT_CHARS = 20_000  # all attachment text is indexed; this much is kept for snippets
STORED_CUES = 5_000  # all caption text is indexed; this many cues are kept to find a hit's moment
SNIPPET_CHARS = 120
PRUNING_CHUNK = 64  # docs scored between two checks of whether the rest can still reach the page
DIRECT_SCORING_LIMIT = 20_000  # below: score candidates from cached postings; above: whoosh's pruning
# (docnum, weight) pairs cached per generation: ~45 bytes each with shared docnum and weight objects,
# ~110 MB at most; at 100,000 programmes a common word holds 30,000, so ~80 of them fit.
POSTINGS_CACHE_ENTRIES = 2_500_000
SIDECAR_RECHECK_SECONDS = 2.0  # how long a segment without a sidecar is read from whoosh alone
BM25_K1, BM25_B = 1.2, 0.75  # whoosh's BM25F defaults, used by both scoring paths
_TAG_SEP = "\x1f"


class SearchIndexBusy(MediaError):
    """Another writer held the index lock for too long."""

    status_code = 503
    code = "search_index_busy"


@dataclass(frozen=True)
class SearchDoc:
    id: str
    title: str
    description: str
    tags: tuple[str, ...]
    category: str
    category_names: str
    kind: str
    duration: float
    required: bool
    published_at: datetime
    attachment_text: str = ""
    region: str = ""  # published to ('' the whole network)
    captions: tuple[tuple[float, str], ...] = ()  # (start seconds, text) of every cue, in time order


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    title: str  # HTML: escaped, matches in <mark>
    snippet: str  # HTML fragment of the description or attachment, or ""
    moment: float | None = None  # start (seconds) of the caption cue the query matches best


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    total: int
    page: int
    per_page: int


class _TierScorer(BM25FScorer):  # type: ignore[misc]
    def _score(self, weight: float, length: float) -> float:
        return TIER + float(super()._score(weight, length))


class _TieredBM25F(BM25F):  # type: ignore[misc]
    """BM25F, with a match in the title or its pinyin worth a whole tier more."""

    def scorer(self, searcher: Any, fieldname: str, text: bytes, qf: int = 1) -> Any:
        if fieldname in ("title", "py"):
            B = self._field_B.get(fieldname, self.B)
            return _TierScorer(searcher, fieldname, text, B, self.K1, qf=qf)
        return super().scorer(searcher, fieldname, text, qf)


def _schema() -> Schema:
    cn = ChineseTokenizer()
    return Schema(
        id=ID(stored=True, unique=True),
        version=ID(stored=True),
        title=TEXT(analyzer=cn, stored=True, phrase=False),
        py=KEYWORD(scorable=True),  # space-separated pinyin terms from text.pinyin_tokens
        all=TEXT(analyzer=cn, phrase=False),
        description=STORED(),
        attachment=STORED(),
        # Tags are matched exactly (they may contain spaces or commas): one term per tag.
        tags=TEXT(analyzer=RegexTokenizer(r"[^\x1f]+"), phrase=False),
        category=ID(),
        kind=ID(),
        required=ID(),
        duration=NUMERIC(numtype=float, bits=64),
        published=NUMERIC(numtype=int, bits=64, sortable=True),
        region=ID(),  # "/" + the region published to: "/" the whole network (an empty term is none)
        captions=TEXT(analyzer=cn, phrase=False),  # what is said in the film (its caption tracks)
        cues=STORED(),  # [[start, text]...]: where in the film a caption hit is
    )


def _utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC (the catalog stores UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _version(doc: SearchDoc) -> str:
    payload = json.dumps(
        [
            ANALYSIS_VERSION,
            doc.id,
            doc.title,
            doc.description,
            list(doc.tags),
            doc.category,
            doc.category_names,
            doc.kind,
            float(doc.duration),
            bool(doc.required),
            _utc(doc.published_at).isoformat(),
            doc.attachment_text,
            doc.region,
            [[float(start), text] for start, text in doc.captions],
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _checksum(pairs: Iterable[tuple[str, str]]) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for doc_id, version in sorted(pairs):
        h.update(f"{doc_id}\t{version}\n".encode())
        n += 1
    return n, h.hexdigest()


def _fields(doc: SearchDoc) -> dict[str, Any]:
    tags = [t.strip() for t in doc.tags if t.strip()]
    return {
        "id": doc.id,
        "version": _version(doc),
        "title": doc.title,
        "py": " ".join(pinyin_tokens(doc.title)),
        "all": "\n".join(
            [doc.title, doc.description, " ".join(tags), doc.category_names, doc.attachment_text]
        ),
        "description": doc.description,
        "attachment": doc.attachment_text[:STORED_ATTACHMENT_CHARS],
        "tags": _TAG_SEP.join(tags),
        "category": doc.category,
        "kind": doc.kind,
        "required": "1" if doc.required else "0",
        "duration": float(doc.duration),
        "published": int(_utc(doc.published_at).timestamp()),
        "region": _region_term(doc.region),
        "captions": "\n".join(text for _, text in doc.captions),
        "cues": json.dumps(
            [[round(start, 3), text] for start, text in doc.captions[:STORED_CUES]], ensure_ascii=False
        ),
    }


def _region_term(region: str) -> str:
    return "/" + region


def _reach_query(reach: Reach) -> wq.Query:
    """The documents published where `reach` sees: to its region or above it (a term each), and when
    `below`, inside it (one prefix)."""
    terms: list[wq.Query] = [wq.Term("region", _region_term(r)) for r in [*above(reach.region), reach.region]]
    if reach.below and reach.region:
        terms.append(wq.Prefix("region", _region_term(reach.region) + "/"))
    return wq.Or(terms)


def _spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Where the (folded) query terms occur in `text`, merged, as offsets into the original text.

    Plain substring search on the folded text rather than re-segmenting each hit with jieba (which
    cost more than the search); Latin terms must sit on word boundaries ("app" not in "happy")."""
    folded, offsets = fold(text)
    low = folded.lower()
    if len(low) != len(folded):  # a rare lowercase that changes length: match case-sensitively
        low = folded
    found: list[tuple[int, int]] = []
    for term in terms:
        latin = term.isascii()
        i = low.find(term)
        while i >= 0:
            j = i + len(term)
            if not latin or not (_is_latin_alnum(low, i - 1) or _is_latin_alnum(low, j)):
                found.append((i, j) if offsets is None else (offsets[i], offsets[j - 1] + 1))
            i = low.find(term, j)
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _is_latin_alnum(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()


def _render(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """text[start:end] HTML-escaped, with the spans inside it in <mark>."""
    end = len(text) if end is None else end
    out, pos = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def _mark(text: str, terms: frozenset[str]) -> str:
    return _render(text, _spans(text, terms)) if terms else html.escape(text)


def _snippet(text: str, terms: frozenset[str]) -> str:
    """About SNIPPET_CHARS around the first match, or "" when nothing matches."""
    if not text or not terms:
        return ""
    spans = _spans(text, terms)
    if not spans:
        return ""
    start = max(0, spans[0][0] - SNIPPET_CHARS // 4)
    end = min(len(text), start + SNIPPET_CHARS)
    return ("…" if start > 0 else "") + _render(text, spans, start, end) + ("…" if end < len(text) else "")


SidecarFor = Callable[[Any], sidecar.Sidecar | None]  # a segment's reader -> its open sidecar


def _term_postings(
    reader: Any,
    field: str,
    text: str | bytes,
    docnums: Sequence[int] | None = None,
    sidecars: SidecarFor | None = None,
    only: AbstractSet[int] | None = None,
) -> dict[int, float]:
    """docnum -> weight of one term's postings, a whole block at a time.

    Whoosh's own iteration (items_as) decodes every posting in Python, ~2 µs each: 60 ms for a word
    in a third of 100,000 programmes. A W3 block is a compressed pickle of (id deltas, weights, ...):
    decoding it whole (accumulate, zip) runs in C. Other matchers (a term inlined in the term info)
    go the slow way. Deleted documents are left out. With `docnums` (list(range(doc count))), every
    posting dict shares those int objects instead of holding its own (28 bytes each), and equal
    weights share one float: the cache holds twice as many postings in the same memory. With
    `sidecars`, a segment's big terms come from its sidecar file (see sidecar.py) when it holds them.
    With `only`, just the segments at those positions of reader.leaf_readers() are read."""
    out: dict[int, float] = {}
    term = text.encode() if isinstance(text, str) else text
    for i, (leaf, base) in enumerate(reader.leaf_readers()):
        if only is not None and i not in only:
            continue
        found = None
        if sidecars is not None:
            side = sidecars(leaf)
            found = None if side is None else side.read(field, term)
        if found is not None:
            _read_sidecar(found, base, out, docnums)
            for d in leaf._perdoc.deleted_docs():  # deletions come after the segment: filtered here
                out.pop(base + d, None)
            continue
        try:
            m = leaf.postings(field, text)
        except TermNotFound:
            continue
        deleted: Iterable[int] = ()
        if isinstance(m, FilterMatcher):  # how a segment with deletions excludes them
            m, deleted = m.child, m._ids
        if not isinstance(m, W3LeafMatcher) or m._byteids:
            out.update((base + d, w) for d, w in m.items_as("weight"))
        else:
            _read_blocks(m, base, out, docnums)
        for d in deleted:
            out.pop(base + d, None)
    return out


_WHOLE_WEIGHTS = [float(w) for w in range(256)]  # one float object per one-byte weight, shared


def _read_sidecar(
    found: tuple[Any, Any, int], base: int, out: dict[int, float], docnums: Sequence[int] | None
) -> None:
    """A sidecar term's postings into `out` (docnums offset by `base`): arrays walked in C."""
    docs, weights, kind = found
    ids: Iterable[int] = docs
    if base:
        ids = map(base.__add__, ids)
    if docnums is not None:
        ids = map(docnums.__getitem__, ids)
    if weights is None:
        out.update(zip(ids, repeat(1.0)))
    elif kind == sidecar.W_BYTES:
        out.update(zip(ids, map(_WHOLE_WEIGHTS.__getitem__, weights), strict=True))
    else:
        canon: dict[float, float] = {}
        out.update(zip(ids, map(canon.setdefault, weights, weights), strict=True))


def _segment_terms(leaf: Any) -> Iterator[tuple[str, bytes, list[int], list[float]]]:
    """A segment's terms worth a sidecar entry: (field, term, its docnums, their weights), deleted
    documents included (the reader filters them, as deletions change without a new segment)."""
    schema = leaf.schema
    for field in sidecar.FIELDS:
        if field not in schema:
            continue
        big = [t for t, info in leaf.iter_field(field) if info.doc_frequency() >= sidecar.MIN_DOCS]
        for text in big:
            m = leaf._terms.matcher(field, text, schema[field].format)  # no deletion filter
            postings: dict[int, float] = {}
            if not isinstance(m, W3LeafMatcher) or m._byteids:
                postings.update(m.items_as("weight"))
            else:
                _read_blocks(m, 0, postings, None)
            yield field, text, list(postings), list(postings.values())


def _read_blocks(m: Any, base: int, out: dict[int, float], docnums: Sequence[int] | None) -> None:
    """A W3 matcher's postings, block by block, into `out` (docnums offset by `base`)."""
    canon: dict[float, float] = {}
    while True:
        if m._data is None:
            m._read_data()
        ids: Iterable[int] = accumulate(m._data[0])  # ids are delta-coded within a block
        if base:
            ids = map(base.__add__, ids)
        if docnums is not None:
            ids = map(docnums.__getitem__, ids)
        weights = m._data[1]
        if weights is None or isinstance(weights, float):  # every weight in the block the same
            out.update(zip(ids, repeat(1.0 if weights is None else weights)))
        else:
            out.update(zip(ids, map(canon.setdefault, weights, weights), strict=True))
        if m._lastblock:
            return
        m._goto(m._nextoffset)


def _query_docs(reader: Any, query: wq.Query, only: AbstractSet[int] | None = None) -> set[int]:
    """The docs a Term or NumericRange filter matches: the union of its terms' postings (in the
    segments at positions `only` when given).

    A numeric range simplifies to a few dozen trie terms; whoosh's docs_for_query steps through
    its matcher doc by doc (a second for one duration range at 20,000 programmes, 10 ms this way)."""
    simple = query.simplify(reader)
    docs: set[int] = set()
    for leaf in [simple] if simple.is_leaf() else simple.leaves():
        for field, text in leaf.expanded_terms(reader):
            docs.update(_term_postings(reader, field, text, only=only))
    return docs


_BYTE_LENGTHS_OR_1 = [byte_to_length(b) or 1 for b in range(256)]


def _segment_id(leaf: Any) -> str | None:
    segment = leaf.segment()  # None for an empty index's reader
    return None if segment is None else str(segment.segment_id())


def _field_lengths(reader: Any, field: str) -> list[int]:
    """Every document's length of `field` (as whoosh's scorers see it), indexed by docnum.

    Read from the segment's length column at once (one byte per document) rather than by
    doc_field_length per document, which costs ~15 µs a call; falls back to that when the column is
    not where whoosh 2.7's W3 codec keeps it."""
    out: list[int] = []
    for leaf, _ in reader.leaf_readers():
        _leaf_lengths(leaf, field, out)
    return out


def _leaf_lengths(leaf: Any, field: str, out: list[int]) -> None:
    """One segment's lengths of `field` appended to `out` (see _field_lengths)."""
    n = leaf.doc_count_all()
    try:
        column = leaf._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
        raw = b"" if column is None else column._dbfile.get(column._basepos, column._count)
        raw = raw[:n] + bytes(n - len(raw[:n]))  # trailing zero lengths are not written
        out.extend(map(_BYTE_LENGTHS_OR_1.__getitem__, raw))  # in C: 100,000 bytes in ~1 ms
    except AttributeError:  # pragma: no cover - another codec
        out.extend(leaf.doc_field_length(d, field, 1) or 1 for d in range(n))


@dataclass(frozen=True)
class _Segment:
    id: str | None  # None: an empty index's reader
    base: int  # its first docnum in the searcher's numbering
    count: int  # its documents, deleted ones included: docnums base .. base + count - 1
    deleted: frozenset[int]  # the segment's own docnums


class _Layout:
    """The segments one searcher reads, in docnum order: what a cached value was computed for.

    Compared by identity: each generation has its own, and a value cached for another one is
    brought up to date (see _Carry) before use."""

    def __init__(self, segments: Iterable[_Segment]) -> None:
        self.segments = tuple(segments)

    @classmethod
    def of(cls, reader: Any) -> _Layout:
        segments = []
        for leaf, base in reader.leaf_readers():
            seg = leaf.segment()
            segments.append(
                _Segment(
                    id=None if seg is None else str(seg.segment_id()),
                    base=base,
                    count=leaf.doc_count_all(),
                    deleted=frozenset(() if seg is None else seg.deleted_docs()),
                )
            )
        return cls(segments)


@dataclass(frozen=True)
class _Carry:
    """What commits changed between an older layout and the current one, for values keyed by docnum.

    Whoosh segments are immutable: a commit adds one and/or marks deletions in others, a merge
    replaces some with a new one. A segment still there at the same base, with the same deletions or
    more (whoosh can undelete, so fewer is a change), keeps its part of a cached value; that part
    loses only the documents deleted since. The docnums of every other old segment (merged away, or
    moved by a merge before it) are dropped, and the new layout's other segments are read."""

    dropped: tuple[range, ...]  # old docnum ranges whose documents are gone or renumbered
    deleted: tuple[int, ...]  # docnums deleted since, in the kept segments
    fresh: frozenset[int]  # positions in the new layout (reader.leaf_readers()) of segments to read


def _carry(old: _Layout, new: _Layout) -> _Carry | None:
    """How values cached for `old` become `new`'s; None when reading them again costs about as much
    (a merge that rewrote most documents)."""
    before = {s.id: s for s in old.segments if s.id is not None}
    kept: set[str] = set()
    deleted: list[int] = []
    fresh: set[int] = set()
    kept_docs = 0
    for i, seg in enumerate(new.segments):
        prev = None if seg.id is None else before.get(seg.id)
        if (
            prev is not None
            and (prev.base, prev.count) == (seg.base, seg.count)
            and prev.deleted <= seg.deleted
        ):
            assert seg.id is not None
            kept.add(seg.id)
            kept_docs += seg.count
            deleted.extend(seg.base + d for d in seg.deleted - prev.deleted)
        else:
            fresh.add(i)
    dropped = tuple(range(s.base, s.base + s.count) for s in old.segments if s.id not in kept)
    changed = sum(map(len, dropped)) + sum(new.segments[i].count for i in fresh)
    if not kept_docs or changed > kept_docs:
        return None
    return _Carry(dropped, tuple(deleted), frozenset(fresh))


def _without(found: dict[int, float] | set[int], plan: _Carry) -> None:
    """Take the docnums `plan` drops or deletes out of a cached posting dict or docnum set, in place."""
    for r in plan.dropped:
        gone: Iterable[int] = [d for d in found if d in r] if len(r) > len(found) else r
        if isinstance(found, set):
            found.difference_update(gone)
        else:
            for d in gone:
                found.pop(d, None)
    if isinstance(found, set):
        found.difference_update(plan.deleted)
    else:
        for d in plan.deleted:
            found.pop(d, None)


class _Generation:
    """What belongs to one index generation (one searcher): its layout, and the caches that depend on
    every document at once (scores' totals, combined filters, ranks), dropped with it."""

    def __init__(
        self,
        layout: _Layout | None = None,
        sidecars: dict[str, tuple[sidecar.Sidecar | None, float]] | None = None,
    ) -> None:
        self.layout = layout
        # Per segment id: its open sidecar (or None: none yet) and when that was looked for. Segments
        # are immutable, so the open ones are carried over to the next generation while they last.
        self.sidecars: dict[str, tuple[sidecar.Sidecar | None, float]] = sidecars or {}
        # Per older layout (by id, the layout kept alive beside its plan): how its values carry here.
        self.plans: dict[int, tuple[_Layout, _Carry | None]] = {}
        self.combined: dict[tuple[Any, ...], set[int]] = {}  # intersections of filter sets
        self.date_rank: dict[int, int] | None = None
        self.length_keys: dict[str, list[int]] = {}
        self.shortest: dict[str, int] = {}
        self.weight_ranges: dict[tuple[str, str], tuple[float, float]] = {}
        self.results: OrderedDict[tuple[Any, ...], tuple[list[tuple[int, float]], int]] = OrderedDict()


class _Warm:
    """Caches that outlive a generation: each value is tagged with the layout it was computed for and
    carried to the current one on first use (_Carry), so a publication does not make every query
    after it cold. All read and written under SearchIndex._read_lock; a carried value is updated in
    place, as no other generation reads it any more."""

    def __init__(self) -> None:
        # (docnum, weight) pairs within a size budget, least recently used first.
        self.postings: OrderedDict[tuple[str, str], tuple[_Layout, dict[int, float]]] = OrderedDict()
        self.postings_size = 0
        # Plain sets (whoosh's filter= does not accept frozenset); never mutated but to carry them.
        self.filters: dict[tuple[Any, ...], tuple[_Layout, set[int]]] = {}
        self.lengths: dict[str, tuple[_Layout, list[int]]] = {}
        self.date_order: tuple[_Layout, list[int]] | None = None
        self.docnums: list[int] = []  # shared int objects for the cached postings, only ever grown


class SearchIndex:
    def __init__(self, directory: Path, *, result_cache_size: int = 256, keep_warm: bool = True) -> None:
        """`keep_warm=False` drops every cache at each new generation (as before _Warm; bench/search.py
        compares the two)."""
        self.directory = Path(directory)
        self._result_cache_size = result_cache_size
        self._keep_warm = keep_warm
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._ix: Any = None
        self._searcher: Any = None
        self._gen = _Generation()
        self._warm = _Warm()
        # "<cache>.hit" (valid for this generation), ".carried" (brought from an older one), ".read"
        # (computed from the index): how much of each query's data was already there.
        self.cache_stats: Counter[str] = Counter()

    # -- writing -------------------------------------------------------------------------------

    def ensure(self) -> None:
        self._index()

    def _index(self) -> Any:
        with self._open_lock:
            if self._ix is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                if whoosh_index.exists_in(str(self.directory)):
                    self._ix = whoosh_index.open_dir(str(self.directory))
                else:
                    with self._whoosh_lock():  # two processes must not both create it
                        if whoosh_index.exists_in(str(self.directory)):
                            self._ix = whoosh_index.open_dir(str(self.directory))
                        else:
                            self._ix = whoosh_index.create_in(str(self.directory), _schema())
            return self._ix

    @contextmanager
    def _whoosh_lock(self) -> Iterator[None]:
        """The lock whoosh's writers take (an flock on MAIN_WRITELOCK), for work outside a writer."""
        lock = FileStorage(str(self.directory)).lock("MAIN_WRITELOCK")
        if not try_for(lock.acquire, timeout=WRITE_LOCK_TIMEOUT, delay=0.05):
            raise self._busy()
        try:
            yield
        finally:
            lock.release()

    def _busy(self) -> SearchIndexBusy:
        return SearchIndexBusy(
            "search.index_busy", directory=str(self.directory), seconds=round(WRITE_LOCK_TIMEOUT)
        )

    @contextmanager
    def _writer(self) -> Iterator[Any]:
        # One writer per index across processes (whoosh's flock); waiting instead of failing at once,
        # and never AsyncWriter, which may silently defer the write to a thread.
        with self._write_lock:
            ix = self._index()
            try:
                writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT, delay=0.05)
            except LockError:
                raise self._busy() from None
            try:
                yield writer
            except BaseException:
                writer.cancel()
                raise

    def upsert(self, docs: Iterable[SearchDoc]) -> None:
        # Last one wins within a batch: update_document cannot see documents added by the same writer.
        batch = {doc.id: doc for doc in docs}
        if not batch:
            return
        with self._writer() as writer:
            for doc in batch.values():
                writer.update_document(**_fields(doc))
            writer.commit()
        self.write_sidecars()

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        with self._writer() as writer:
            for doc_id in ids:
                writer.delete_by_term("id", doc_id)
            writer.commit()
        self.write_sidecars()

    def outdated(self) -> bool:
        """Written by another version of this module (another schema): only a rebuild can update it."""

        # By field names and kinds: whoosh's Schema equality also compares analyzer objects, which
        # are never equal to a fresh instance of the same analyzer.
        def shape(schema: Schema) -> list[tuple[str, str]]:
            return sorted((name, type(field).__name__) for name, field in schema.items())

        return shape(self._index().schema) != shape(_schema())

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Replace the whole index in one commit; searchers see the old index until then."""
        with self._write_lock:
            if self.outdated():
                # Written by another version of this module: start over with the current schema.
                with self._open_lock, self._whoosh_lock():
                    self._ix = whoosh_index.create_in(str(self.directory), _schema())
        count = 0
        seen: set[str] = set()
        with self._writer() as writer:
            for doc in docs:
                if doc.id in seen:
                    raise ValueError(f"duplicate programme id in rebuild: {doc.id}")
                seen.add(doc.id)
                writer.add_document(**_fields(doc))
                count += 1
            writer.commit(mergetype=CLEAR, optimize=True)
        self.write_sidecars()
        return count

    # -- fingerprints --------------------------------------------------------------------------

    def fingerprint(self) -> tuple[int, str]:
        # Its own reader: reading every stored document takes a while (~1 s per 100k) and must not
        # hold up searches on the shared searcher.
        with self._index().reader() as reader:
            return _checksum((f["id"], f["version"]) for f in reader.all_stored_fields())

    @staticmethod
    def doc_fingerprint(docs: Iterable[SearchDoc]) -> tuple[int, str]:
        return _checksum((doc.id, _version(doc)) for doc in docs)

    # -- reading -------------------------------------------------------------------------------

    @contextmanager
    def _searching(self) -> Iterator[Any]:
        # Whoosh searchers are not documented as thread-safe and search is pure Python under the
        # GIL anyway, so queries share one searcher under a lock.
        with self._read_lock:
            if self._searcher is None:
                self._searcher = self._index().searcher(weighting=_TieredBM25F(B=BM25_B, K1=BM25_K1))
                self._gen = _Generation(_Layout.of(self._searcher.reader()))
            elif not self._searcher.up_to_date():
                self._searcher = self._searcher.refresh()
                layout = _Layout.of(self._searcher.reader())
                live = {seg.id for seg in layout.segments}
                # A merged-away segment's sidecar closes with the old generation.
                kept = {k: v for k, v in self._gen.sidecars.items() if k in live and v[0] is not None}
                self._gen = _Generation(layout, kept)
                if not self._keep_warm:
                    self._warm = _Warm()
            yield self._searcher

    def _plan(self, old: _Layout) -> _Carry | None:
        """How a value cached for `old` carries to this generation (None: compute it again)."""
        layout = self._gen.layout
        if layout is None:  # pragma: no cover - set with the searcher
            return None
        found = self._gen.plans.get(id(old))
        if found is None or found[0] is not old:
            found = self._gen.plans[id(old)] = (old, _carry(old, layout))
        return found[1]

    def _current(self, cache: str, layout: _Layout) -> _Carry | Literal[True] | None:
        """True (a hit, counted) when a value cached for `layout` is this generation's; else how to
        carry it, or None."""
        if layout is self._gen.layout:
            self.cache_stats[f"{cache}.hit"] += 1
            return True
        return self._plan(layout)

    def _sidecar(self, leaf: Any) -> sidecar.Sidecar | None:
        """The segment's open sidecar, or None. A missing one is looked for again after a while: the
        writing process writes it just after its commit, when this process may already read the
        new generation."""
        seg = _segment_id(leaf)
        if seg is None:
            return None
        found, checked = self._gen.sidecars.get(seg, (None, float("-inf")))
        if found is None and time.monotonic() - checked > SIDECAR_RECHECK_SECONDS:
            found = sidecar.Sidecar.open(sidecar.path_for(self.directory, seg), seg, leaf.doc_count_all())
            self._gen.sidecars[seg] = (found, time.monotonic())
        return found

    def write_sidecars(self) -> int:
        """Write the sidecar of every segment of the current index that has none; the count written.

        Called after each commit by the process that committed (and by bench/search.py for an index
        written before sidecars existed). Outside whoosh's lock: a sidecar's content depends only on
        its immutable segment, and it is renamed into place whole."""
        written = 0
        with self._index().reader() as reader:
            for leaf, _ in reader.leaf_readers():
                seg = _segment_id(leaf)
                if seg is None:
                    continue
                path = sidecar.path_for(self.directory, seg)
                if path.exists():
                    continue
                try:
                    sidecar.write(path, seg, leaf.doc_count_all(), _segment_terms(leaf))
                except OSError as exc:  # the commit stands; searches read this segment from whoosh
                    log.warning("search: no postings sidecar for %s: %s", seg, exc)
                    continue
                written += 1
        return written

    def _filter_set(self, searcher: Any, key: tuple[Any, ...], make: Callable[[], wq.Query]) -> set[int]:
        filters = self._warm.filters
        layout = self._gen.layout
        assert layout is not None
        cached = filters.get(key)
        if cached is not None:
            plan = self._current("filters", cached[0])
            if plan is True:
                return cached[1]
            if plan is not None:
                self.cache_stats["filters.carried"] += 1
                docs = cached[1]
                _without(docs, plan)
                if plan.fresh:
                    docs.update(_query_docs(searcher.reader(), make(), plan.fresh))
                filters[key] = (layout, docs)
                return docs
        elif len(filters) > 512:  # free-form duration bounds could grow it forever
            filters.clear()
        self.cache_stats["filters.read"] += 1
        docs = _query_docs(searcher.reader(), make())
        filters[key] = (layout, docs)
        return docs

    def _allowed(
        self,
        searcher: Any,
        *,
        category: str | None,
        tag: str | None,
        required: bool | None,
        kind: str | None,
        min_duration: float | None,
        max_duration: float | None,
        reach: Reach | None = None,
    ) -> set[int] | None:
        sets: list[set[int]] = []
        # The whole network's reach filters nothing; any other is one set per region, kept per
        # generation as the other filters are (no per-document work at query time).
        if reach is not None and not (reach.below and not reach.region):
            sets.append(self._filter_set(searcher, ("reach", reach), lambda: _reach_query(reach)))
        if category is not None:
            sets.append(
                self._filter_set(searcher, ("category", category), lambda: wq.Term("category", category))
            )
        if tag is not None:
            t = tag.strip()
            sets.append(self._filter_set(searcher, ("tag", t), lambda: wq.Term("tags", t)))
        if required is not None:
            r = "1" if required else "0"
            sets.append(self._filter_set(searcher, ("required", r), lambda: wq.Term("required", r)))
        if kind is not None:
            sets.append(self._filter_set(searcher, ("kind", kind), lambda: wq.Term("kind", kind)))
        if min_duration is not None or max_duration is not None:
            lo = None if min_duration is None else float(min_duration)
            hi = None if max_duration is None else float(max_duration)
            sets.append(
                self._filter_set(searcher, ("duration", lo, hi), lambda: wq.NumericRange("duration", lo, hi))
            )
        if not sets:
            return None
        key = (category, tag, required, kind, min_duration, max_duration, reach)
        if len(sets) == 1:
            return sets[0]
        cached = self._gen.combined.get(key)
        if cached is None:
            if len(self._gen.combined) > 512:
                self._gen.combined.clear()
            sets.sort(key=len)
            cached = self._gen.combined[key] = sets[0].intersection(*sets[1:])
        return cached

    def _date_order(self, searcher: Any) -> list[int]:
        """Live docnums, newest first (ties to the lower docnum)."""
        layout = self._gen.layout
        assert layout is not None
        cached = self._warm.date_order
        reader = searcher.reader()
        if cached is not None:
            plan = self._current("date", cached[0])
            if plan is True:
                return cached[1]
            if plan is not None:
                order = self._carry_date_order(reader, cached[1], plan)
                if order is not None:
                    self.cache_stats["date.carried"] += 1
                    self._warm.date_order = (layout, order)
                    return order
        self.cache_stats["date.read"] += 1
        order = list(reader.all_doc_ids())
        if order:  # an empty index has no column to read
            published = reader.column_reader("published")
            order.sort(key=lambda d: (-published[d], d))
        self._warm.date_order = (layout, order)
        return order

    @staticmethod
    def _carry_date_order(reader: Any, order: list[int], plan: _Carry) -> list[int] | None:
        """An older generation's date order without the docs `plan` drops, with its fresh segments'
        live docs put in place; None when they are too many for that. An insertion reads the dates of
        ~17 docs (~1 µs each) and moves the list's tail (~10 µs at 100,000): ~27 µs, where sorting
        reads every doc's date (~100 ms at 100,000): worth it up to ~1/32 of the docs."""
        added: list[int] = []
        for i, (leaf, base) in enumerate(reader.leaf_readers()):
            if i in plan.fresh:
                added.extend(base + d for d in leaf.all_doc_ids())
        if len(added) * 32 > len(order):
            return None
        removed: set[int] = set(plan.deleted)
        for r in plan.dropped:
            removed.update(r)
        if removed:
            order[:] = [d for d in order if d not in removed]
        if added:
            published = reader.column_reader("published")

            def key(d: int) -> tuple[int, int]:
                return (-published[d], d)

            for d in added:
                bisect.insort(order, d, key=key)
        return order

    def _date_rank(self, searcher: Any) -> dict[int, int]:
        gen = self._gen
        if gen.date_rank is None:
            order = self._date_order(searcher)
            gen.date_rank = dict(zip(order, range(len(order)), strict=True))
        return gen.date_rank

    def search(
        self,
        q: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        required: bool | None = None,
        kind: str | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        sort: Literal["relevance", "date"] = "relevance",
        page: int = 1,
        per_page: int = 20,
        reach: Reach | None = None,
    ) -> SearchPage:
        page = max(1, int(page))
        per_page = min(max(1, int(per_page)), MAX_PER_PAGE)
        text = (q or "")[:MAX_QUERY_CHARS]
        words = query_words(text, max_words=MAX_QUERY_WORDS) if text.strip() else None
        if words is not None and not words:  # only punctuation, emoji...: nothing can match
            return SearchPage(hits=[], total=0, page=page, per_page=per_page)
        start = (page - 1) * per_page
        with self._searching() as searcher:
            allowed = self._allowed(
                searcher,
                category=category,
                tag=tag,
                required=required,
                kind=kind,
                min_duration=min_duration,
                max_duration=max_duration,
                reach=reach,
            )
            if allowed is not None and not allowed:
                return SearchPage(hits=[], total=0, page=page, per_page=per_page)
            if words is None:
                order = self._date_order(searcher)
                matched = order if allowed is None else [d for d in order if d in allowed]
                ranked = [(d, 0.0) for d in matched[start : start + per_page]]
                total = len(matched)
            else:
                filter_key = (category, tag, required, kind, min_duration, max_duration, reach)
                ranked, total = self._ranked(searcher, words, allowed, filter_key, sort, start, per_page)
            terms = frozenset(t for leaves in words or [] for t in leaves)
            hits = [self._hit(searcher, docnum, score, terms) for docnum, score in ranked]
        return SearchPage(hits=hits, total=total, page=page, per_page=per_page)

    def _ranked(
        self,
        searcher: Any,
        words: list[list[str]],
        allowed: set[int] | None,
        filter_key: tuple[Any, ...],
        sort: str,
        start: int,
        per_page: int,
    ) -> tuple[list[tuple[int, float]], int]:
        gen = self._gen
        key = (tuple(map(tuple, words)), filter_key, sort)
        cached = gen.results.get(key)
        # Pages past MAX_RESULT_WINDOW stay empty (the total is still exact): ranking that deep costs
        # a full scoring pass and nobody pages a TV remote that far.
        want = min(start + per_page, MAX_RESULT_WINDOW)
        if cached is not None and (len(cached[0]) >= want or len(cached[0]) == cached[1]):
            gen.results.move_to_end(key)
            top, total = cached
            return top[start:want], total
        # The match set from cached per-term docnum sets: an exact total, and set intersections
        # run in C where stepping whoosh matchers doc by doc runs in Python.
        per_word = sorted((self._word_docs(searcher, leaves) for leaves in words), key=len)
        if allowed is not None:
            per_word.insert(0, allowed)
        matched = per_word[0]  # a cached posting's keys when alone: never copied, never mutated
        for other in per_word[1:]:
            matched = matched & other
        total = len(matched)
        if sort == "date":
            rank = self._date_rank(searcher)
            top = [(d, 0.0) for d in sorted(matched, key=rank.__getitem__)[:MAX_RESULT_WINDOW]]
        else:
            top = self._top(searcher, words, matched, want)
        if self._result_cache_size > 0:
            gen.results[key] = (top, total)
            while len(gen.results) > self._result_cache_size:
                gen.results.popitem(last=False)
        return top[start:want], total

    def _top(
        self, searcher: Any, words: list[list[str]], matched: AbstractSet[int], want: int
    ) -> list[tuple[int, float]]:
        """The `want` best of `matched`: the same BM25F-with-tiers score whoosh would give, computed only
        for the docs that can reach the top."""
        if not matched:
            return []
        # A title (or title pinyin) term is worth TIER, more than any sum of BM25 scores, so docs rank
        # by their count of such terms first. Only the highest tiers that fill the page get scored.
        # Counted in C (Counter.update over set intersections): a pinyin prefix holds 30,000 titles.
        tiers: Counter[int] = Counter()
        for leaves in words:
            in_title = self._title_docs(searcher, leaves) & matched
            for _ in leaves:
                tiers.update(in_title)
            if len(leaves) == 1 and is_pinyin_candidate(leaves[0]):
                tiers.update(self._postings(searcher, "py", leaves[0][:PINYIN_MAX_FULL]).keys() & matched)
        levels = Counter(tiers.values())
        filled = floor = 0
        for n in sorted(levels, reverse=True):
            filled += levels[n]
            floor = n
            if filled >= want:
                break
        pool: Iterable[int]
        if filled >= want:
            pool = tiers.keys() if floor == min(levels) else [d for d, n in tiers.items() if n >= floor]
        else:
            rest = matched - tiers.keys()
            if len(rest) > DIRECT_SCORING_LIMIT:
                # Many docs without a title hit: they all rank below the titled ones, and whoosh's
                # collector skips posting blocks that cannot make the page.
                head = self._scores(searcher, words, tiers.keys())
                results = searcher.search(
                    _build_query(words), filter=rest, limit=want - len(head), terms=False
                )
                tail = [(hit.docnum, float(hit.score)) for hit in results]
                return sorted(head.items(), key=lambda ds: (-ds[1], ds[0])) + tail
            pool = matched
        if filled >= want and floor == max(levels) and len(pool) > want:
            # One tier of many docs (a common word's titles, a pinyin prefix's): score them in order of
            # their title (pinyin) length and stop when the rest cannot reach the page.
            pruned = self._length_pruned(searcher, words, pool, want)
            if pruned is not None:
                return pruned
        # Ascending docnums: nlargest keeps the first of equal scores, so ties go to the lower docnum.
        scores = self._scores(searcher, words, sorted(pool))
        return [(d, scores[d]) for d in heapq.nlargest(want, scores, key=scores.__getitem__)]

    def _length_pruned(
        self, searcher: Any, words: list[list[str]], pool: Iterable[int], want: int
    ) -> list[tuple[int, float]] | None:
        """The `want` best of `pool`, the top tier of a one-word query, when that tier comes from the
        word's title terms (or else its pinyin term) and each has the same frequency in every doc
        holding it (the leads); None otherwise.

        The leads' score only falls as their field grows, and every other term's score is at most its
        BM25 with its highest frequency in the shortest field of the index. Docs are scored shortest
        field first, a chunk at a time, until the leads' score at the next length plus those bounds
        is below the page's last score: the rest cannot reach the page. When nothing else scores,
        the `want` shortest (ties to the lower docnum, as the key orders them) are the page."""
        if len(words) != 1:
            return None
        leaves = words[0]
        title = [("title", t) for t in leaves if self._postings(searcher, "title", t)]
        py = (
            [("py", leaves[0][:PINYIN_MAX_FULL])]
            if len(leaves) == 1 and is_pinyin_candidate(leaves[0])
            else []
        )
        py = [(f, x) for f, x in py if self._postings(searcher, f, x)]
        if title and not py and len(title) == len(leaves):
            leads = title
        elif py and not title:
            leads = py
        else:
            return None
        field = leads[0][0]
        lead_terms: list[tuple[float, float]] = []  # (idf, frequency)
        for f, x in leads:
            low, high = self._weight_range(searcher, f, x)
            if low != high:
                return None
            lead_terms.append((searcher.idf(f, x), high))
        others = [
            self._bound(searcher, f, t)
            for t in leaves
            for f in ("all", "captions")
            if self._postings(searcher, f, t)
        ]
        keys = self._length_keys(searcher, field)
        if not others:
            top = heapq.nsmallest(want, pool, key=keys.__getitem__)
            scores = self._scores(searcher, words, top)
            return [(d, scores[d]) for d in top]
        slack = sum(others) + 1e-6  # float sums in another order may differ in the last bits
        avgfl = self._avg_length(searcher, field)
        lengths = self._lengths(searcher, field)
        order = sorted(pool, key=keys.__getitem__)
        chunk = PRUNING_CHUNK
        found: dict[int, float] = {}
        floor: list[float] = []  # the `want` best scores so far, a min-heap
        for i in range(0, len(order), chunk):
            if len(floor) == want:
                fl = lengths[order[i]]
                lead = sum(TIER + _bm25(idf, tf, fl, avgfl) for idf, tf in lead_terms)
                if lead + slack < floor[0]:
                    break
            part = self._scores(searcher, words, order[i : i + chunk])
            found.update(part)
            for value in part.values():
                if len(floor) < want:
                    heapq.heappush(floor, value)
                elif value > floor[0]:
                    heapq.heapreplace(floor, value)
        docs = sorted(found)  # ties to the lower docnum
        return [(d, found[d]) for d in heapq.nlargest(want, docs, key=found.__getitem__)]

    def _weight_range(self, searcher: Any, field: str, text: str) -> tuple[float, float]:
        """A term's lowest and highest frequency in a doc."""
        found = self._gen.weight_ranges.get((field, text))
        if found is None:
            weights = self._postings(searcher, field, text).values()
            found = self._gen.weight_ranges[(field, text)] = (min(weights), max(weights))
        return found

    def _bound(self, searcher: Any, field: str, text: str) -> float:
        """The most a term can add to a doc's score: its highest frequency in the index's shortest field."""
        _, high = self._weight_range(searcher, field, text)
        shortest = self._gen.shortest.get(field)
        if shortest is None:
            shortest = self._gen.shortest[field] = min(self._lengths(searcher, field))
        tier = TIER if field in ("title", "py") else 0.0
        return tier + _bm25(searcher.idf(field, text), high, shortest, self._avg_length(searcher, field))

    def _avg_length(self, searcher: Any, field: str) -> float:
        return float(searcher.avg_field_length(field) or 1.0)

    def _length_keys(self, searcher: Any, field: str) -> list[int]:
        """Per docnum, its `field` length then its docnum as one int: ordering docs by it is ordering
        them by length, ties to the lower docnum (built in C, once per generation and field)."""
        keys = self._gen.length_keys.get(field)
        if keys is None:
            lengths = self._lengths(searcher, field)
            n = len(lengths)
            keys = list(map(operator.add, map(operator.mul, lengths, repeat(n)), range(n)))
            self._gen.length_keys[field] = keys
        return keys

    def _scores(self, searcher: Any, words: list[list[str]], pool: Iterable[int]) -> dict[int, float]:
        """BM25F as whoosh computes it for _build_query(words), from cached postings and lengths."""
        scores = dict.fromkeys(pool, 0.0)
        candidates = scores.keys()

        def add(field: str, text: str, docs: Any, tier: float) -> None:
            postings = self._postings(searcher, field, text)
            if not postings:
                return
            idf = searcher.idf(field, text)
            avgfl = self._avg_length(searcher, field)
            lengths = self._lengths(searcher, field)
            for d in postings.keys() & docs:  # C: walks the smaller side
                scores[d] += tier + _bm25(idf, postings[d], lengths[d], avgfl)

        for leaves in words:
            for t in leaves:
                add("all", t, candidates, 0.0)
                add("captions", t, candidates, 0.0)
            if len(leaves) == 1 and is_pinyin_candidate(leaves[0]):
                add("py", leaves[0][:PINYIN_MAX_FULL], candidates, TIER)
            in_title = self._title_docs(searcher, leaves) & candidates
            for t in leaves:
                add("title", t, in_title, TIER)
        return scores

    def _lengths(self, searcher: Any, field: str) -> list[int]:
        """Per docnum, its length of `field` (deleted docs included): a kept segment's slice carries."""
        layout = self._gen.layout
        assert layout is not None
        cached = self._warm.lengths.get(field)
        if cached is not None:
            plan = self._current("lengths", cached[0])
            if plan is True:
                return cached[1]
            if plan is not None:
                self.cache_stats["lengths.carried"] += 1
                old = cached[1]
                lengths: list[int] = []
                for i, (leaf, base) in enumerate(searcher.reader().leaf_readers()):
                    if i in plan.fresh:
                        _leaf_lengths(leaf, field, lengths)
                    else:  # kept: the same documents at the same docnums
                        lengths.extend(old[base : base + leaf.doc_count_all()])
                self._warm.lengths[field] = (layout, lengths)
                return lengths
        self.cache_stats["lengths.read"] += 1
        lengths = _field_lengths(searcher.reader(), field)
        self._warm.lengths[field] = (layout, lengths)
        return lengths

    def _postings(self, searcher: Any, field: str, text: str) -> dict[int, float]:
        """docnum -> term weight for one term, cached within a size budget; an older generation's
        keeps its kept segments' postings and reads only the new segments'."""
        warm = self._warm
        layout = self._gen.layout
        assert layout is not None
        key = (field, text)
        cache = warm.postings
        reader = searcher.reader()
        n = reader.doc_count_all()
        if len(warm.docnums) < n:
            warm.docnums.extend(range(len(warm.docnums), n))
        found = cache.get(key)
        if found is not None:
            plan = self._current("postings", found[0])
            postings = found[1]
            if plan is True:
                cache.move_to_end(key)
                return postings
            before = len(postings)
            self.cache_stats["postings.carried" if plan is not None else "postings.read"] += 1
            if plan is not None:
                _without(postings, plan)
                if plan.fresh:
                    postings.update(
                        _term_postings(reader, field, text.encode(), warm.docnums, self._sidecar, plan.fresh)
                    )
            else:
                postings = _term_postings(reader, field, text.encode(), warm.docnums, self._sidecar)
            warm.postings_size += len(postings) - before
        else:
            self.cache_stats["postings.read"] += 1
            postings = _term_postings(reader, field, text.encode(), warm.docnums, self._sidecar)
            warm.postings_size += len(postings)
        cache[key] = (layout, postings)
        cache.move_to_end(key)
        while warm.postings_size > POSTINGS_CACHE_ENTRIES and len(cache) > 1:
            _, (_, dropped) = cache.popitem(last=False)
            warm.postings_size -= len(dropped)
        return postings

    def _docs(self, searcher: Any, field: str, leaves: list[str]) -> AbstractSet[int]:
        """Docs with all these terms in `field` (a cached posting's keys for one term: not a copy)."""
        keys = sorted((self._postings(searcher, field, t).keys() for t in leaves), key=len)
        docs: AbstractSet[int] = keys[0]
        for other in keys[1:]:
            docs = docs & other
        return docs

    def _word_docs(self, searcher: Any, leaves: list[str]) -> AbstractSet[int]:
        # Said in the film counts as much as written on its page.
        parts = [self._docs(searcher, "all", leaves), self._docs(searcher, "captions", leaves)]
        if len(leaves) == 1 and is_pinyin_candidate(leaves[0]):
            parts.append(self._postings(searcher, "py", leaves[0][:PINYIN_MAX_FULL]).keys())
        # A union copies: a common word's 30,000 docs are not copied to add an empty caption set.
        parts = [p for p in parts if p] or parts[:1]
        docs = parts[0]
        for other in parts[1:]:
            docs = docs | other
        return docs

    def _title_docs(self, searcher: Any, leaves: list[str]) -> AbstractSet[int]:
        return self._docs(searcher, "title", leaves)

    def _hit(self, searcher: Any, docnum: int, score: float, terms: frozenset[str]) -> Hit:
        stored = searcher.stored_fields(docnum)
        title = _mark(stored["title"], terms)
        snippet = _snippet(stored.get("description", ""), terms) or _snippet(
            stored.get("attachment", ""), terms
        )
        moment, said = _moment(stored.get("cues", ""), terms)
        return Hit(id=stored["id"], score=score, title=title, snippet=snippet or said, moment=moment)


def _bm25(idf: float, tf: float, fl: int, avgfl: float) -> float:
    """One term's BM25 in one doc, as whoosh's BM25F computes it (same operations, same floats)."""
    k1, b = BM25_K1, BM25_B
    return idf * (tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl))


def _moment(cues_json: str, terms: frozenset[str]) -> tuple[float | None, str]:
    """The start of the cue holding the most query terms (the earliest of equals) and its marked text;
    (None, "") when no cue holds any."""
    if not cues_json or not terms:
        return None, ""
    best: tuple[int, float, str] | None = None
    for start, text in json.loads(cues_json):
        found = _spans(text, terms)
        if found and (best is None or len(found) > best[0]):
            best = (len(found), float(start), text)
    if best is None:
        return None, ""
    return best[1], _render(best[2], _spans(best[2], terms))


def _build_query(words: list[list[str]]) -> wq.Query:
    """AND over the user's words; each word matches the `all` field (all its tokens) or, for a run
    of letters, the title pinyin. Title terms are optional extras that only add score."""
    required: list[wq.Query] = []
    in_title: list[wq.Query] = []
    for leaves in words:
        if len(leaves) == 1:
            alternatives: list[wq.Query] = [wq.Term("all", leaves[0]), wq.Term("captions", leaves[0])]
            if is_pinyin_candidate(leaves[0]):
                alternatives.append(wq.Term("py", leaves[0][:PINYIN_MAX_FULL]))
            required.append(wq.Or(alternatives))
            in_title.append(wq.Term("title", leaves[0]))
        else:
            required.append(wq.Or([wq.And([wq.Term(f, t) for t in leaves]) for f in ("all", "captions")]))
            in_title.append(wq.And([wq.Term("title", t) for t in leaves]))
    main = required[0] if len(required) == 1 else wq.And(required)
    return wq.AndMaybe(main, in_title[0] if len(in_title) == 1 else wq.Or(in_title))
