"""`mediasrv contact`: who hears of a region's faults (email addresses, webhook URLs), straight in the
database, as the API's /api/v1/fault-contacts does it (the same rules, audited as this machine's user)."""

from __future__ import annotations

from typing import Annotated

import typer

from mediasrv.cli.common import fail, load_settings, note
from mediasrv.cli.database import cli_actor, open_database

contact_cli = typer.Typer(help="cli.help.contact", no_args_is_help=True)


@contact_cli.command("add", help="cli.help.contact.add")
def contact_add(
    region: Annotated[str, typer.Argument(help="cli.help.contact.add.region")],
    email: Annotated[str | None, typer.Option(help="cli.help.contact.add.email")] = None,
    webhook: Annotated[str | None, typer.Option(help="cli.help.contact.add.webhook")] = None,
    name: Annotated[str, typer.Option(help="cli.help.contact.add.name")] = "",
) -> None:
    """Add a contact: each new fault under REGION reaches it in one digest per interval (email needs
    MEDIASRV_SMTP_HOST); faults open past the limit reach the contacts of the region above."""
    from mediasrv.faults import service

    if (email is None) == (webhook is None):
        fail("faults.contact_one_target")
    settings = load_settings()
    with open_database(settings).session_scope() as session:
        contact = service.add_contact(
            session, actor=cli_actor(), region=region, email=email, webhook=webhook, name=name,
            internal_ok=settings.fault_webhook_internal,
        )  # fmt: skip
        note("cli.contact_added", id=contact.id, target=contact.target, region=contact.region or "/")


@contact_cli.command("list", help="cli.help.contact.list")
def contact_list(
    region: Annotated[str, typer.Argument(help="cli.help.contact.list.region")] = "",
) -> None:
    """The contacts under REGION, with the notices still waiting for each."""
    from mediasrv.faults import service
    from mediasrv.kit.regions import normalise_region

    with open_database(load_settings()).session_scope() as session:
        for row in service.list_contacts(session, region=normalise_region(region)):
            c = row.contact
            waiting = f"\t{row.pending} pending: {row.last_error}" if row.pending else ""
            typer.echo(f"{c.id}\t{c.region or '/'}\t{c.kind.value}\t{c.target}\t{c.name}{waiting}")


@contact_cli.command("remove", help="cli.help.contact.remove")
def contact_remove(
    contact_id: Annotated[int, typer.Argument(help="cli.help.contact.remove.contact_id")],
) -> None:
    """Remove a contact (what was sent to it stays on record)."""
    from mediasrv.faults import service

    with open_database(load_settings()).session_scope() as session:
        service.remove_contact(session, actor=cli_actor(), contact_id=contact_id)
        note("cli.contact_removed", id=contact_id)
