"""The `mediasrv` command: run, serve, worker, upload, status, token."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

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

from mediasrv.accounts.auth import Role
from mediasrv.config import Settings
from mediasrv.sites.models import DeviceProfile

if TYPE_CHECKING:  # imported lazily below: `mediasrv --help` should not load the whole server
    from mediasrv.db import Database
    from mediasrv.kit.caller import Caller

cli = typer.Typer(help="mediasrv: media library and courseware distribution server", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens (shown once, stored hashed)", no_args_is_help=True)
user_cli = typer.Typer(help="people's accounts", no_args_is_help=True)
site_cli = typer.Typer(help="terminal sites", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
cli.add_typer(user_cli, name="user")
cli.add_typer(site_cli, name="site")
site_bundle_cli = typer.Typer(help="offline bundles for sites with no usable line", no_args_is_help=True)
cli.add_typer(site_bundle_cli, name="site-bundle")
db_cli = typer.Typer(help="the database schema (migrations)", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
console = Console(stderr=True)

CLI_TOKEN_FILE = "cli-token"  # noqa: S105  # a file name, not a secret
LOCAL_UNIT, LOCAL_USER = "本机", "local-cli"  # the department and account of `mediasrv run`'s own token


def _settings() -> Settings:
    """The settings, or what is wrong with them and exit 2 (not a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "MEDIASRV_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"{name}: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def _database(settings: Settings) -> Database:
    """The database, refused with what to do when its schema is not this code's."""
    from mediasrv.db import Database
    from mediasrv.migrations import SchemaOutOfDate, check

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        check(db)
    except SchemaOutOfDate as exc:
        db.dispose()
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    return db


def _upgrade(settings: Settings) -> tuple[str | None, str]:
    from mediasrv import migrations
    from mediasrv.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        return migrations.upgrade(db)
    finally:
        db.dispose()


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to this version's schema (safe to run again; run it before each deploy)."""
    before, after = _upgrade(_settings())
    typer.echo(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db_cli.command("revision")
def db_revision(
    message: Annotated[str, typer.Argument(help="what the change is, e.g. 'sites: add phone'")],
) -> None:
    """For developers: write a migration script of the models' changes since the database's revision
    (upgrade the database first); read it and edit it before committing."""
    from alembic import command

    from mediasrv import migrations

    db = _database(_settings())  # autogenerate compares the models with a database at head
    try:
        head = migrations.head()
        rev_id = f"{int(head) + 1:04d}" if head.isdigit() else None  # 0001, 0002...: the order at a glance
        command.revision(migrations.config(db.engine), message=message, autogenerate=True, rev_id=rev_id)
    finally:
        db.dispose()


@db_cli.command("status")
def db_status() -> None:
    """Print the database's revision and this code's; exit 1 when an upgrade is needed."""
    from sqlalchemy.engine import make_url

    from mediasrv import migrations
    from mediasrv.db import Database

    url = _settings().resolved_database_url
    parsed, want = make_url(url), migrations.head()
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        have = None  # no file yet: empty, and asking must not create one
    else:
        db = Database(url)
        try:
            have = migrations.current(db.engine)
        finally:
            db.dispose()
    verdict = "up to date" if have == want else "upgrade needed: run `mediasrv db upgrade`"
    typer.echo(f"database {have or 'empty'}, code {want}: {verdict}")
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


def _cli_actor() -> Caller:
    """Who the audit log names for changes made from this machine's command line."""
    from mediasrv.kit.caller import Caller

    return Caller(role=Role.ADMIN, name=f"cli:{getpass.getuser()}", via="cli")


def _ensure_cli_token(settings: Settings) -> None:
    """A producer token for `mediasrv upload` on this machine, created once, kept 0600 in DATA_DIR."""
    from sqlalchemy import select

    from mediasrv.accounts import service
    from mediasrv.accounts.models import OrgUnit, User

    path = settings.data_dir / CLI_TOKEN_FILE
    if path.exists():
        return
    actor = _cli_actor()
    with _database(settings).session_scope() as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == LOCAL_UNIT))
        unit = unit or service.create_org_unit(session, actor=actor, name=LOCAL_UNIT)
        user = session.scalar(select(User).where(User.username == LOCAL_USER)) or service.create_user(
            session,
            actor=actor,
            username=LOCAL_USER,
            display_name="本机命令行",
            role=Role.PRODUCER,
            org_unit_id=unit.id,
            password=None,
        )
        _, plain = service.create_token(session, actor=actor, name="local command line", user_id=user.id)
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
    from mediasrv.observability import configure_logging

    settings = _settings()
    _database(settings).dispose()  # refuse an un-migrated database here, with a message, not a traceback
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


@cli.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues")] = "transcode,default,index",
    concurrency: Annotated[int, typer.Option(help="parallel jobs")] = 1,
    beat: Annotated[bool, typer.Option(help="also run the periodic sweep")] = True,
) -> None:
    """Start a Celery worker process (transcodes and the sweep)."""
    settings = _settings()
    _database(settings).dispose()
    # Become the celery worker, so signals reach it directly.
    os.execv(sys.executable, worker_argv(settings, queues=queues, concurrency=concurrency, beat=beat))  # noqa: S606


@cli.command()
def run(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None
) -> None:
    """Start the API and a worker together on the embedded defaults (SQLite, local storage)."""
    settings = _settings()
    _upgrade(settings)  # one machine, one operator: set the schema up rather than ask for it
    _ensure_cli_token(settings)
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
    category: Annotated[
        str | None, typer.Option(help="also create a draft programme in this category")
    ] = None,
    tags: Annotated[str, typer.Option(help="programme tags, comma-separated (，also works)")] = "",
    description: Annotated[str, typer.Option(help="programme description")] = "",
) -> None:
    """Upload a film, audio lecture or PDF, with a progress bar, then follow its processing.

    With --category it also becomes a draft programme (title, tags, description) for an administrator
    to publish.
    """
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
        if category is not None:
            programme = {
                "title": title or asset["title"],
                "category": category,
                "description": description,
                "tags": [t for t in tags.replace("，", ",").split(",") if t.strip()],
                "asset_id": asset["id"],
            }
            created = client.post("/api/v1/programmes", json=programme)
            if created.status_code != 201:
                _fail(created)
            console.print(f"draft programme [bold]{created.json()['id']}[/] created in {category}")
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
    elif asset["links"]["master"]:
        # Signed links play in any player (ffplay, VLC, a set-top box) without an Authorization header.
        response = client.get(f"/api/v1/assets/{asset['id']}/playback")
        if response.status_code != 200:
            _fail(response)
        playback = response.json()
        for name in ("master", "iptv", "iptv_sd", "poster"):
            if playback[name]:
                console.print(f"  {name}: {client.base_url.join(playback[name])}", soft_wrap=True)
        console.print(f"  (links valid until {playback['expires_at']})")
    else:
        console.print(f"  document: {client.base_url.join(asset['links']['source'])}", soft_wrap=True)
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
    name: Annotated[str, typer.Option(help="what the token is for, e.g. 'upload laptop'")],
    user: Annotated[str | None, typer.Option(help="username of the owner")] = None,
    site: Annotated[str | None, typer.Option(help="code of the owning site")] = None,
    role: Annotated[Role | None, typer.Option(help="create a service account NAME with this role")] = None,
    org_unit: Annotated[str | None, typer.Option(help="department of a producer service account")] = None,
    server: Annotated[
        str, typer.Option(envvar="MEDIASRV_SERVER", help="this server's address as a site's boxes reach it")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Create a token and print it once; only its hash is stored. For a site, also print the link its
    set-top boxes and VLC open the channel list with (no header needed; retired when one of the
    site's tokens is revoked, and also given by GET /api/v1/sites/{id}/channel-list).

    The first administrator: `mediasrv token create --role admin --name ops`.
    """
    from mediasrv.accounts import service
    from mediasrv.accounts.signing import signing_key
    from mediasrv.delivery.playlist import channel_list_url
    from mediasrv.delivery.scope import site_link_generation
    from mediasrv.sites.registry import site_by_code

    if sum(x is not None for x in (user, site, role)) != 1:
        console.print("[red]Give exactly one of --user, --site or --role.[/]")
        raise typer.Exit(2)
    actor = _cli_actor()
    settings = _settings()
    channel_list: str | None = None
    with _database(settings).session_scope() as session:
        if role is not None:
            unit_id = service.org_unit_by_name(session, org_unit).id if org_unit else None
            token, plain = service.create_service_account(
                session, actor=actor, name=name, role=role, org_unit_id=unit_id
            )
        else:
            user_id = service.user_by_name(session, user).id if user is not None else None
            site_id = site_by_code(session, site).id if site is not None else None
            token, plain = service.create_token(
                session, actor=actor, name=name, user_id=user_id, site_id=site_id
            )
            if site_id is not None:
                generation = site_link_generation(session, site_id)
                channel_list = channel_list_url(server, signing_key(settings), site_id, generation)
        console.print(f"token {token.id} '{name}'; it is shown only now:")
    typer.echo(plain)
    if channel_list is not None:  # on stderr: a script reading the token from stdout gets it alone
        console.print("The site's channel list for its set-top boxes and VLC (opens as it is, no token):")
        console.print(channel_list, soft_wrap=True, markup=False, highlight=False)


@token_cli.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    from mediasrv.accounts import service

    with _database(_settings()).session_scope() as session:
        for t in service.list_tokens(session, actor=_cli_actor()):
            state = "revoked" if t.revoked_at else "active"
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            owner = f"user {t.user.username}" if t.user else f"site {t.site_id}"
            typer.echo(f"{t.id}\t{owner}\t{state}\tlast used {used}\t{t.name}")


@token_cli.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from mediasrv.accounts import service

    with _database(_settings()).session_scope() as session:
        service.revoke_token(session, actor=_cli_actor(), token_id=token_id)
    console.print(f"token {token_id} revoked")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_cli.command("create")
def user_create(
    username: str,
    role: Annotated[Role, typer.Option()],
    org_unit: Annotated[str | None, typer.Option(help="department name; created if new")] = None,
    display_name: Annotated[str, typer.Option()] = "",
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
    no_password: Annotated[bool, typer.Option(help="API tokens only, no web login")] = False,
) -> None:
    """Create a person's account (the password is asked for, never given on the command line)."""
    from mediasrv.accounts import service
    from mediasrv.kit.errors import NotFound

    password = None if no_password else _read_password(password_stdin)
    actor = _cli_actor()
    with _database(_settings()).session_scope() as session:
        unit_id = None
        if org_unit:
            try:
                unit_id = service.org_unit_by_name(session, org_unit).id
            except NotFound:
                unit_id = service.create_org_unit(session, actor=actor, name=org_unit).id
        user = service.create_user(
            session,
            actor=actor,
            username=username,
            display_name=display_name,
            role=role,
            org_unit_id=unit_id,
            password=password,
        )
        console.print(f"user {user.id} '{username}' ({role.value}) created")


@user_cli.command("unlock")
def user_unlock(username: str) -> None:
    """Let an account locked by failed logins log in again now."""
    from mediasrv.accounts import service
    from mediasrv.kit.errors import MediaError

    try:
        with _database(_settings()).session_scope() as session:
            user = service.user_by_name(session, username)
            locked = bool(service.locked_until(session, [user]))
            service.unlock_user(session, actor=_cli_actor(), user_id=user.id)
    except MediaError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"user '{username}' unlocked" if locked else f"user '{username}' was not locked")


@site_cli.command("create")
def site_create(
    code: str,
    name: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="province/city/county/township/village")] = "",
    device_profile: Annotated[DeviceProfile, typer.Option(help="what plays there")] = DeviceProfile.IPTV,
    quota_gb: Annotated[float | None, typer.Option(help="cache storage; none: no limit")] = None,
    download_window: Annotated[str | None, typer.Option(help="e.g. 01:00-05:00")] = None,
    bandwidth_kbps: Annotated[int | None, typer.Option(help="download cap")] = None,
) -> None:
    """Register a terminal site."""
    from mediasrv.sites.registry import GB, create_site

    with _database(_settings()).session_scope() as session:
        site = create_site(
            session,
            actor=_cli_actor(),
            code=code,
            name=name,
            region=region,
            device_profile=device_profile,
            quota_bytes=round(quota_gb * GB) if quota_gb is not None else None,
            download_window=download_window,
            bandwidth_kbps=bandwidth_kbps,
        )
        console.print(
            f"site {site.id} '{code}' created; give it a token: mediasrv token create --site {code}"
        )


@site_cli.command("import")
def site_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Register sites from a CSV file (UTF-8 or GB18030); bad rows are reported by line, good rows kept."""
    from mediasrv.sites.registry import decode_csv, import_sites

    with _database(_settings()).session_scope() as session:
        result = import_sites(session, actor=_cli_actor(), text=decode_csv(file.read_bytes()))
        for line, message in result.errors:
            console.print(f"[red]line {line}:[/] {message}")
        console.print(f"{len(result.created)} sites registered, {len(result.errors)} rows refused")
    if result.errors:
        raise typer.Exit(1)


@cli.command()
def reindex(
    check: Annotated[
        bool, typer.Option(help="only compare index and database; exit 1 when they differ")
    ] = False,
) -> None:
    """Rebuild the search index from the database (or, with --check, detect drift)."""
    from mediasrv.search import indexing
    from mediasrv.search.index import SearchIndex

    settings = _settings()
    db = _database(settings)
    index = SearchIndex(settings.index_dir)
    index.ensure()
    if check:
        with db.session_scope() as session:
            state = indexing.drift(session, index)
        verdict = "in sync" if state.in_sync else "DRIFTED: run `mediasrv reindex`"
        typer.echo(f"database {state.database[0]} published, index {state.index[0]} documents: {verdict}")
        raise typer.Exit(0 if state.in_sync else 1)
    started = time.monotonic()
    count = indexing.rebuild(db, index)
    typer.echo(f"indexed {count} published programmes in {time.monotonic() - started:.1f} s")


@site_bundle_cli.command("export")
def site_bundle_export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="where to write it, e.g. a USB disk")],
    site: Annotated[str, typer.Option(help="the site's code or id")],
) -> None:
    """Write a site's signed manifest and every file it lists to DIRECTORY, for `mediasrv-site import`.

    Files already there with the right size and SHA-256 are kept, so exporting again to the same disk
    copies only what changed; files the manifest no longer lists are removed from DIRECTORY/files.
    """

    from mediasrv import epochs
    from mediasrv.accounts.signing import signing_key
    from mediasrv.delivery.bundle import export_bundle
    from mediasrv.delivery.manifest.store import ManifestService
    from mediasrv.kit.errors import MediaError, NotFound
    from mediasrv.sites.registry import site_by_code
    from mediasrv.storage import open_store

    settings = _settings()
    db = _database(settings)
    try:
        with db.session_scope() as session:
            try:
                site_id = site_by_code(session, site).id
            except NotFound:
                if not site.isdigit():
                    raise
                site_id = int(site)
        manifests = ManifestService(db, signing_key(settings), epochs.EpochWatch(db))
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"site {site} -> {directory}", total=None)

            def report(files: int, all_files: int, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{files}/{all_files} files")

            store = open_store(settings.resolved_storage_url)
            result = export_bundle(db, store, manifests, site_id, directory, progress=report)
    except MediaError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(
        f"site {result.site_code} manifest version {result.version}: {result.files} files, "
        f"{result.total_bytes / 2**20:,.1f} MiB in {directory} ({result.written_files} written, "
        f"{result.written_bytes / 2**20:,.1f} MiB; {result.removed_files} old files removed)"
    )
    console.print(
        "Manifest key (also in key.pub). On a site that was never online, check it against the one "
        "your county gave you and import with: mediasrv-site import DIR --public-key KEY"
    )
    typer.echo(result.public_key)


def main() -> None:
    cli()
