"""What every command shares: the console, the settings, the operator's language, and the one place
errors are printed.

Every message is a key of mediasrv/cli/messages.json (or the server's catalogues, for a refusal raised
in the database commands), rendered in the operator's language: `--lang`, else the locale (LANG...),
Chinese unless that says English. A foreseeable mistake prints one line and exits 2; `--debug` lets
the traceback through instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from mediasrv.config import Settings
from mediasrv.kit import i18n
from mediasrv.kit.errors import MediaError, invalid_request_body
from mediasrv.kit.i18n import Lang
from mediasrv.protocol import helptext
from mediasrv.protocol.china import now_in_china
from mediasrv.protocol.lang import lang_in_args, operator_lang
from mediasrv.protocol.usage import aborted, is_usage_error, usage_line

if TYPE_CHECKING:
    from pydantic import ValidationError

# Progress, notes and errors go to stderr; stdout carries only what a script reads (ids, tokens, JSON).
console = Console(stderr=True)


@dataclass
class Options:
    """The root command's options, which every command reads."""

    lang: Lang = "zh"
    debug: bool = False


options = Options(lang=operator_lang(os.environ))


def choose(lang: str | None, debug: bool) -> None:
    """Take the root command's --lang and --debug (the locale when --lang is not given)."""
    options.lang = operator_lang(os.environ, lang)
    options.debug = debug


def say(key: str, /, **params: Any) -> str:
    """A message of the catalogues in the operator's language."""
    return i18n.render(key, options.lang, params)


def note(key: str, /, **params: Any) -> None:
    """Print a message on stderr (progress and what happened, not for scripts)."""
    console.print(escape(say(key, **params)), soft_wrap=True, highlight=False)


def accept_language() -> str:
    """The Accept-Language the server renders its refusals by."""
    return "en" if options.lang == "en" else "zh-CN"


def beijing(moment: datetime | str) -> str:
    """A moment on the Beijing clock, labelled as such (the server stores UTC)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    clock = now_in_china(moment).strftime("%Y-%m-%d %H:%M:%S")
    return say("cli.beijing_time", clock=clock)


def report_error(message: str, *, label: str | None = None) -> None:
    """Print an error (already in the operator's language) in red on stderr, as text: a server's
    message may hold brackets ("[x]") that rich would otherwise read as markup and drop."""
    text = escape(message)
    console.print(f"[red]{text}[/]" if label is None else f"[red]{escape(label)}[/] {text}", soft_wrap=True)


def fail(key: str, /, *, exit_code: int = 2, **params: Any) -> NoReturn:
    """Print the message `key` as an error and end the command (exit 2: the operator can fix it)."""
    fail_with_text(say(key, **params), exit_code=exit_code)


def fail_with_text(message: str, *, exit_code: int = 2) -> NoReturn:
    report_error(message)
    raise typer.Exit(exit_code) from None


# The server's messages name fields as the API calls them; here they are options as typed.
_AS_TYPED = {"accounts.producer_needs_unit": "cli.producer_needs_unit"}


def refuse(exc: MediaError) -> NoReturn:
    """A refusal of the server's code (a database command): its message, exit 2."""
    key = _AS_TYPED.get(exc.key, exc.key)
    fail_with_text(i18n.render(key, options.lang, exc.params))


def refuse_invalid(exc: ValidationError, typed: Mapping[str, str]) -> NoReturn:
    """The problems of values given on the command line, checked by the API's own schema, each named
    by its option as typed (`typed`: field -> --option) instead of the API's field name."""
    errors: Sequence[Mapping[str, Any]] = [
        {**error, "loc": tuple(typed.get(str(part), str(part)) for part in error["loc"])}
        for error in exc.errors()
    ]
    fail_with_text(invalid_request_body(errors, options.lang)["message"])


def load_settings() -> Settings:
    """The settings, or what is wrong with them and exit 2 (not a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("MEDIASRV_" + "_".join(str(part) for part in error["loc"]).upper(),)}
            for error in exc.errors()
        ]
        fail_with_text(invalid_request_body(errors, options.lang)["message"])


def _server_of(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # raised before a request was made
        return "?"
    return f"{url.scheme}://{url.netloc.decode()}"


def explain(exc: Exception) -> NoReturn:
    """Any error a command let through, as one line: exit 2 for what the operator can fix, 1 else."""
    if isinstance(exc, MediaError):
        refuse(exc)
    if isinstance(exc, httpx.TimeoutException):
        fail("cli.server_timeout", server=_server_of(exc))
    if isinstance(exc, httpx.TransportError):
        fail("cli.server_unreachable", server=_server_of(exc))
    if isinstance(exc, OSError):  # a file that cannot be read or written, a full disk
        fail("cli.os_error", detail=f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    fail("cli.unexpected", exit_code=1, detail=f"{type(exc).__name__}: {exc}")


def _usage_error(exc: Exception, command: str) -> NoReturn:
    """Click's own usage error (a missing or unknown option, a bad choice), in the operator's
    language: one line and the hint to --help, exit 2."""
    ctx = getattr(exc, "ctx", None)
    fail_with_text(usage_line(exc, options.lang, ctx.command_path if ctx is not None else command))


def help_text(key: str) -> str | None:
    """A help key's text in the operator's language; None for what is not a key (typer's built-ins)."""
    return i18n.render(key, options.lang) if key in i18n.MESSAGES else None


class Guarded(TyperGroup):
    """The root command: whatever a command raises ends as one line in the operator's language,
    never a traceback (unless --debug); so do click's usage errors, which typer would print in
    English. Every help text is a key of the catalogues, put in that language here too."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # Before parsing: a mistake in the root's own options stops the parse, and --lang with it;
        # --help prints while parsing, so the tree's help texts are set before.
        options.lang = operator_lang(os.environ, lang_in_args(args))
        from typer import rich_utils

        helptext.translate(self, help_text, options.lang, rich_utils)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except TyperException as exc:
            if not is_usage_error(exc):
                raise
            _usage_error(exc, info_name or "mediasrv")

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except typer.Abort:  # Ctrl-C or Ctrl-D at a prompt
            fail_with_text(aborted(options.lang), exit_code=1)
        except TyperException as exc:
            if not is_usage_error(exc):
                raise
            _usage_error(exc, ctx.command_path)
        except Exception as exc:
            if options.debug:
                raise
            explain(exc)
