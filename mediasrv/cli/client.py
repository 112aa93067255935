"""Talking to a running server over HTTP: its address, the API token, and its refusals.

Only HTTP here (an import-linter contract keeps the database out): these commands work from any
machine that reaches the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer

from mediasrv.cli.common import accept_language, fail, fail_with_text, say
from mediasrv.config import Settings

# The token `mediasrv run` writes for this machine's command line (mode 0600), in DATA_DIR and in the
# user's config folder, so that the commands find it from any folder.
CLI_TOKEN_FILE = "cli-token"  # noqa: S105  # a file name, not a secret

ServerOption = Annotated[str, typer.Option(envvar="MEDIASRV_SERVER", help="cli.help.common.server")]
TokenOption = Annotated[str | None, typer.Option(envvar="MEDIASRV_TOKEN", help="cli.help.common.token")]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def config_dir() -> Path:
    """The user's config folder for mediasrv (XDG's rule, as platformdirs has it on Linux)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".config") / "mediasrv"


def token_paths(settings: Settings) -> list[Path]:
    """Where this machine's CLI token is looked for, in order: the data directory (MEDIASRV_DATA_DIR,
    default var/ of the current folder), then the user's config folder."""
    return [settings.data_dir / CLI_TOKEN_FILE, config_dir() / CLI_TOKEN_FILE]


def api_token(settings: Settings, token: str | None) -> str:
    """The token given (--token, MEDIASRV_TOKEN), else this machine's CLI token, else exit 2."""
    if token:
        return token
    for path in token_paths(settings):
        if path.is_file():
            return path.read_text().strip()
    fail("cli.no_token", looked=", ".join(str(p) for p in token_paths(settings)))


def request_headers(token: str) -> dict[str, str]:
    """Every request's headers: the token, and the language the server renders its refusals in."""
    return {"Authorization": f"Bearer {token}", "Accept-Language": accept_language()}


def connect(server: str, token: str, *, timeout: httpx.Timeout | float = 30.0) -> httpx.Client:
    """A client of the server that asks for its refusals in the operator's language."""
    return httpx.Client(base_url=server, headers=request_headers(token), timeout=timeout)


def fail_with(response: httpx.Response) -> NoReturn:
    """Print the server's refusal (its rendered message, else the body) and exit: 2 when the request
    was refused (4xx: the operator can change it), 1 when the server failed."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = (body.get("message") if isinstance(body, dict) else None) or response.text
    status = response.status_code
    fail_with_text(
        say("cli.server_refused", status=status, message=message.strip()), exit_code=2 if status < 500 else 1
    )
