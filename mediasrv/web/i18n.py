"""The pages' words, Chinese first, English second. One dictionary: templates use it through `t`, and
the pages' scripts get the same words (`page-data`), so a label is translated in one place. The format
and the language rule are the server messages' (mediasrv.kit.i18n)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

from mediasrv.kit import i18n
from mediasrv.kit.i18n import LANG_COOKIE, Lang

__all__ = ["LANG_COOKIE", "WORDS", "Lang", "choose", "words"]

WORDS_DIR = Path(__file__).parent / "words"


def _load() -> dict[str, tuple[str, str]]:
    """words/*.json: {"key": ["中文", "English"]}, one file per page (common.json for every page)."""
    found = i18n.load(WORDS_DIR.glob("*.json"))
    if not found:  # an install without its package data: every page would show bare keys
        raise RuntimeError(f"no words in {WORDS_DIR}: reinstall mediasrv (words/*.json are package data)")
    return found


# key -> (zh, en). Keys are dotted by page; `common.` ones are on every page.
WORDS = _load()


def choose(request: Request) -> Lang:
    """?lang= (remembered in a cookie), else the cookie, else the browser's first choice; Chinese
    unless the browser prefers English."""
    return i18n.choose_lang(request.headers, request.cookies, request.query_params)


def words(lang: Lang) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {key: pair[i] for key, pair in WORDS.items()}
