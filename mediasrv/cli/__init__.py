"""The `mediasrv` command: run, serve, worker, upload, status, token.

The root app only: operators (run, serve, worker, reindex, db), administration in the database
(token, user, site, site-bundle; contact, schedule) and producers over HTTP (upload, status) each
have a module.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mediasrv.cli import administration, contacts, operators, producers, schedules
from mediasrv.cli.common import Guarded, choose
from mediasrv.protocol.lang import Language

cli = typer.Typer(
    cls=Guarded,
    help="mediasrv: media library and courseware distribution server",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # --debug shows Python's own traceback, whole
)


@cli.callback()
def root(
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help="zh or en: the language of messages (default: from LANG / LC_ALL / LC_MESSAGES, else zh)",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
) -> None:
    """mediasrv: media library and courseware distribution server"""
    choose(lang.value if lang else None, debug)


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
cli.add_typer(contacts.contact_cli, name="contact")
cli.add_typer(schedules.schedule_cli, name="schedule")
cli.add_typer(operators.db_cli, name="db")


def main() -> None:
    cli()
