"""Producers' commands: upload a file and follow its processing, ask an asset's status (over HTTP)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

import httpx
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mediasrv.cli.client import DEFAULT_SERVER, ServerOption, TokenOption, api_token, fail_with
from mediasrv.cli.common import console, load_settings, report_error


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


def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    title: Annotated[str | None, typer.Option(help="defaults to the file name")] = None,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
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
    settings = load_settings()
    headers = {"Authorization": f"Bearer {api_token(settings, token)}"}
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
            fail_with(response)
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
                fail_with(created)
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
                fail_with(response)
            asset = response.json()
            progress.update(task, completed=asset["progress"], description=asset["status"])
    if asset["status"] == "failed":
        report_error(asset["error"], label="failed:")
    elif asset["links"]["master"]:
        # Signed links play in any player (ffplay, VLC, a set-top box) without an Authorization header.
        response = client.get(f"/api/v1/assets/{asset['id']}/playback")
        if response.status_code != 200:
            fail_with(response)
        playback = response.json()
        for name in ("master", "iptv", "iptv_sd", "poster"):
            if playback[name]:
                console.print(f"  {name}: {client.base_url.join(playback[name])}", soft_wrap=True)
        console.print(f"  (links valid until {playback['expires_at']})")
    else:
        console.print(f"  document: {client.base_url.join(asset['links']['source'])}", soft_wrap=True)
    return asset


def status(
    asset_id: str,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
) -> None:
    """Print an asset's status as JSON."""
    headers = {"Authorization": f"Bearer {api_token(load_settings(), token)}"}
    response = httpx.get(f"{server}/api/v1/assets/{asset_id}", headers=headers, timeout=30)
    if response.status_code != 200:
        fail_with(response)
    typer.echo(response.text)
