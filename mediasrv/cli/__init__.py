"""The `mediasrv` command: run, serve, worker, upload, status, token.

The root app only: operators (run, serve, worker, reindex, db), administration in the database
(token, user, site, site-bundle; contact, schedule) and producers over HTTP (upload, status) each
have a module.

Every help text (`help=` of a command, an option, an argument) is a key of mediasrv/cli/messages.json
(cli.help.site.create.region), shown in the operator's language (protocol.helptext, from
common.Guarded); a command's docstring is for the code's readers, not for --help.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mediasrv.cli import administration, contacts, operators, producers, schedules
from mediasrv.cli.common import Guarded, choose
from mediasrv.protocol.lang import Language

cli = typer.Typer(
    cls=Guarded,
    help="cli.help.root",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # --debug shows Python's own traceback, whole
)


@cli.callback()
def root(
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help="cli.help.root.lang",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="cli.help.root.debug")] = False,
) -> None:
    """The root command's options (its help: cli.help.root, as every help text a key of cli/messages.json)."""
    choose(lang.value if lang else None, debug)


# `mediasrv --help` lists commands in this order, then the groups in theirs.
cli.command(help="cli.help.serve")(operators.serve)
cli.command(help="cli.help.worker")(operators.worker)
cli.command(help="cli.help.run")(operators.run)
cli.command(help="cli.help.upload")(producers.upload)
cli.command(help="cli.help.status")(producers.status)
cli.command(help="cli.help.reindex")(operators.reindex)
cli.add_typer(administration.token_cli, name="token")
cli.add_typer(administration.user_cli, name="user")
cli.add_typer(administration.site_cli, name="site")
cli.add_typer(administration.site_bundle_cli, name="site-bundle")
cli.add_typer(contacts.contact_cli, name="contact")
cli.add_typer(schedules.schedule_cli, name="schedule")
cli.add_typer(operators.db_cli, name="db")


def main() -> None:
    cli()
