"""Operators' commands: start the server and workers (run, serve, worker), keep the database schema
(db) and the search index (reindex) in step with the code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from mediasrv.cli.administration import ensure_cli_token
from mediasrv.cli.common import load_settings, say
from mediasrv.cli.database import open_database, upgrade
from mediasrv.config import Settings

db_cli = typer.Typer(help="cli.help.db", no_args_is_help=True)


@db_cli.command("upgrade", help="cli.help.db.upgrade")
def db_upgrade() -> None:
    """Bring the database to this version's schema (safe to run again; run it before each deploy)."""
    before, after = upgrade(load_settings())
    if before == after:
        typer.echo(say("cli.db_at", revision=after))
    else:
        typer.echo(say("cli.db_upgraded", revision=after, before=before or say("cli.db_empty")))


@db_cli.command("revision", help="cli.help.db.revision")
def db_revision(
    message: Annotated[str, typer.Argument(help="cli.help.db.revision.message")],
) -> None:
    """For developers: write a migration script of the models' changes since the database's revision
    (upgrade the database first); read it and edit it before committing."""
    from alembic import command

    from mediasrv import migrations

    db = open_database(load_settings())  # autogenerate compares the models with a database at head
    try:
        head = migrations.head()
        rev_id = f"{int(head) + 1:04d}" if head.isdigit() else None  # 0001, 0002...: the order at a glance
        command.revision(migrations.config(db.engine), message=message, autogenerate=True, rev_id=rev_id)
    finally:
        db.dispose()


@db_cli.command("status", help="cli.help.db.status")
def db_status() -> None:
    """Print the database's revision and this code's; exit 1 when an upgrade is needed."""
    from sqlalchemy.engine import make_url

    from mediasrv import migrations
    from mediasrv.db import Database

    url = load_settings().resolved_database_url
    parsed, want = make_url(url), migrations.head()
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        have = None  # no file yet: empty, and asking must not create one
    else:
        db = Database(url)
        try:
            have = migrations.current(db.engine)
        finally:
            db.dispose()
    verdict = say("cli.db_up_to_date" if have == want else "cli.db_upgrade_needed")
    typer.echo(say("cli.db_status", have=have or say("cli.db_empty"), want=want, verdict=verdict))
    raise typer.Exit(0 if have == want else 1)


def worker_argv(settings: Settings, *, queues: str, concurrency: int, beat: bool) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "--loglevel",
        "INFO",
        "-n",
        f"mediasrv-{os.getpid()}@%h",
    ]
    if beat:  # the periodic lease sweep; run it in exactly one worker of a deployment
        argv += ["-B", "-s", str(settings.data_dir / "celerybeat-schedule")]
    return argv


def serve(
    host: Annotated[str | None, typer.Option(help="cli.help.serve.host")] = None,
    port: Annotated[int | None, typer.Option(help="cli.help.serve.port")] = None,
) -> None:
    """Start the HTTP API only."""
    import uvicorn

    from mediasrv.app import create_app
    from mediasrv.ops.logs import configure_logging

    settings = load_settings()
    open_database(settings).dispose()  # refuse an un-migrated database here, with a message, not a traceback
    configure_logging(json=settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        log_level="info",
        log_config=None,  # keep configure_logging's handler (JSON lines or text)
        access_log=False,  # RequestMiddleware logs each request, with its id and route
        # uvicorn's 5 s keep-alive counts from when a body is handed to the socket: a client still
        # reading a large manifest would find its connection closed. nginx's default instead.
        timeout_keep_alive=75,
    )


def worker(
    queues: Annotated[str, typer.Option(help="cli.help.worker.queues")] = "transcode,default,index",
    concurrency: Annotated[int, typer.Option(help="cli.help.worker.concurrency")] = 1,
    beat: Annotated[bool, typer.Option(help="cli.help.worker.beat")] = True,
) -> None:
    """Start a Celery worker process (transcodes and the sweep)."""
    settings = load_settings()
    open_database(settings).dispose()
    # Become the celery worker, so signals reach it directly.
    os.execv(sys.executable, worker_argv(settings, queues=queues, concurrency=concurrency, beat=beat))  # noqa: S606


def run(
    host: Annotated[str | None, typer.Option(help="cli.help.serve.host")] = None,
    port: Annotated[int | None, typer.Option(help="cli.help.serve.port")] = None,
) -> None:
    """Start the API and a worker together on the embedded defaults (SQLite, local storage)."""
    settings = load_settings()
    upgrade(settings)  # one machine, one operator: set the schema up rather than ask for it
    ensure_cli_token(settings)
    proc = subprocess.Popen(worker_argv(settings, queues="transcode,default,index", concurrency=2, beat=True))
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets the
    # `finally` below stop the worker instead of leaving it orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(host, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def reindex(
    check: Annotated[bool, typer.Option(help="cli.help.reindex.check")] = False,
) -> None:
    """Rebuild the search index from the database (or, with --check, detect drift)."""
    from mediasrv.search import indexing
    from mediasrv.search.index import SearchIndex

    settings = load_settings()
    db = open_database(settings)
    index = SearchIndex(settings.index_dir)
    index.ensure()
    if check:
        with db.session_scope() as session:
            state = indexing.drift(session, index)
        verdict = say("cli.index_in_sync" if state.in_sync else "cli.index_drifted")
        typer.echo(
            say("cli.index_check", published=state.database[0], documents=state.index[0], verdict=verdict)
        )
        raise typer.Exit(0 if state.in_sync else 1)
    started = time.monotonic()
    count = indexing.rebuild(db, index)
    typer.echo(say("cli.indexed", count=count, seconds=f"{time.monotonic() - started:.1f}"))
