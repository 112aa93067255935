"""The `mediasrv-site` command: init, sync, daemon, status, serve, import.

Every help text (`help=`) is a key of agent.words.HELP (agent.help.sync.verify), shown in the
operator's language (protocol.helptext, from Guarded); a command's docstring is for the code's readers.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from typer.core import TyperGroup
from typer.exceptions import TyperException

from mediasrv.agent import faults as site_faults
from mediasrv.agent import player
from mediasrv.agent.faults import FaultSender
from mediasrv.agent.layout import AgentConfig, AgentError, Layout
from mediasrv.agent.outbox import State
from mediasrv.agent.records import Outbox, RecordsDelivery, RecordSender
from mediasrv.agent.reports import Delivery, Reporter, make_report, queued
from mediasrv.agent.sync import ATTEMPTS, USER_AGENT, Syncer, SyncResult, client_for, parse_window
from mediasrv.agent.viewing import ViewingSender, pending
from mediasrv.agent.words import OPERATOR, explain, help_text, said, say
from mediasrv.protocol import helptext
from mediasrv.protocol.china import now_in_china
from mediasrv.protocol.lang import Language, lang_in_args, operator_lang
from mediasrv.protocol.sizes import human_size
from mediasrv.protocol.usage import aborted, is_usage_error, usage_line

console = Console(stderr=True)
log = logging.getLogger("mediasrv.agent")
LANG = OPERATOR  # the root command's --lang, else the locale (agent.words reads it too)
LANG[0] = operator_lang(os.environ)
DEBUG = [False]  # the root command's --debug


def _tell(text: str) -> None:
    """A line for the administrator on stderr, as text (paths and server messages may hold "[x]")."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _error(text: str) -> None:
    console.print(f"[red]{escape(text)}[/]", highlight=False, soft_wrap=True)


def _usage_error(exc: Exception, command: str) -> typer.Exit:
    ctx = getattr(exc, "ctx", None)
    _error(usage_line(exc, LANG[0], ctx.command_path if ctx is not None else command))
    return typer.Exit(2)


class Guarded(TyperGroup):
    """The root command: a mistake in the command line or anything a command lets through ends as a
    line in the operator's language, never a traceback (unless --debug); as `mediasrv`'s root does.
    Every help text is a key of agent.words.HELP, put in that language here too."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # Before parsing: a mistake in the root's own options stops the parse, and --lang with it;
        # --help prints while parsing, so the tree's help texts are set before.
        LANG[0] = operator_lang(os.environ, lang_in_args(args))
        from typer import rich_utils

        helptext.translate(self, help_text, LANG[0], rich_utils)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except TyperException as exc:
            if not is_usage_error(exc):
                raise
            raise _usage_error(exc, info_name or "mediasrv-site") from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except typer.Abort:  # Ctrl-C or Ctrl-D at a prompt
            _error(aborted(LANG[0]))
            raise typer.Exit(1) from None
        except TyperException as exc:
            if not is_usage_error(exc):
                raise
            raise _usage_error(exc, ctx.command_path) from None
        except Exception as exc:
            if DEBUG[0]:
                raise
            _error(explain(exc, LANG[0]))  # what to do; the detail for whoever they call
            _tell(said("details", detail=f"{type(exc).__name__}: {exc}"))
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=Guarded,
    help="agent.help.root",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # --debug shows Python's own traceback, whole
)


@app.callback()
def root(
    lang: Annotated[Language | None, typer.Option("--lang", help="agent.help.root.lang")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="agent.help.root.debug")] = False,
) -> None:
    """The root command's options (its help: agent.help.root, as every help text a key of words.HELP)."""
    LANG[0] = operator_lang(os.environ, lang.value if lang else None)
    DEBUG[0] = debug


def _beijing(stamp: str) -> str:
    """A stored UTC time on the Beijing clock, labelled (the server's windows are Beijing's too)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return said("beijing_time", clock=now_in_china(moment).strftime("%Y-%m-%d %H:%M:%S"))


DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="MEDIASRV_SITE_DIR",
        help="agent.help.common.dir",
        file_okay=False,
        resolve_path=True,
    ),
]
DEFAULT_DIR = Path("mediasrv-site")
AttemptsOption = Annotated[int, typer.Option(min=1, max=20, help="agent.help.common.attempts")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` (already in the operator's language) as an error; the Exit to raise (2: the
    administrator can fix it)."""
    _error(message)
    return typer.Exit(code)


@app.command(help="agent.help.init")
def init(
    server: Annotated[str, typer.Option(help="agent.help.init.server")],
    token: Annotated[str, typer.Option(envvar="MEDIASRV_SITE_TOKEN", help="agent.help.init.token")],
    dir: DirOption = DEFAULT_DIR,
    interval: Annotated[int, typer.Option(min=10, help="agent.help.init.interval")] = 300,
) -> None:
    """Set up a cache directory for one site: learn which site the token is for, pin the server's
    manifest key, keep the token (mode 0600)."""
    layout = Layout(dir)
    server = server.rstrip("/")
    headers = {"Authorization": f"Bearer {token.strip()}", "User-Agent": USER_AGENT}
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=30) as client:
            who = client.get("/auth/session")
            if who.status_code in (401, 403):
                raise _fail(said("init_token_refused", server=server))
            try:
                session = who.json() if who.status_code == 200 else None
            except ValueError:  # a login page of the network, not the server's JSON
                session = None
            if not isinstance(session, dict):
                raise _fail(said("init_not_mediasrv", server=server, status=who.status_code))
            site_id = session.get("site_id")
            if site_id is None:
                raise _fail(said("init_not_site_token", username=session.get("username")))
            key = client.get("/api/v1/sites/manifest-key")
            if key.status_code != 200:
                raise _fail(said("init_no_key", server=server, status=key.status_code))
            site = client.get(f"/api/v1/sites/{site_id}/manifest")
            code = site.json()["site"]["code"] if site.status_code == 200 else str(site_id)
    except httpx.TransportError as exc:
        log.debug("init: %s", exc)
        raise _fail(said("init_unreachable", server=server)) from None
    if layout.config.exists():
        try:
            old = layout.load_config()
        except AgentError as exc:
            raise _fail(exc.said(LANG[0])) from None
        if old.site_id != site_id:
            raise _fail(
                said(
                    "init_other_site",
                    dir=dir,
                    old_code=old.site_code,
                    old_id=old.site_id,
                    code=code,
                    site_id=site_id,
                )
            )
    config = AgentConfig(
        server=server,
        site_id=site_id,
        site_code=code,
        public_key=key.json()["public_key"],
        interval_seconds=interval,
    )
    layout.ensure()
    layout.save_token(token)
    layout.save_config(config)
    _tell(said("init_done", dir=dir, code=code, site_id=site_id, server=server))
    # The exact commands, with this --dir: without it they would look in ./mediasrv-site.
    where = f"--dir {shlex.quote(str(dir))}"
    sync, daemon = f"mediasrv-site sync {where}", f"mediasrv-site daemon {where}"
    _tell(said("init_next", sync=sync, daemon=daemon))


class _Bar:
    """The terminal's progress bar: every byte the run must download, resumed bytes counted as done."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task(said("import_checking"), total=None)

    def plan(self, total: int, done: int) -> None:
        self.progress.update(self.task, description=said("downloading"), total=total, completed=done)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)


def _setup(dir: Path) -> tuple[Layout, AgentConfig, httpx.Client]:
    layout = Layout(dir)
    try:
        config = layout.load_config()
        token = layout.load_token()
    except AgentError as exc:
        raise _fail(exc.said(LANG[0])) from None
    if not config.server:  # set up from an offline bundle: no line yet
        raise _fail(said("no_server", dir=shlex.quote(str(dir))))
    return layout, config, client_for(config, token)


def _run_once(
    layout: Layout,
    client: httpx.Client,
    *,
    verify: bool,
    download: bool | None,
    attempts: int,
    progress: _Bar | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[SyncResult, Delivery, RecordsDelivery]:
    """One sync, its heartbeat and what the site recorded, under the directory's lock."""
    with layout.lock():
        syncer = Syncer(
            layout, client, progress=progress, attempts=attempts, should_stop=should_stop or (lambda: False)
        )
        result = syncer.sync(verify=verify, download=download)
        # Faults reported on the site view (agent.faults) first: the heartbeat's answer then says
        # what the centre made of them, and the site view shows it.
        FaultSender(layout, client, syncer.config.site_id).deliver()
        delivery = Reporter(layout, client, syncer.config.site_id).deliver(make_report(layout, result))
        site_faults.remember_centre(layout, delivery.ack)
        # What the LAN origin counted since (agent.viewing); kept in the outbox when the line is down.
        delivery.viewing = ViewingSender(layout, client, syncer.config.site_id).deliver()
        # Sessions, photos, ratings, requests members entered on the site view (agent.records).
        records = RecordSender(layout, client, syncer.config.site_id).deliver()
        if problem := player.ensure(layout, client):  # the site view's player, once, if the PC lacks it
            log.warning("%s", problem)
    return result, delivery, records


def _summary(result: SyncResult, delivery: Delivery, records: RecordsDelivery | None = None) -> str:
    """What a sync did, one line in the operator's language."""
    if result.target_version is not None and result.target_version != result.version:
        parts = [said("sum_version_target", version=result.version, target=result.target_version)]
    else:
        parts = [said("sum_version", version=result.version)]
    downloaded = human_size(result.bytes_downloaded)
    parts.append(
        said(
            "sum_fetched_resumed",
            files=result.files_fetched,
            downloaded=downloaded,
            resumed=human_size(result.bytes_resumed),
        )
        if result.bytes_resumed
        else said("sum_fetched", files=result.files_fetched, downloaded=downloaded)
    )
    if result.files_corrupt:
        parts.append(said("sum_corrupt", count=result.files_corrupt))
    if result.deleted:
        parts.append(said("sum_deleted", count=result.deleted))
    if result.files_missing:
        parts.append(said("sum_missing", count=result.files_missing, size=human_size(result.bytes_missing)))
    if result.deferred:
        parts.append(said("sum_deferred"))
    if delivery.error:
        parts.append(said("sum_report_queued", count=delivery.queued))
    else:
        in_sync = delivery.ack and delivery.ack.get("in_sync")
        parts.append(said("sum_report_in_sync" if in_sync else "sum_report_sent"))
    if delivery.viewing is not None and delivery.viewing.queued:
        parts.append(said("sum_viewing_queued", count=delivery.viewing.queued))
    elif delivery.viewing is not None and delivery.viewing.sent:
        parts.append(said("sum_viewing_sent", count=delivery.viewing.sent))
    if records is not None and (records.sent or records.refused or records.queued):
        told = said("sum_records", sent=records.sent)
        told += said("sum_records_refused", count=records.refused) if records.refused else ""
        told += said("sum_records_waiting", count=records.queued) if records.queued else ""
        parts.append(told)
    return said("sep").join(parts)


# A run that stopped for these is the administrator's (or the county's) to fix: exit 2, like any
# foreseeable mistake; a fault of the server, a busy one or a stop midway: 1.
_THEIRS = {"token", "refused", "not_mediasrv", "signature", "disk_full", "upgrade", "unreachable"}


@app.command(help="agent.help.sync")
def sync(
    dir: DirOption = DEFAULT_DIR,
    verify: Annotated[bool, typer.Option("--verify", help="agent.help.sync.verify")] = False,
    respect_window: Annotated[
        bool, typer.Option("--respect-window", help="agent.help.sync.respect_window")
    ] = False,
    attempts: AttemptsOption = ATTEMPTS,
) -> None:
    """Sync once: fetch the manifest, download what is missing (resuming), delete what left it, report."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    layout, _, client = _setup(dir)
    try:
        with client:
            if console.is_terminal:
                columns = (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                )
                with Progress(*columns, console=console, transient=True) as progress:
                    result, delivery, records = _run_once(
                        layout, client, verify=verify, download=None if respect_window else True,
                        attempts=attempts, progress=_Bar(progress),
                    )  # fmt: skip
            else:
                result, delivery, records = _run_once(
                    layout,
                    client,
                    verify=verify,
                    download=None if respect_window else True,
                    attempts=attempts,
                )
    except AgentError as exc:
        raise _fail(exc.said(LANG[0])) from None
    except KeyboardInterrupt:
        raise _fail(said("interrupted"), 130) from None
    if result.problem == "unreachable":  # the line is down: nothing the administrator broke, nothing lost
        _tell(said("unreachable", server=layout.load_config().server))
        raise typer.Exit(2)
    _tell(_summary(result, delivery, records))
    for failure in result.failures[:20]:
        _error(said("file_failed", path=failure.path, detail=failure.message))
    if result.error:
        _error(say(result.problem, LANG[0]))
        _tell(said("details", detail=result.error))  # English: for the county's technicians
        raise typer.Exit(2 if result.problem in _THEIRS else 1)
    if result.failures:
        raise typer.Exit(1)


@app.command(help="agent.help.daemon")
def daemon(
    dir: DirOption = DEFAULT_DIR,
    interval: Annotated[int | None, typer.Option(min=1, help="agent.help.daemon.interval")] = None,
    attempts: AttemptsOption = ATTEMPTS,
) -> None:
    """Poll and sync until stopped (SIGTERM or Ctrl-C): downloads only inside the download window;
    outside it the manifest is still checked and heartbeats still sent. Logs one line per run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    layout, config, client = _setup(dir)
    every = interval or config.interval_seconds
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("%s", said("daemon_start", code=config.site_code, server=config.server, every=every))
    with client:
        while not stop.is_set():
            wait: float = every
            try:
                result, delivery, records = _run_once(
                    layout, client, verify=False, download=None, attempts=attempts, should_stop=stop.is_set
                )
                log.info("%s", _summary(result, delivery, records))  # the run logged its own problems
                if result.deferred:
                    wait = min(every, _until_window(layout))
            except AgentError as exc:  # e.g. a hand-run sync holds the lock: try again next time
                log.warning("%s", exc.said(LANG[0]))
            except Exception:  # the daemon outlives any one bad run
                log.exception("%s", said("daemon_run_failed", every=every))
            stop.wait(wait)
    log.info("%s", said("daemon_stopped"))


def _until_window(layout: Layout) -> float:
    """Seconds until the applied manifest's download window next opens (at least 1)."""
    applied = layout.applied()
    window = parse_window(applied[1]["site"].get("download_window") if applied else None)
    if window is None:
        return 1.0
    now = now_in_china()  # the server's windows are Beijing time, whatever this PC's zone
    start = now.replace(hour=window[0].hour, minute=window[0].minute, second=0, microsecond=0)
    if start <= now:
        start += timedelta(days=1)
    return max(1.0, (start - now).total_seconds())


@app.command(help="agent.help.status")
def status(
    dir: DirOption = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="agent.help.status.json")] = False,
) -> None:
    """What this site holds: the applied manifest, its files, queued reports, the last sync."""
    layout = Layout(dir)
    try:
        config = layout.load_config()
    except AgentError as exc:
        raise _fail(exc.said(LANG[0])) from None
    applied = layout.applied()
    doc = applied[1] if applied else None
    files = layout.files_of(doc) if doc else []
    present = present_bytes = 0
    for entry in files:
        path = layout.file(entry["path"])
        if path.is_file() and path.stat().st_size == entry["size"]:
            present += 1
            present_bytes += entry["size"]
    state = layout.load_state()
    kept = Outbox(layout).all()
    info: dict[str, Any] = {
        "site_id": config.site_id,
        "site_code": config.site_code,
        "server": config.server,
        "applied_version": doc["version"] if doc else None,
        "files": len(files),
        "files_present": present,
        "bytes": doc["bytes"] if doc else 0,
        "bytes_present": present_bytes,
        "download_window": doc["site"].get("download_window") if doc else None,
        "bandwidth_kbps": doc["site"].get("bandwidth_kbps") if doc else None,
        "queued_reports": len(queued(layout)),
        "queued_viewing": len(pending(layout)),
        "queued_records": sum(1 for r in kept if r.state is State.PENDING),
        "refused_records": sum(1 for r in kept if r.state is State.REFUSED),
        "last_sync": state.last_sync,
    }
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    out = Console(highlight=False, soft_wrap=True)
    say_out: Callable[[str], None] = lambda text: out.print(text, markup=False)  # noqa: E731
    say_out(
        said(
            "status_site",
            code=config.site_code,
            site_id=config.site_id,
            server=config.server or said("status_no_server"),
        )
    )
    if doc is None:
        say_out(said("status_no_manifest", command=f"mediasrv-site sync --dir {shlex.quote(str(dir))}"))
    else:
        say_out(
            said(
                "status_manifest",
                version=doc["version"],
                present=present,
                files=len(files),
                present_size=human_size(present_bytes),
                size=human_size(doc["bytes"]),
            )
        )
        cap = info["bandwidth_kbps"]
        say_out(
            said(
                "status_window",
                window=info["download_window"] or said("status_any_time"),
                cap=f"{cap} kbps" if cap else said("status_no_cap"),
            )
        )
    say_out(
        said(
            "status_queued",
            reports=info["queued_reports"],
            viewing=info["queued_viewing"],
            records=info["queued_records"],
            refused=info["refused_records"],
        )
    )
    last = state.last_sync
    if last:
        if last.get("complete"):
            outcome = said("status_complete")
        elif last.get("error"):
            outcome = say(last.get("problem"), LANG[0])
        else:
            outcome = said("status_incomplete")
        say_out(
            said(
                "status_last",
                when=_beijing(str(last.get("finished_at"))),
                outcome=outcome,
                files=last.get("files_fetched"),
                size=human_size(int(last.get("bytes_downloaded") or 0)),
                failed=len(last.get("failures") or []),
            )
        )


# serve (the LAN origin) and import (offline bundles) live in their own modules.
from mediasrv.agent import bundle, serve  # noqa: E402

serve.register(app)
bundle.register(app)


def main() -> None:
    app()
