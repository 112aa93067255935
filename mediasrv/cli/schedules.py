"""`mediasrv schedule`: regions' weekly channel blocks, straight in the database, as the API's
/api/v1/schedule-blocks does it (the same rules and refusals, audited as this machine's user)."""

from __future__ import annotations

from typing import Annotated

import typer

from mediasrv.cli.common import fail, load_settings, note
from mediasrv.cli.database import cli_actor, open_database

schedule_cli = typer.Typer(help="cli.help.schedule", no_args_is_help=True)


@schedule_cli.command("list", help="cli.help.schedule.list")
def schedule_list(
    region: Annotated[str, typer.Argument(help="cli.help.schedule.list.region")] = "",
) -> None:
    """The blocks under REGION: id, region, weekday (1 Monday), Beijing times, source, title."""
    from mediasrv.kit.regions import normalise_region
    from mediasrv.schedule import service
    from mediasrv.schedule.layering import clock

    with open_database(load_settings()).session_scope() as session:
        rows, _ = service.list_blocks(session, region=normalise_region(region), limit=100_000)
        for b in rows:
            times = f"{clock(b.start_minute)}-{clock(b.end_minute)}"
            typer.echo(f"{b.id}\t{b.region or '/'}\t{b.weekday}\t{times}\t{b.source.value}\t{b.title}")


@schedule_cli.command("add", help="cli.help.schedule.add")
def schedule_add(
    region: Annotated[str, typer.Argument(help="cli.help.schedule.add.region")],
    weekday: Annotated[int, typer.Argument(help="cli.help.schedule.add.weekday")],
    start: Annotated[str, typer.Argument(help="cli.help.schedule.add.start")],
    end: Annotated[str, typer.Argument(help="cli.help.schedule.add.end")],
    title: Annotated[str, typer.Argument(help="cli.help.schedule.add.title")],
    study_list: Annotated[int | None, typer.Option("--list", help="cli.help.schedule.add.list")] = None,
    category: Annotated[str | None, typer.Option(help="cli.help.schedule.add.category")] = None,
    programme: Annotated[list[str] | None, typer.Option(help="cli.help.schedule.add.programme")] = None,
) -> None:
    """Add a weekly block to REGION's channel: one of --list, --category or --programme. A block
    overlapping another of the same region is refused; a nearer region's block wins at its sites."""
    from mediasrv.schedule import service
    from mediasrv.schedule.models import BlockSource

    given = [s for s, v in ((BlockSource.LIST, study_list), (BlockSource.CATEGORY, category),
                            (BlockSource.PROGRAMMES, programme)) if v]  # fmt: skip
    if len(given) != 1:
        fail("cli.schedule_one_source")
    with open_database(load_settings()).session_scope() as session:
        block = service.create_block(
            session,
            actor=cli_actor(),
            region=region,
            weekday=weekday,
            start=start,
            end=end,
            title=title,
            source=given[0],
            study_list_id=study_list,
            category=category,
            programme_ids=programme or [],
        )
        note("cli.schedule_added", id=block.id, region=block.region or "/", title=block.title)


@schedule_cli.command("remove", help="cli.help.schedule.remove")
def schedule_remove(
    block_id: Annotated[int, typer.Argument(help="cli.help.schedule.remove.block_id")],
) -> None:
    """Remove a block (the audit log keeps what it was)."""
    from mediasrv.schedule import service

    with open_database(load_settings()).session_scope() as session:
        service.delete_block(session, actor=cli_actor(), block_id=block_id)
        note("cli.schedule_removed", id=block_id)
