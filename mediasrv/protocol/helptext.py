"""The command lines' `--help` in the operator's language: both (`mediasrv`, `mediasrv-site`) write each
command's, option's and argument's help as a key of their catalogue (`help="cli.help.site.create.region"`)
and, once the language is known (the root command's make_context, before click parses anything and
before --help prints), walk their click tree here and put the text of each key in its place.

Standard library only (the agent imports protocol, and protocol imports no library): the tree is read
by the attributes click and typer give it (`commands`, `params`, `help`, `short_help`,
`get_help_option`), as protocol.usage reads click's errors. Typer's own words come with it: the help of
--help and of the completion options, the panels' titles and the [default: ...] marks (typer's
rich_utils constants, set by name on the module the command line passes in), and click's "Usage:".
The metavars (TEXT, INTEGER...) stay as click writes them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["zh", "en"]

# Typer's and click's built-in options, by the English help they come with: (中文, English).
BUILT_IN: dict[str, tuple[str, str]] = {
    "Show this message and exit.": ("显示本帮助并退出。", "Show this message and exit."),
    "Install completion for the current shell.": (
        "为当前的命令行窗口（shell）安装命令补全。",
        "Install completion for the current shell.",
    ),
    "Show completion for the current shell, to copy it or customize the installation.": (
        "显示当前命令行窗口（shell）的命令补全脚本，可复制或自行安装。",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
}

# typer.rich_utils' words around the help texts: name -> (中文, English as typer has it).
FRAME: dict[str, tuple[str, str]] = {
    "ARGUMENTS_PANEL_TITLE": ("参数", "Arguments"),
    "OPTIONS_PANEL_TITLE": ("选项", "Options"),
    "COMMANDS_PANEL_TITLE": ("命令", "Commands"),
    # A space, not "：", before the value: rich breaks a line at spaces only (a long value would be cut).
    "DEFAULT_STRING": ("[默认 {}]", "[default: {}]"),
    "ENVVAR_STRING": ("[环境变量 {}]", "[env var: {}]"),
    "REQUIRED_LONG_STRING": ("[必填]", "[required]"),
    "DEPRECATED_STRING": ("（已停用）", "(deprecated) "),
}

# click's usage line's prefix, its space included (a full-width colon needs none).
CLICK: dict[str, tuple[str, str]] = {"Usage: ": ("用法：", "Usage: ")}

_KEY = "_help_key"  # where a walked object keeps its key, so that a second walk finds it again


@dataclass(frozen=True)
class Helped:
    """One help text of the tree: where it is (`mediasrv site create --region`) and its key as written."""

    where: str
    key: str | None


@dataclass(frozen=True)
class _HelpNames:
    """What `get_help_option` reads of a context: the help option's names (the root's context
    settings', which every context inherits; click's default --help)."""

    help_option_names: tuple[str, ...]


def _params(command: Any, names: _HelpNames) -> list[Any]:
    """The command's parameters, its --help among them (click makes that one on first asking)."""
    params = list(getattr(command, "params", None) or [])
    get = getattr(command, "get_help_option", None)
    if callable(get) and (help_option := get(names)) is not None and help_option not in params:
        params.append(help_option)
    return params


def _named(param: Any) -> str:
    opts: list[str] = list(getattr(param, "opts", None) or [])
    if getattr(param, "param_type_name", None) == "option" and opts:
        return max(opts, key=len)
    return str(getattr(param, "name", None) or "?").upper()


def _texts(command: Any, path: str, names: _HelpNames | None = None) -> Iterator[tuple[Any, str, str]]:
    """(object, attribute, where) of every help text in the tree under `command`, depth first."""
    if names is None:
        settings = getattr(command, "context_settings", None) or {}
        names = _HelpNames(tuple(settings.get("help_option_names") or ("--help",)))
    yield command, "help", path
    yield command, "short_help", path
    for param in _params(command, names):
        if not getattr(param, "hidden", False):
            yield param, "help", f"{path} {_named(param)}"
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _texts(sub, f"{path} {name}", names)


def _key(obj: Any, attribute: str) -> str | None:
    kept: dict[str, str | None] = obj.__dict__.setdefault(_KEY, {})
    if attribute not in kept:
        kept[attribute] = getattr(obj, attribute, None)
    return kept[attribute]


def translate(command: Any, text: Callable[[str], str | None], lang: Lang, frame: Any = None) -> None:
    """Put in place of each help key under `command` its text (`text(key)`, None for what is not a key
    of the catalogue: left as written); typer's built-ins in `lang`; `frame` (typer.rich_utils) the
    panels' words in `lang`."""
    built_in = {en: pair[0 if lang == "zh" else 1] for en, pair in BUILT_IN.items()}
    for obj, attribute, _ in _texts(command, getattr(command, "name", None) or "?"):
        key = _key(obj, attribute)
        if key:
            said = built_in.get(key) or text(key)
            if said is not None:
                setattr(obj, attribute, said)
    if frame is not None:
        for name, pair in FRAME.items():
            setattr(frame, name, pair[0 if lang == "zh" else 1])
        _fold(frame)
        _usage_prefix(CLICK["Usage: "][0 if lang == "zh" else 1])


def _usage_prefix(word: str) -> None:
    """Make click's usage line start with `word`: typer's copy of click writes "Usage: " as a literal
    default of HelpFormatter.write_usage (the module is loaded with typer and found in sys.modules:
    protocol imports no library)."""
    for name in ("typer._click.formatting", "click.formatting"):
        formatter = getattr(sys.modules.get(name), "HelpFormatter", None)
        if formatter is None:
            continue
        original = getattr(formatter.write_usage, "__wrapped__", formatter.write_usage)

        def write_usage(
            self: Any, prog: str, args: str = "", prefix: str | None = None, *, _o: Any = original
        ) -> None:
            _o(self, prog, args, word if prefix is None else prefix)

        write_usage.__wrapped__ = original  # type: ignore[attr-defined]
        formatter.write_usage = write_usage


def _fold(frame: Any) -> None:
    """Make typer's help texts break anywhere when a line is full: rich breaks lines at spaces, and
    a Chinese sentence has none, so it would cut the sentence off with "…" instead of wrapping it."""
    make = getattr(frame, "_make_rich_text", None)
    if not callable(make) or getattr(make, "folds", False):
        return

    def folding(**kwargs: Any) -> Any:
        made = make(**kwargs)
        if type(made).__name__ == "Text":  # rich.text.Text; a Markdown text wraps on its own
            made.overflow = "fold"
        return made

    folding.folds = True  # type: ignore[attr-defined]
    frame._make_rich_text = folding


def help_texts(command: Any, name: str) -> list[Helped]:
    """Every command, option and argument under `command` (called `name`), with the help key it was
    written with (None: none): what tests check against the catalogue. A command's short_help only
    when it has one; typer's built-ins left out (they are translated by their English)."""
    found = []
    for obj, attribute, where in _texts(command, name):
        key = _key(obj, attribute)
        if attribute == "short_help" and key is None:
            continue
        if key in BUILT_IN:
            continue
        found.append(Helped(f"{where} ({attribute})" if attribute == "short_help" else where, key))
    return found
