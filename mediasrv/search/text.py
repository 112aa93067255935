"""Text folding, Chinese segmentation and pinyin for the search index.

Index and query text go through the same `fold()` so that full-width/half-width forms (NFKC) and
traditional/simplified characters (OpenCC t2s tables) meet; Latin is lowercased per token so that
character offsets into the original text survive for highlighting.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from whoosh.analysis import Token, Tokenizer

# Domain words jieba's stock dictionary splits; added so that index and query agree on them.
_DOMAIN_WORDS = (
    "乡村振兴",
    "党史学习",
    "党建云",
    "电教片",
    "远程教育",
    "基层治理",
    "先进典型",
    "组织生活",
    "农业技术",
    "机顶盒",
    "学习强国",
)

_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> Any:
    """jieba, imported and initialised once per process on first use (not at import: it takes ~1 s)."""
    global _jieba_ready
    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                with warnings.catch_warnings():
                    # jieba 0.42 imports pkg_resources when present (newer setuptools warn about that),
                    # and its sources have invalid escapes, which warn when compiled without a .pyc.
                    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")
                    warnings.filterwarnings("ignore", message=r"invalid escape sequence", module=r".*jieba")
                    import jieba

                jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
                jieba.initialize()
                for word in _DOMAIN_WORDS:
                    jieba.add_word(word)
                _jieba_ready = True
    import jieba

    return jieba


@cache
def _opencc() -> tuple[Any, frozenset[str]]:
    """The t2s converter and the characters that can change under it (a fast path for simplified text)."""
    import opencc

    converter = opencc.OpenCC("t2s")
    changing: set[str] = set()
    tables = Path(opencc.__file__).parent / "dictionary"
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        with (tables / name).open(encoding="utf-8") as f:
            for line in f:
                key, _, values = line.rstrip("\n").partition("\t")
                value = values.split(" ")[0]
                if len(key) != len(value):
                    changing.update(key)
                else:
                    changing.update(k for k, v in zip(key, value, strict=True) if k != v)
    return converter, frozenset(changing)


def fold(text: str) -> tuple[str, list[int] | None]:
    """NFKC + traditional->simplified. Returns the folded text and, when its length differs from the
    input, a map from folded index to original index (one extra entry for the end)."""
    offsets: list[int] | None = None
    if not unicodedata.is_normalized("NFKC", text):  # e.g. full-width punctuation, common in Chinese
        normalized = unicodedata.normalize("NFKC", text)
        if len(normalized) != len(text):
            # Per character, so that every folded character knows where it came from.
            parts: list[str] = []
            offsets = []
            for i, ch in enumerate(text):
                n = unicodedata.normalize("NFKC", ch)
                parts.append(n)
                offsets.extend([i] * len(n))
            offsets.append(len(text))
            normalized = "".join(parts)
        text = normalized
    converter, changing = _opencc()
    if not changing.isdisjoint(text):
        converted: str = converter.convert(text)
        if len(converted) != len(text):  # a phrase mapped to another length: keep offsets exact
            converted = "".join(c if len(c := converter.convert(ch)) == 1 else ch for ch in text)
        text = converted
    return text, offsets


def tokens(text: str, *, search_mode: bool = True) -> Iterator[tuple[str, int, int]]:
    """(token, start, end) with offsets into the original text; tokens are folded and lowercased,
    punctuation and spaces are dropped. Search mode also yields the shorter words inside long ones."""
    folded, offsets = fold(text)
    jieba = _jieba()
    for word, start, end in jieba.tokenize(folded, mode="search" if search_mode else "default"):
        if not any(ch.isalnum() for ch in word):
            continue
        if offsets is not None:
            start, end = offsets[start], offsets[end - 1] + 1
        yield word.lower(), start, end


def query_words(text: str, *, max_words: int) -> list[list[str]]:
    """The user's words (split on whitespace), each as the smallest search-mode tokens that cover it.

    A long word's own token may be missing from the index when the indexed sentence was segmented
    differently around it, but the short words inside it are always there; requiring all of them is
    the "all tokens" match for a word that segments into several."""
    words: list[list[str]] = []
    for raw in text.split():
        toks = list(dict.fromkeys(tokens(raw)))
        # Shortest tokens first; a longer one only where it covers characters they miss ("党建云"
        # gives 党建 and 党建云, not just 党建).
        toks.sort(key=lambda t: (t[2] - t[1], t[1]))
        covered: set[int] = set()
        leaves: list[str] = []
        for tok, start, end in toks:
            span = range(start, end)
            if not covered.issuperset(span):
                if tok not in leaves:
                    leaves.append(tok)
                covered.update(span)
        if leaves and leaves not in words:
            words.append(leaves)
        if len(words) == max_words:
            break
    return words


def is_pinyin_candidate(word: str) -> bool:
    return len(word) >= 2 and word.isascii() and word.isalpha()


# Longest pinyin prefix indexed: ~3 syllables of full pinyin, or 12 initials. Longer typed input is cut
# to this length, which works for both kinds because they share the limit.
PINYIN_MAX_FULL = PINYIN_MAX_INITIALS = 12


def pinyin_tokens(title: str) -> list[str]:
    """Pinyin terms for a title: each syllable, and every prefix (2+ letters) of the full pinyin and
    of the initials starting at each word of a Chinese run ("dangjianyun", "dangj", "djy", "dj").

    Prefixes are indexed rather than expanded at query time because a Prefix query over a 100k-title
    lexicon turns "dj" into thousands of terms; here it is one posting list."""
    from pypinyin import Style, lazy_pinyin

    folded, _ = fold(title)
    jieba = _jieba()
    out: dict[str, None] = {}
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        text = "".join(run)
        syllables = [s.lower() for s in lazy_pinyin(text, style=Style.NORMAL)]
        if len(syllables) != len(text):  # defensive: pypinyin should give one syllable per hanzi
            run.clear()
            return
        starts, pos = [], 0
        for w in run:
            starts.append(pos)
            pos += len(w)
        for s in syllables:
            if len(s) >= 2:
                out[s] = None
        for k in starts:
            full = "".join(syllables[k:])[:PINYIN_MAX_FULL]
            initials = "".join(s[0] for s in syllables[k:])[:PINYIN_MAX_INITIALS]
            for gram in (full, initials):
                for n in range(2, len(gram) + 1):
                    out[gram[:n]] = None
        run.clear()

    for word in jieba.lcut(folded):
        if all("\u4e00" <= ch <= "\u9fff" for ch in word):
            run.append(word)
        else:
            flush()
    flush()
    return list(out)


class ChineseTokenizer(Tokenizer):  # type: ignore[misc]
    """Whoosh tokenizer over `tokens()` (jieba search mode on folded text, original offsets)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, (text, start, end) in enumerate(tokens(value)):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[start:end]
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t
