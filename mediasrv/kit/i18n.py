"""The server's two languages: which one a caller reads, and its messages in both.

A catalogue is a JSON file {"key": ["中文 {param}", "English {param}"]}: the pages' words
(mediasrv/web/words/*.json) and the server's messages, one `messages.json` per package beside its code
(mediasrv/accounts/messages.json, mediasrv/kit/messages.json for the generic ones, ...), found by the
glob `mediasrv/*/messages.json` (package data in pyproject). Keys are dotted by domain
("accounts.login_locked_account") and defined once. A refusal names its key and parameters
(`MediaError("accounts.username_taken", username=...)`); the handler renders it per request.

Standard library only: kit.errors renders through it, the web pages read their words through it.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
LANG_COOKIE = "mediasrv_lang"  # a page's language choice (?lang=), remembered

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mediasrv/


def load(paths: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """key -> (zh, en) from catalogue files; a key defined twice (in any two files) is an error."""
    found: dict[str, tuple[str, str]] = {}
    where: dict[str, Path] = {}
    for path in sorted(paths):
        for key, pair in json.loads(path.read_text(encoding="utf-8")).items():
            if key in found:
                raise ValueError(f"{path}: {key!r} is defined twice (also in {where[key]})")
            zh, en = pair
            found[key], where[key] = (zh, en), path
    return found


def catalogue_paths() -> list[Path]:
    return sorted(PACKAGE_DIR.glob("*/messages.json"))


def _load_messages() -> dict[str, tuple[str, str]]:
    found = load(catalogue_paths())
    if not found:  # an install without its package data: every refusal would show a bare key
        raise RuntimeError(
            f"no messages.json under {PACKAGE_DIR}: reinstall mediasrv (they are package data)"
        )
    return found


# key -> (zh, en): every server message.
MESSAGES = _load_messages()


def choose_lang(headers: Mapping[str, str], cookies: Mapping[str, str], query: Mapping[str, str]) -> Lang:
    """The one language rule, for pages and API answers alike: ?lang=, else the page's cookie, else
    the caller's first choice in Accept-Language; Chinese unless that is English."""
    for value in (query.get("lang"), cookies.get(LANG_COOKIE)):
        if value == "zh":
            return "zh"
        if value == "en":
            return "en"
    accept = headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "zh"


@dataclass(frozen=True)
class Text:
    """A catalogue text used as a parameter of another (a cap's advice inside "too large"): rendered in
    the same language; in an answer's `params` it stands as its key. A tuple of them is a list
    (roles: 编导、管理员 / producer, admin)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


class _Params(dict[str, Any]):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"  # a parameter the raise forgot shows as itself, not as a 500


def render(key: str, lang: Lang, params: Mapping[str, Any] | None = None) -> str:
    """The text of `key` in `lang` with its {params} filled in."""
    pair = MESSAGES.get(key)
    if pair is None:  # a bug: tests/kit/test_i18n.py walks every raise of mediasrv for its key
        raise KeyError(f"no text for {key!r} in the catalogues (mediasrv/*/messages.json)")
    values = _Params({name: _value(value, lang) for name, value in (params or {}).items()})
    return pair[0 if lang == "zh" else 1].format_map(values)


def _value(value: Any, lang: Lang) -> Any:
    if isinstance(value, Text):
        return render(value.key, lang, value.params)
    if isinstance(value, tuple) and value and all(isinstance(v, Text) for v in value):
        return ("、" if lang == "zh" else ", ").join(render(v.key, lang, v.params) for v in value)
    return value


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as JSON values: numbers, text, booleans and null as they are; a nested text as
    its key (a tuple of them: the list of keys); anything else as its str()."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Text):
            out[name] = value.key
        elif isinstance(value, tuple) and value and all(isinstance(v, Text) for v in value):
            out[name] = [v.key for v in value]
        elif value is None or isinstance(value, str | int | float | bool):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def placeholders(template: str) -> set[str]:
    """The {names} a catalogue text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


_TEXT = "$text"  # how a nested Text is marked in stored parameters


def stored_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as JSON that `loaded_params` turns back into the same message later (a reason
    kept in the database, rendered in each reader's language): a nested text as {"$text": key,
    "params": ...}, a tuple of them as a list; facts as json_params keeps them."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Text):
            out[name] = {_TEXT: value.key, "params": stored_params(value.params)}
        elif isinstance(value, tuple) and value and all(isinstance(v, Text) for v in value):
            out[name] = [{_TEXT: v.key, "params": stored_params(v.params)} for v in value]
        else:
            out[name] = json_params({name: value})[name]
    return out


def loaded_params(data: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters `stored_params` kept, nested texts restored."""

    def text(value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get(_TEXT), str):
            return Text(value[_TEXT], loaded_params(value.get("params") or {}))
        return value

    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, list) and value and all(isinstance(text(v), Text) for v in value):
            out[name] = tuple(text(v) for v in value)
        else:
            out[name] = text(value)
    return out
