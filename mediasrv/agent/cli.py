"""The `mediasrv-site` command: init, sync, daemon, status, serve, import."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="mediasrv-site: keeps a terminal site's cache complete and serves it on the LAN",
    no_args_is_help=True,
)


# init, sync, daemon, status: defined below. serve (the LAN origin) and import (offline bundles) live
# in their own modules, which add their commands here:
#   from mediasrv.agent import bundle, serve
#   serve.register(app); bundle.register(app)


def main() -> None:
    app()
