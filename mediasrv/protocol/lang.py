"""Which language an operator at a terminal reads: both command lines (`mediasrv`, `mediasrv-site`) ask
here, so they agree. Standard library only: the site agent imports it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Literal

# POSIX order: LC_ALL overrides LC_MESSAGES, which overrides LANG; the first one set decides.
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def operator_lang(environ: Mapping[str, str], chosen: str | None = None) -> Literal["zh", "en"]:
    """`chosen` (a --lang option) when given, else the locale: English only when it says en (en_US.UTF-8);
    zh_CN, C, POSIX or nothing at all read Chinese, the users' language."""
    if chosen in ("zh", "en"):
        return "en" if chosen == "en" else "zh"
    for name in _LOCALE_VARIABLES:
        if value := environ.get(name, "").strip():
            return "en" if value.lower().startswith("en") else "zh"
    return "zh"


def lang_in_args(args: Sequence[str]) -> str | None:
    """The root command's --lang among `args`, read before click parses them, so a mistake in the
    command line itself (which stops the parse) is told in the language asked for."""
    for n, arg in enumerate(args):
        if arg == "--lang" and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--lang="):
            return arg.removeprefix("--lang=")
    return None


class Language(StrEnum):
    """The values of both command lines' --lang option."""

    zh = "zh"
    en = "en"
