"""The `mediasrv-site` command: init, sync, daemon, status, serve, import."""

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
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mediasrv.agent import player
from mediasrv.agent.layout import AgentConfig, AgentError, Layout
from mediasrv.agent.outbox import State
from mediasrv.agent.records import Outbox, RecordsDelivery, RecordSender
from mediasrv.agent.reports import Delivery, Reporter, make_report, queued
from mediasrv.agent.sync import ATTEMPTS, USER_AGENT, Syncer, SyncResult, client_for, parse_window
from mediasrv.agent.viewing import ViewingSender, pending
from mediasrv.agent.words import Lang, line
from mediasrv.protocol.china import now_in_china
from mediasrv.protocol.lang import operator_lang
from mediasrv.protocol.sizes import human_size

app = typer.Typer(
    help="mediasrv-site: keeps a terminal site's cache complete and serves it on the LAN",
    no_args_is_help=True,
)
console = Console(stderr=True)
log = logging.getLogger("mediasrv.agent")
LANG: list[Lang] = [operator_lang(os.environ)]  # the root command's --lang, else the locale


@app.callback()
def root(
    lang: Annotated[
        str | None, typer.Option("--lang", help="zh or en (default: from LANG / LC_ALL, else zh)")
    ] = None,
) -> None:
    """mediasrv-site: keeps a terminal site's cache complete and serves it on the LAN"""
    LANG[0] = operator_lang(os.environ, lang)


def _beijing(stamp: str) -> str:
    """A stored UTC time on the Beijing clock, labelled (the server's windows are Beijing's too)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return line("beijing_time", LANG[0], clock=now_in_china(moment).strftime("%Y-%m-%d %H:%M:%S"))


DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="MEDIASRV_SITE_DIR",
        help="the site's cache directory",
        file_okay=False,
        resolve_path=True,
    ),
]
DEFAULT_DIR = Path("mediasrv-site")
AttemptsOption = Annotated[
    int, typer.Option(min=1, max=20, help="tries per request before giving up (waits double from 1 s)")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


@app.command()
def init(
    server: Annotated[str, typer.Option(help="the mediasrv URL, e.g. https://edu.example.cn")],
    token: Annotated[str, typer.Option(envvar="MEDIASRV_SITE_TOKEN", help="the site's API token")],
    dir: DirOption = DEFAULT_DIR,
    interval: Annotated[int, typer.Option(min=10, help="seconds between the daemon's polls")] = 300,
) -> None:
    """Set up a cache directory for one site: learn which site the token is for, pin the server's
    manifest key, keep the token (mode 0600)."""
    layout = Layout(dir)
    server = server.rstrip("/")
    headers = {"Authorization": f"Bearer {token.strip()}", "User-Agent": USER_AGENT}
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=30) as client:
            who = client.get("/auth/session")
            if who.status_code == 401:
                raise _fail(
                    f"{server} refused the token: copy it again (it is shown once), or create a new one "
                    "with `mediasrv token create --site CODE`."
                )
            if who.status_code != 200:
                raise _fail(f"{server}/auth/session answered {who.status_code}: is this a mediasrv server?")
            session = who.json()
            site_id = session.get("site_id")
            if site_id is None:
                raise _fail(
                    f"That token belongs to the {session.get('role')} {session.get('username')!r}, not to a "
                    "site: create a site token with `mediasrv token create --site CODE`."
                )
            key = client.get("/api/v1/sites/manifest-key")
            if key.status_code != 200:
                raise _fail(f"{server}/api/v1/sites/manifest-key answered {key.status_code}.")
            site = client.get(f"/api/v1/sites/{site_id}/manifest")
            code = site.json()["site"]["code"] if site.status_code == 200 else str(site_id)
    except httpx.TransportError as exc:
        log.debug("init: %s", exc)
        raise _fail(line("init_unreachable", LANG[0], server=server), 2) from None
    if layout.config.exists():
        old = layout.load_config()
        if old.site_id != site_id:
            raise _fail(
                f"{dir} already holds site {old.site_code} (id {old.site_id}); this token is for site "
                f"{code} (id {site_id}): use another --dir."
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
    said = line("init_done", LANG[0], dir=dir, code=code, site_id=site_id, server=server)
    console.print(said, markup=False, soft_wrap=True)
    # The exact commands, with this --dir: without it they would look in ./mediasrv-site.
    where = f"--dir {shlex.quote(str(dir))}"
    sync, daemon = f"mediasrv-site sync {where}", f"mediasrv-site daemon {where}"
    console.print(line("init_next", LANG[0], sync=sync, daemon=daemon), markup=False, soft_wrap=True)


class _Bar:
    """The terminal's progress bar: every byte the run must download, resumed bytes counted as done."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("checking", total=None)

    def plan(self, total: int, done: int) -> None:
        self.progress.update(self.task, description="downloading", total=total, completed=done)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)


def _setup(dir: Path) -> tuple[Layout, AgentConfig, httpx.Client]:
    layout = Layout(dir)
    try:
        config = layout.load_config()
        token = layout.load_token()
    except AgentError as exc:
        raise _fail(str(exc), 2) from None
    if not config.server:  # set up from an offline bundle: no line yet
        raise _fail(f"{dir} has no server to sync with: run `mediasrv-site init --server URL --token T`.", 2)
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
        delivery = Reporter(layout, client, syncer.config.site_id).deliver(make_report(layout, result))
        # What the LAN origin counted since (agent.viewing); kept in the outbox when the line is down.
        delivery.viewing = ViewingSender(layout, client, syncer.config.site_id).deliver()
        # Sessions, photos, ratings, requests members entered on the site view (agent.records).
        records = RecordSender(layout, client, syncer.config.site_id).deliver()
        if problem := player.ensure(layout, client):  # the site view's player, once, if the PC lacks it
            log.warning("%s", problem)
    return result, delivery, records


def _summary(result: SyncResult, delivery: Delivery, records: RecordsDelivery | None = None) -> str:
    parts = [
        f"version {result.version}"
        + (
            f" (server: {result.target_version})"
            if result.target_version is not None and result.target_version != result.version
            else ""
        )
    ]
    parts.append(f"{result.files_fetched} files fetched ({human_size(result.bytes_downloaded)} downloaded")
    parts[-1] += f", {human_size(result.bytes_resumed)} resumed)" if result.bytes_resumed else ")"
    if result.files_corrupt:
        parts.append(f"{result.files_corrupt} damaged files replaced")
    if result.deleted:
        parts.append(f"{result.deleted} files deleted")
    if result.files_missing:
        parts.append(f"{result.files_missing} files ({human_size(result.bytes_missing)}) still missing")
    if result.deferred:
        parts.append("downloads wait for the download window")
    if delivery.error:
        parts.append(f"heartbeat queued ({delivery.queued} waiting)")
    else:
        in_sync = delivery.ack and delivery.ack.get("in_sync")
        parts.append("heartbeat sent" + (" (in sync)" if in_sync else ""))
    if delivery.viewing is not None and delivery.viewing.queued:
        parts.append(f"viewing evidence queued ({delivery.viewing.queued} waiting)")
    elif delivery.viewing is not None and delivery.viewing.sent:
        parts.append(f"viewing evidence sent ({delivery.viewing.sent})")
    if records is not None and (records.sent or records.refused or records.queued):
        said = f"study records: {records.sent} sent"
        said += f", {records.refused} refused (see the site view)" if records.refused else ""
        said += f", {records.queued} waiting" if records.queued else ""
        parts.append(said)
    return "; ".join(parts)


@app.command()
def sync(
    dir: DirOption = DEFAULT_DIR,
    verify: Annotated[
        bool, typer.Option("--verify", help="hash every cached file, not only new ones")
    ] = False,
    respect_window: Annotated[
        bool, typer.Option("--respect-window", help="download only inside the site's download window")
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
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("Interrupted; what was downloaded is kept and the next sync resumes it.", 130) from None
    if result.problem == "unreachable":  # the line is down: nothing the administrator broke, nothing lost
        console.print(
            line("unreachable", LANG[0], server=layout.load_config().server), markup=False, soft_wrap=True
        )
        raise typer.Exit(2)
    console.print(_summary(result, delivery, records), soft_wrap=True)
    for failure in result.failures[:20]:
        console.print(f"  [red]failed[/] {failure.path}: {failure.message}", soft_wrap=True)
    if result.error:
        raise _fail(result.error)
    if result.failures:
        raise typer.Exit(1)


@app.command()
def daemon(
    dir: DirOption = DEFAULT_DIR,
    interval: Annotated[
        int | None, typer.Option(min=1, help="seconds between polls (default: from init, 300)")
    ] = None,
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
    log.info(
        "mediasrv-site daemon for site %s, polling %s every %d s", config.site_code, config.server, every
    )
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
                log.warning("%s", exc)
            except Exception:  # the daemon outlives any one bad run
                log.exception("the sync run failed; trying again in %d s", every)
            stop.wait(wait)
    log.info("stopped")


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


@app.command()
def status(
    dir: DirOption = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """What this site holds: the applied manifest, its files, queued reports, the last sync."""
    layout = Layout(dir)
    try:
        config = layout.load_config()
    except AgentError as exc:
        raise _fail(str(exc), 2) from None
    applied = layout.applied()
    doc = applied[1] if applied else None
    present = present_bytes = 0
    for entry in doc["files"] if doc else []:
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
        "files": len(doc["files"]) if doc else 0,
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
    out = Console()
    out.print(f"site [bold]{config.site_code}[/] (id {config.site_id}) of {config.server}")
    if doc is None:
        out.print("no manifest applied yet: run `mediasrv-site sync`")
    else:
        out.print(
            f"manifest version {doc['version']}: {present}/{len(doc['files'])} files, "
            f"{human_size(present_bytes)} of {human_size(doc['bytes'])}"
        )
        out.print(
            f"download window {info['download_window'] or 'any time'}, "
            f"bandwidth cap {str(info['bandwidth_kbps']) + ' kbps' if info['bandwidth_kbps'] else 'none'}"
        )
    out.print(
        f"queued reports: {info['queued_reports']}, viewing evidence: {info['queued_viewing']}, "
        f"study records: {info['queued_records']} (refused: {info['refused_records']})"
    )
    last = state.last_sync
    if last:
        outcome = "complete" if last.get("complete") else (last.get("error") or "incomplete")
        out.print(
            f"last sync {_beijing(str(last.get('finished_at')))}: {outcome}; "
            f"{last.get('files_fetched')} files fetched, "
            f"{human_size(int(last.get('bytes_downloaded') or 0))} downloaded, "
            f"{len(last.get('failures') or [])} failed",
            soft_wrap=True,
        )


# serve (the LAN origin) and import (offline bundles) live in their own modules.
from mediasrv.agent import bundle, serve  # noqa: E402

serve.register(app)
bundle.register(app)


def main() -> None:
    app()
