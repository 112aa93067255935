"""What every command shares: the console, the settings, and the one place errors are printed."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from mediasrv.config import Settings

# Progress, notes and errors go to stderr; stdout carries only what a script reads (ids, tokens, JSON).
console = Console(stderr=True)


def report_error(message: str, *, label: str | None = None) -> None:
    """Print an error in red on stderr; with a label ("404:", "line 3:") only the label is red."""
    if label is None:
        console.print(f"[red]{message}[/]")
    else:
        console.print(f"[red]{label}[/] {message}")


def fail(message: str, *, label: str | None = None, code: int = 1) -> NoReturn:
    """Print an error and end the command with exit code `code`."""
    report_error(message, label=label)
    raise typer.Exit(code) from None


def load_settings() -> Settings:
    """The settings, or what is wrong with them and exit 2 (not a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "MEDIASRV_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"{name}: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None
