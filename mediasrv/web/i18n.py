"""The pages' words, Chinese first, English second. One dictionary: templates use it through `t`, and
the pages' scripts get the same words (`page-data`), so a label is translated in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from starlette.requests import Request

Lang = Literal["zh", "en"]
LANG_COOKIE = "mediasrv_lang"

WORDS_DIR = Path(__file__).parent / "words"


def _load() -> dict[str, tuple[str, str]]:
    """words/*.json: {"key": ["中文", "English"]}, one file per page (common.json for every page)."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(WORDS_DIR.glob("*.json")):
        for key, (zh, en) in json.loads(path.read_text(encoding="utf-8")).items():
            if key in found:
                raise ValueError(f"{path.name}: the word {key!r} is defined twice")
            found[key] = (zh, en)
    if not found:  # an install without its package data: every page would show bare keys
        raise RuntimeError(f"no words in {WORDS_DIR}: reinstall mediasrv (words/*.json are package data)")
    return found


# key -> (zh, en). Keys are dotted by page; `common.` ones are on every page.
WORDS = _load()


def choose(request: Request) -> Lang:
    """?lang= (remembered in a cookie), else the cookie, else the browser's first choice; Chinese
    unless the browser prefers English."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in ("zh", "en"):
            return value  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "zh"


def words(lang: Lang) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {key: pair[i] for key, pair in WORDS.items()}
