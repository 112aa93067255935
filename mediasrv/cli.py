"""The `mediasrv` command: run, serve, worker, upload, status, token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mediasrv.auth import Role
from mediasrv.config import Settings

cli = typer.Typer(help="mediasrv: media library and courseware distribution server", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens (shown once, stored hashed)", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
console = Console(stderr=True)

CLI_TOKEN_FILE = "cli-token"  # noqa: S105  # a file name, not a secret


def _settings() -> Settings:
    return Settings()


def _database(settings: Settings) -> Any:
    from mediasrv.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.create_all()
    return db


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


def _ensure_cli_token(settings: Settings) -> None:
    """A local producer token for `mediasrv upload` on this machine, created once, kept 0600 in DATA_DIR."""
    from mediasrv.auth import create_token

    path = settings.data_dir / CLI_TOKEN_FILE
    if path.exists():
        return
    with _database(settings).session_scope() as session:
        _, plain = create_token(session, name="local command line", role=Role.PRODUCER)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(plain + "\n")
    console.print(f"Created a producer token for this machine's command line in {path}")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None
) -> None:
    """Start the HTTP API only."""
    import uvicorn

    from mediasrv.app import create_app

    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        log_level="info",
    )


@cli.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues")] = "transcode,default",
    concurrency: Annotated[int, typer.Option(help="parallel jobs")] = 1,
    beat: Annotated[bool, typer.Option(help="also run the periodic sweep")] = True,
) -> None:
    """Start a Celery worker process (transcodes and the sweep)."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Become the celery worker, so signals reach it directly.
    os.execv(sys.executable, worker_argv(settings, queues=queues, concurrency=concurrency, beat=beat))  # noqa: S606


@cli.command()
def run(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None
) -> None:
    """Start the API and a worker together on the embedded defaults (SQLite, local storage)."""
    settings = _settings()
    _database(settings)
    _ensure_cli_token(settings)
    proc = subprocess.Popen(worker_argv(settings, queues="transcode,default", concurrency=2, beat=True))
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


class _Counting:
    """A file wrapper that advances a progress bar as httpx reads it."""

    def __init__(self, f: BinaryIO, progress: Progress, task: Any) -> None:
        self.f, self.progress, self.task = f, progress, task

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.progress.update(self.task, completed=self.f.tell())
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def fileno(self) -> int:
        return self.f.fileno()


def _token(settings: Settings, token: str | None) -> str:
    if token:
        return token
    path = settings.data_dir / CLI_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    console.print(
        "[red]No API token:[/] pass --token, set MEDIASRV_TOKEN, or run `mediasrv run` once on this machine."
    )
    raise typer.Exit(2)


def _fail(response: httpx.Response) -> None:
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    console.print(f"[red]{response.status_code}:[/] {message}")
    raise typer.Exit(1)


@cli.command()
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    title: Annotated[str | None, typer.Option(help="defaults to the file name")] = None,
    server: Annotated[str, typer.Option(envvar="MEDIASRV_SERVER")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="MEDIASRV_TOKEN")] = None,
    wait: Annotated[bool, typer.Option(help="follow processing until ready or failed")] = True,
) -> None:
    """Upload a film, audio lecture or PDF, with a progress bar, then follow its processing."""
    settings = _settings()
    headers = {"Authorization": f"Bearer {_token(settings, token)}"}
    size = file.stat().st_size
    timeout = httpx.Timeout(60.0, read=3600.0)  # the server hashes and stores the file before answering
    with httpx.Client(base_url=server, headers=headers, timeout=timeout) as client:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress, file.open("rb") as f:
            task = progress.add_task(f"uploading {file.name}", total=size)
            data = {"title": title} if title else {}
            response = client.post(
                "/api/v1/assets",
                files={"file": (file.name, cast(BinaryIO, _Counting(f, progress, task)))},
                data=data,
            )
        if response.status_code not in (200, 201):
            _fail(response)
        asset = response.json()
        note = "already uploaded before" if response.status_code == 200 else "uploaded"
        console.print(f"{note}: asset [bold]{asset['id']}[/] ({asset['status']})")
        if wait:
            asset = _follow(client, asset)
    typer.echo(asset["id"])
    if asset["status"] == "failed":
        raise typer.Exit(1)


def _follow(client: httpx.Client, asset: dict[str, Any]) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), console=console
    ) as progress:
        task = progress.add_task(asset["status"], total=100)
        while asset["status"] in ("uploaded", "processing"):
            time.sleep(1.0)
            response = client.get(f"/api/v1/assets/{asset['id']}")
            if response.status_code != 200:
                _fail(response)
            asset = response.json()
            progress.update(task, completed=asset["progress"], description=asset["status"])
    if asset["status"] == "failed":
        console.print(f"[red]failed:[/] {asset['error']}")
    else:
        links = {k: v for k, v in asset["links"].items() if v}
        for name, link in links.items():
            console.print(f"  {name}: {client.base_url.join(link)}")
    return asset


@cli.command()
def status(
    asset_id: str,
    server: Annotated[str, typer.Option(envvar="MEDIASRV_SERVER")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="MEDIASRV_TOKEN")] = None,
) -> None:
    """Print an asset's status as JSON."""
    headers = {"Authorization": f"Bearer {_token(_settings(), token)}"}
    response = httpx.get(f"{server}/api/v1/assets/{asset_id}", headers=headers, timeout=30)
    if response.status_code != 200:
        _fail(response)
    typer.echo(response.text)


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="who or what uses it")],
    role: Annotated[Role, typer.Option()] = Role.PRODUCER,
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from mediasrv.auth import create_token

    with _database(_settings()).session_scope() as session:
        row, plain = create_token(session, name=name, role=role)
        console.print(f"token {row.id} '{name}' ({role.value}); it is shown only now:")
    typer.echo(plain)


@token_cli.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    from sqlalchemy import select

    from mediasrv.auth import ApiToken

    with _database(_settings()).session_scope() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if t.revoked_at else "active"
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            typer.echo(f"{t.id}\t{t.role.value}\t{state}\tlast used {used}\t{t.name}")


@token_cli.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from mediasrv.auth import revoke_token

    with _database(_settings()).session_scope() as session:
        revoke_token(session, token_id=token_id)
    console.print(f"token {token_id} revoked")


def main() -> None:
    cli()
