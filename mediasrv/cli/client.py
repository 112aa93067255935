"""Talking to a running server over HTTP: its address, the API token, and its refusals.

Only HTTP here (an import-linter contract keeps the database out): these commands work from any
machine that reaches the server.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import httpx
import typer

from mediasrv.cli.common import fail
from mediasrv.config import Settings

# The token `mediasrv run` writes for this machine's command line (mode 0600, in DATA_DIR).
CLI_TOKEN_FILE = "cli-token"  # noqa: S105  # a file name, not a secret

ServerOption = Annotated[str, typer.Option(envvar="MEDIASRV_SERVER")]
TokenOption = Annotated[str | None, typer.Option(envvar="MEDIASRV_TOKEN")]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def api_token(settings: Settings, token: str | None) -> str:
    """The token given (--token, MEDIASRV_TOKEN), else this machine's CLI token, else exit 2."""
    if token:
        return token
    path = settings.data_dir / CLI_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    fail(
        "pass --token, set MEDIASRV_TOKEN, or run `mediasrv run` once on this machine.",
        label="No API token:",
        code=2,
    )


def fail_with(response: httpx.Response) -> NoReturn:
    """Print the server's refusal (its message, else the body) and exit 1."""
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    fail(message, label=f"{response.status_code}:")
