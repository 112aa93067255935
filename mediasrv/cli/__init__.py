"""The `mediasrv` command: run, serve, worker, upload, status, token.

The root app only: operators (run, serve, worker, reindex, db), administration in the database
(token, user, site, site-bundle) and producers over HTTP (upload, status) each have a module.
"""

from __future__ import annotations

import typer

from mediasrv.cli import administration, operators, producers

cli = typer.Typer(help="mediasrv: media library and courseware distribution server", no_args_is_help=True)
# `mediasrv --help` lists commands in this order, then the groups in theirs.
cli.command()(operators.serve)
cli.command()(operators.worker)
cli.command()(operators.run)
cli.command()(producers.upload)
cli.command()(producers.status)
cli.command()(operators.reindex)
cli.add_typer(administration.token_cli, name="token")
cli.add_typer(administration.user_cli, name="user")
cli.add_typer(administration.site_cli, name="site")
cli.add_typer(administration.site_bundle_cli, name="site-bundle")
cli.add_typer(operators.db_cli, name="db")


def main() -> None:
    cli()
