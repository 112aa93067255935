"""Administration straight in the database: tokens, people's accounts, sites and their offline
bundles (for this server's machine, and for the first administrator before any exists)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from mediasrv.accounts.auth import Role
from mediasrv.cli.client import CLI_TOKEN_FILE, config_dir
from mediasrv.cli.common import (
    beijing,
    console,
    fail,
    load_settings,
    note,
    options,
    refuse_invalid,
    report_error,
    say,
)
from mediasrv.cli.database import cli_actor, open_database
from mediasrv.config import Settings
from mediasrv.kit.i18n import Text
from mediasrv.sites.models import DeviceProfile

token_cli = typer.Typer(help="cli.help.token", no_args_is_help=True)
user_cli = typer.Typer(help="cli.help.user", no_args_is_help=True)
site_cli = typer.Typer(help="cli.help.site", no_args_is_help=True)
site_bundle_cli = typer.Typer(help="cli.help.site_bundle", no_args_is_help=True)

LOCAL_UNIT, LOCAL_USER = "本机", "local-cli"  # the department and account of `mediasrv run`'s own token


def _write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600 from the start, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)  # a file that was there before keeps its mode through O_CREAT


def ensure_cli_token(settings: Settings) -> None:
    """A producer token for `mediasrv upload` on this machine, created once, kept 0600 in DATA_DIR and
    copied to the user's config folder, where the commands find it from any folder."""
    path = settings.data_dir / CLI_TOKEN_FILE
    if not path.exists():
        _create_cli_token(settings, path)
    plain = path.read_text()
    shared = config_dir() / CLI_TOKEN_FILE
    try:
        if not shared.is_file() or shared.read_text() != plain:  # this server's, after a fresh data dir
            _write_secret(shared, plain)
    except OSError as exc:  # a read-only home: the data directory's copy still serves
        report_error(say("cli.token_not_shared", path=str(shared), detail=exc.strerror or str(exc)))


def _create_cli_token(settings: Settings, path: Path) -> None:
    from sqlalchemy import select

    from mediasrv.accounts import service
    from mediasrv.accounts.models import OrgUnit, User

    actor = cli_actor()
    with open_database(settings).session_scope() as session:
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
    note("cli.token_for_this_machine", path=str(path))


@token_cli.command("create", help="cli.help.token.create")
def token_create(
    name: Annotated[str, typer.Option(help="cli.help.token.create.name")],
    user: Annotated[str | None, typer.Option(help="cli.help.token.create.user")] = None,
    site: Annotated[str | None, typer.Option(help="cli.help.token.create.site")] = None,
    role: Annotated[Role | None, typer.Option(help="cli.help.token.create.role")] = None,
    org_unit: Annotated[str | None, typer.Option(help="cli.help.token.create.org_unit")] = None,
    region: Annotated[str, typer.Option(help="cli.help.token.create.region")] = "",
    server: Annotated[
        str, typer.Option(envvar="MEDIASRV_SERVER", help="cli.help.token.create.server")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Create a token and print it once; only its hash is stored. For a site, also print the link its
    set-top boxes and VLC open the channel list with (no header needed; retired when one of the
    site's tokens is revoked, and also given by GET /api/v1/sites/{id}/channel-list).

    A service account for scripts: `mediasrv token create --role admin --name ops` (it cannot log in
    to the web pages; people get accounts with `mediasrv user create NAME --role admin`).
    """
    from mediasrv.accounts import service
    from mediasrv.accounts.signing import signing_key
    from mediasrv.delivery.playlist import channel_list_url
    from mediasrv.sites.registry import site_by_code

    if sum(x is not None for x in (user, site, role)) != 1:
        fail("cli.token_owner")
    actor = cli_actor()
    settings = load_settings()
    channel_list: str | None = None
    db = open_database(settings)
    # Before the session below: the first use stores the key (a write of its own).
    key = signing_key(settings, db) if site is not None else b""
    with db.session_scope() as session:
        if role is not None:
            unit_id = service.org_unit_by_name(session, org_unit).id if org_unit else None
            token, plain = service.create_service_account(
                session, actor=actor, name=name, role=role, org_unit_id=unit_id, region=region
            )
        else:
            user_id = service.user_by_name(session, user).id if user is not None else None
            site_id = site_by_code(session, site).id if site is not None else None
            token, plain = service.create_token(
                session, actor=actor, name=name, user_id=user_id, site_id=site_id
            )
            if site_id is not None:
                generation = service.site_link_generation(session, site_id)
                channel_list = channel_list_url(server, key, site_id, generation)
        note("cli.token_created", id=token.id, name=name)
    typer.echo(plain)
    if channel_list is not None:  # on stderr: a script reading the token from stdout gets it alone
        note("cli.channel_list")
        console.print(channel_list, soft_wrap=True, markup=False, highlight=False)


@token_cli.command("list", help="cli.help.token.list")
def token_list() -> None:
    """List tokens (never their values)."""
    from mediasrv.accounts import service

    with open_database(load_settings()).session_scope() as session:
        for t in service.list_tokens(session, actor=cli_actor()):
            state = say("cli.token_revoked_state" if t.revoked_at else "cli.token_active_state")
            used = beijing(t.last_used_at) if t.last_used_at else say("cli.never_used")
            owner = (
                say("cli.token_of_user", username=t.user.username)
                if t.user
                else say("cli.token_of_site", site=t.site_id)
            )
            typer.echo(f"{t.id}\t{owner}\t{state}\t{say('cli.last_used', when=used)}\t{t.name}")


@token_cli.command("revoke", help="cli.help.token.revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="cli.help.token.revoke.token_id")]) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from mediasrv.accounts import service

    with open_database(load_settings()).session_scope() as session:
        service.revoke_token(session, actor=cli_actor(), token_id=token_id)
    note("cli.token_revoked", id=token_id)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    suffix = "：" if options.lang == "zh" else ": "
    while True:  # not click's confirmation_prompt: it says "values do not match" in English
        password: str = typer.prompt(say("cli.password_prompt"), hide_input=True, prompt_suffix=suffix)
        if typer.prompt(say("cli.password_again"), hide_input=True, prompt_suffix=suffix) == password:
            return password
        report_error(say("cli.passwords_differ"))


@user_cli.command("create", help="cli.help.user.create")
def user_create(
    username: Annotated[str, typer.Argument(help="cli.help.user.create.username")],
    role: Annotated[Role, typer.Option(help="cli.help.user.create.role")],
    org_unit: Annotated[str | None, typer.Option(help="cli.help.user.create.org_unit")] = None,
    region: Annotated[str, typer.Option(help="cli.help.user.create.region")] = "",
    display_name: Annotated[str, typer.Option(help="cli.help.user.create.display_name")] = "",
    password_stdin: Annotated[bool, typer.Option(help="cli.help.user.create.password_stdin")] = False,
    no_password: Annotated[bool, typer.Option(help="cli.help.user.create.no_password")] = False,
) -> None:
    """Create a person's account (the password is asked for, never given on the command line)."""
    from mediasrv.accounts import service
    from mediasrv.kit.errors import NotFound

    password = None if no_password else _read_password(password_stdin)
    actor = cli_actor()
    with open_database(load_settings()).session_scope() as session:
        unit_id = None
        if org_unit:
            try:
                unit_id = service.org_unit_by_name(session, org_unit).id
            except NotFound:
                unit_id = service.create_org_unit(session, actor=actor, name=org_unit, region=region).id
        user = service.create_user(
            session,
            actor=actor,
            username=username,
            display_name=display_name,
            role=role,
            org_unit_id=unit_id,
            password=password,
            region=region,
        )
        note("cli.user_created", id=user.id, username=username, role=Text(f"accounts.role_name.{role.value}"))


@user_cli.command("unlock", help="cli.help.user.unlock")
def user_unlock(username: Annotated[str, typer.Argument(help="cli.help.user.unlock.username")]) -> None:
    """Let an account locked by failed logins log in again now."""
    from mediasrv.accounts import service

    with open_database(load_settings()).session_scope() as session:
        user = service.user_by_name(session, username)
        locked = bool(service.locked_until(session, [user]))
        service.unlock_user(session, actor=cli_actor(), user_id=user.id)
    note("cli.user_unlocked" if locked else "cli.user_not_locked", username=username)


@site_cli.command("create", help="cli.help.site.create")
def site_create(
    code: Annotated[str, typer.Argument(help="cli.help.site.create.code")],
    name: Annotated[str, typer.Option(help="cli.help.site.create.name")],
    region: Annotated[str, typer.Option(help="cli.help.site.create.region")] = "",
    device_profile: Annotated[
        DeviceProfile, typer.Option(help="cli.help.site.create.device_profile")
    ] = DeviceProfile.IPTV,
    quota_gb: Annotated[float | None, typer.Option(help="cli.help.site.create.quota_gb")] = None,
    download_window: Annotated[str | None, typer.Option(help="cli.help.site.create.download_window")] = None,
    bandwidth_kbps: Annotated[int | None, typer.Option(help="cli.help.site.create.bandwidth_kbps")] = None,
) -> None:
    """Register a terminal site."""
    from pydantic import ValidationError

    from mediasrv.sites.registry import create_site
    from mediasrv.sites.schemas import SiteRow

    given = {
        "code": code,
        "name": name,
        "region": region,
        "device_profile": device_profile,
        "quota_gb": quota_gb,
        "download_window": download_window,
        "bandwidth_kbps": bandwidth_kbps,
    }
    try:  # the API's and the CSV import's rules: a quota of nan or -1 is refused here as there
        row = SiteRow.model_validate(given)
    except ValidationError as exc:
        refuse_invalid(exc, {field: "--" + field.replace("_", "-") for field in given} | {"code": "CODE"})
    with open_database(load_settings()).session_scope() as session:
        site = create_site(session, actor=cli_actor(), **row.site_fields())
        note("cli.site_created", id=site.id, code=site.code)


@site_cli.command("import", help="cli.help.site.import")
def site_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="cli.help.site.import.file")
    ],
) -> None:
    """Register sites from a CSV file (UTF-8 or GB18030); bad rows are reported by line, good rows kept."""
    from mediasrv.sites.registry import decode_csv, import_sites

    with open_database(load_settings()).session_scope() as session:
        result = import_sites(session, actor=cli_actor(), text=decode_csv(file.read_bytes()))
        for bad in result.errors:
            report_error(bad.render(options.lang), label=say("cli.csv_line", line=bad.row))
        note("cli.sites_imported", created=len(result.created), refused=len(result.errors))
    if result.errors:
        raise typer.Exit(1)


@site_cli.command("languages", help="cli.help.site.languages")
def site_languages(
    languages: Annotated[str, typer.Argument(help="cli.help.site.languages.languages")],
    site: Annotated[str | None, typer.Option(help="cli.help.site.languages.site")] = None,
    region: Annotated[str | None, typer.Option(help="cli.help.site.languages.region")] = None,
) -> None:
    """Set a site's languages, or a region's (held by its sites that chose none)."""
    from pydantic import ValidationError

    from mediasrv.media.languages import name
    from mediasrv.sites import region_languages, registry
    from mediasrv.sites.schemas import RegionLanguagesIn

    if (site is None) == (region is None):
        fail("cli.languages_one_target")
    try:  # the API's rules and Chinese refusals
        given = RegionLanguagesIn.model_validate({"region": region or "", "languages": languages})
    except ValidationError as exc:
        refuse_invalid(exc, {"languages": "LANGUAGES", "region": "--region"})
    shown = "、".join(name(tag) for tag in given.languages) or say("cli.languages_none")
    with open_database(load_settings()).session_scope() as session:
        if site is not None:
            found = registry.site_by_code(session, site)
            registry.update_site(session, actor=cli_actor(), site_id=found.id, languages=given.languages)
            if given.languages:
                note("cli.site_languages_set", code=found.code, languages=shown)
            else:  # what it holds now: its region's
                held = region_languages.site_languages(session, found)
                inherited = "、".join(name(tag) for tag in held) or say("cli.languages_none")
                note("cli.site_languages_inherited", code=found.code, languages=inherited)
        else:
            place = region_languages.set_region_languages(
                session, actor=cli_actor(), region=given.region, languages=given.languages
            )
            note("cli.region_languages_set", region=place or say("kit.whole_network"), languages=shown)


@site_bundle_cli.command("export", help="cli.help.site_bundle.export")
def site_bundle_export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="cli.help.site_bundle.export.directory")],
    site: Annotated[str, typer.Option(help="cli.help.site_bundle.export.site")],
) -> None:
    """Write a site's signed manifest and every file it lists to DIRECTORY, for `mediasrv-site import`.

    Files already there with the right size and SHA-256 are kept, so exporting again to the same disk
    copies only what changed; files the manifest no longer lists are removed from DIRECTORY/files.
    """

    from mediasrv import epochs
    from mediasrv.accounts.signing import signing_key
    from mediasrv.delivery.bundle import export_bundle
    from mediasrv.delivery.manifest.store import ManifestService
    from mediasrv.kit.errors import NotFound
    from mediasrv.sites.registry import site_by_code
    from mediasrv.storage import open_store

    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session_scope() as session:
            try:
                site_id = site_by_code(session, site).id
            except NotFound:
                if not site.isdigit():
                    raise
                site_id = int(site)
        manifests = ManifestService(db, signing_key(settings, db), epochs.EpochWatch(db))
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(
                escape(say("cli.bundle_progress", site=site, directory=str(directory))), total=None
            )

            def report(files: int, all_files: int, done: int, total: int) -> None:
                said = say("cli.bundle_files", files=files, all_files=all_files)
                progress.update(task, completed=done, total=total, description=said)

            store = open_store(settings.resolved_storage_url)
            result = export_bundle(db, store, manifests, site_id, directory, progress=report)
    finally:
        db.dispose()
    note(
        "cli.bundle_written",
        site=result.site_code,
        version=result.version,
        files=result.files,
        mib=f"{result.total_bytes / 2**20:,.1f}",
        directory=str(directory),
        written=result.written_files,
        written_mib=f"{result.written_bytes / 2**20:,.1f}",
        removed=result.removed_files,
    )
    note("cli.bundle_key")
    typer.echo(result.public_key)
