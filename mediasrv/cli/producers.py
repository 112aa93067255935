"""Producers' commands: upload a file and follow its processing, ask an asset's status (over HTTP)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

import httpx
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mediasrv.cli.client import DEFAULT_SERVER, ServerOption, TokenOption, api_token, connect, fail_with
from mediasrv.cli.common import beijing, console, fail, load_settings, note, options, report_error, say
from mediasrv.kit.i18n import Text
from mediasrv.protocol import taxonomy
from mediasrv.protocol.taxonomy import CATEGORIES


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


def category_code(given: str) -> str:
    """The category's code from its code or its name (Chinese or English, as the pages show them);
    an unknown one ends the command listing the valid names, before anything is uploaded."""
    if (code := taxonomy.category_code(given)) is not None:
        return code
    names = [zh if options.lang == "zh" else f"{en} ({code})" for code, zh, en in CATEGORIES]
    fail("cli.unknown_category", category=given, valid=("、" if options.lang == "zh" else ", ").join(names))


def _state(status: str) -> str:
    """An asset's state (uploaded, processing, ready, failed) in the operator's language."""
    key = f"cli.asset_status.{status}"
    return say(key)


def upload(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="cli.help.upload.file")
    ],
    title: Annotated[str | None, typer.Option(help="cli.help.upload.title")] = None,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
    wait: Annotated[bool, typer.Option(help="cli.help.upload.wait")] = True,
    category: Annotated[str | None, typer.Option(help="cli.help.upload.category")] = None,
    programme: Annotated[bool, typer.Option(help="cli.help.upload.programme")] = True,
    tags: Annotated[str, typer.Option(help="cli.help.upload.tags")] = "",
    description: Annotated[str, typer.Option(help="cli.help.upload.description")] = "",
) -> None:
    """Upload a film, audio lecture or PDF, with a progress bar, then follow its processing.

    It also becomes a draft programme (title, category, tags, description) for an administrator to
    publish, unless --no-programme: give its --category.
    """
    code = None
    if programme:  # checked before the upload: a wrong category must not cost an hour of upload
        if category is None:
            fail("cli.category_needed", valid=taxonomy.category_names_zh())
        code = category_code(category)
    settings = load_settings()
    size = file.stat().st_size
    timeout = httpx.Timeout(60.0, read=3600.0)  # the server hashes and stores the file before answering
    with connect(server, api_token(settings, token), timeout=timeout) as client:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress, file.open("rb") as f:
            task = progress.add_task(escape(say("cli.uploading", name=file.name)), total=size)
            data = {"title": title} if title else {}
            response = client.post(
                "/api/v1/assets",
                files={"file": (file.name, cast(BinaryIO, _Counting(f, progress, task)))},
                data=data,
            )
        if response.status_code not in (200, 201):
            fail_with(response)
        asset = response.json()
        uploaded = "cli.already_uploaded" if response.status_code == 200 else "cli.uploaded"
        note(uploaded, asset=asset["id"], status=Text(f"cli.asset_status.{asset['status']}"))
        if code is not None:
            draft = {
                "title": title or asset["title"],
                "category": code,
                "description": description,
                "tags": [t for t in tags.replace("，", ",").split(",") if t.strip()],
                "asset_id": asset["id"],
            }
            created = client.post("/api/v1/programmes", json=draft)
            if created.status_code != 201:
                fail_with(created)
            made = created.json()
            named = made["category"]["name_zh" if options.lang == "zh" else "name_en"]
            note("cli.draft_created", programme=made["id"], category=named)
        if wait:
            asset = _follow(client, asset)
    typer.echo(asset["id"])
    if asset["status"] == "failed":
        raise typer.Exit(1)


def _follow(client: httpx.Client, asset: dict[str, Any]) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), console=console
    ) as progress:
        task = progress.add_task(_state(asset["status"]), total=100)
        while asset["status"] in ("uploaded", "processing"):
            time.sleep(1.0)
            response = client.get(f"/api/v1/assets/{asset['id']}")
            if response.status_code != 200:
                fail_with(response)
            asset = response.json()
            progress.update(task, completed=asset["progress"], description=_state(asset["status"]))
    if asset["status"] == "failed":
        report_error(asset["error"] or "", label=say("cli.failed_label"))
    elif asset["links"]["master"]:
        # Signed links play in any player (ffplay, VLC, a set-top box) without an Authorization header.
        response = client.get(f"/api/v1/assets/{asset['id']}/playback")
        if response.status_code != 200:
            fail_with(response)
        playback = response.json()
        for name in ("master", "iptv", "iptv_sd", "poster"):
            if playback[name]:
                console.print(
                    f"  {name}: {client.base_url.join(playback[name])}", soft_wrap=True, markup=False
                )
        note("cli.links_valid_until", until=beijing(playback["expires_at"]))
    else:
        console.print(
            f"  {say('cli.document_label')}: {client.base_url.join(asset['links']['source'])}",
            soft_wrap=True,
            markup=False,
        )
    return asset


def status(
    asset_id: Annotated[str, typer.Argument(help="cli.help.status.asset_id")],
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Print an asset's status as JSON."""
    with connect(server, api_token(load_settings(), token)) as client:
        response = client.get(f"/api/v1/assets/{asset_id}")
    if response.status_code != 200:
        fail_with(response)
    typer.echo(response.text)
