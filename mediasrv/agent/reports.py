"""Heartbeats: after each sync the agent tells the server what it holds (POST /api/v1/sites/{id}/heartbeat).

Each report goes into the heartbeats' outbox (agent.outbox: <dir>/heartbeats/<report_id>.json) and
is sent from there, oldest first, the way every outbox of the agent is sent: only a 2xx answer of
the mediasrv API delivers, only its 4xx refuses (that report is dropped), and anything else (no line,
a redirect, a captive portal's page, a 5xx) keeps it for the next run. Each report carries a
unique `report_id` and the time it was made (`observed_at`): the server counts a report id once,
however often it arrives (an answer lost on the way makes the agent send it again), and never lets
an older report replace a newer one. Queued reports older than QUEUE_DAYS are dropped: the server no
longer remembers ids that old (mediasrv.sites.models.RECEIPT_DAYS), and a week-old state is of no
use to anyone; beyond QUEUE_MAX waiting, the oldest go. An agent from before the outbox folders kept
its queue in <dir>/reports.jsonl: the first delivery adopts it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mediasrv import __version__
from mediasrv.agent import channel
from mediasrv.agent.layout import Layout
from mediasrv.agent.outbox import Item, Outbox, Parcel, Run, read_lines
from mediasrv.agent.sync import SyncResult
from mediasrv.agent.viewing import ViewingDelivery

log = logging.getLogger("mediasrv.agent")

QUEUE_DAYS = 7
QUEUE_MAX = 5000  # a month offline at one report every ten minutes; the oldest go first
MAX_FAILED_SAMPLE = 20  # what the server keeps
MAX_REPLACED = 20  # channel replacements a heartbeat carries (the server keeps as many)


def make_report(layout: Layout, result: SyncResult) -> dict[str, Any]:
    """The heartbeat body for the state after `result`: the applied version, and what the newest
    manifest the run knew of (the one it was syncing towards) still lacks."""
    usage = shutil.disk_usage(layout.root)
    return {
        "report_id": uuid.uuid4().hex,
        "observed_at": datetime.now(UTC).isoformat(),
        "manifest_version": result.version,
        "bytes_missing": result.bytes_missing,
        "files_missing": result.files_missing,
        "files_failed": len(result.failures),
        "failed_paths": [f.path for f in result.failures[:MAX_FAILED_SAMPLE]],
        "free_bytes": usage.free,
        "used_bytes": used_bytes(layout.files),
        "channel_replaced": recent_replacements(layout),
        "agent_version": __version__,
    }


def recent_replacements(layout: Layout, *, days: int = 2) -> list[dict[str, Any]]:
    """The channel's replacements of the last `days` (what the schedule asked for and the cache did
    not hold), newest first, in the heartbeat's shape; the centre keeps the latest report's."""
    since = datetime.now(UTC) - timedelta(days=days)
    found = []
    for item in channel.replacements(layout, limit=MAX_REPLACED):
        try:
            start = datetime.fromisoformat(item["start"])
            programme = str(item["programme_id"])
        except (KeyError, TypeError, ValueError):
            continue  # a line written by hand or cut short
        if start.tzinfo is None or start < since:
            continue
        replacement = item.get("replacement_id")
        found.append(
            {
                "start": start.isoformat(),
                "block": str(item["block"])[:80] if item.get("block") else None,
                "programme_id": programme[:64],
                "replacement_id": str(replacement)[:64] if replacement else None,
            }
        )
    return found


def used_bytes(root: Path) -> int:
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += Path(folder, name).stat().st_size
    return total


KIND = "heartbeat"


def heartbeats(layout: Layout) -> Outbox:
    """<dir>/heartbeats: one item per report; delivered or refused ones go at once."""
    return Outbox(layout, "heartbeats", keep_days=QUEUE_DAYS)


def _item(report: dict[str, Any]) -> Item:
    """A report as an item of the outbox: its id, made (its order, its age) when it was observed."""
    report_id = report.get("report_id")
    if not (isinstance(report_id, str) and report_id.isascii() and report_id.isalnum()):
        report_id = uuid.uuid4().hex  # an old report without a usable id: sent as it is, kept once
    return Item(KIND, report_id, _observed(report).isoformat(), report)


def queued(layout: Layout) -> list[dict[str, Any]]:
    """The reports waiting to be delivered, oldest first (an old agent's reports.jsonl included)."""
    return [*read_lines(layout.reports), *(i.body for i in heartbeats(layout).pending())]


@dataclass
class Delivery:
    sent: int  # reports the server accepted this time (queued ones included)
    queued: int  # reports still waiting
    ack: dict[str, Any] | None  # the server's answer to the newest report sent
    error: str | None  # why the rest wait
    viewing: ViewingDelivery | None = None  # the viewing evidence sent after it (agent.viewing)


class Reporter:
    def __init__(self, layout: Layout, client: httpx.Client, site_id: int) -> None:
        self.layout, self.client, self.site_id = layout, client, site_id
        self.outbox = heartbeats(layout)

    def queued(self) -> list[dict[str, Any]]:
        return queued(self.layout)

    def adopt_legacy(self) -> None:
        """Move an old agent's reports.jsonl into the outbox (once there, the file goes)."""
        if self.layout.reports.exists():
            self.outbox.add_many([(_item(r), None) for r in read_lines(self.layout.reports)])
            self.layout.reports.unlink(missing_ok=True)

    def deliver(self, report: dict[str, Any] | None = None) -> Delivery:
        """Keep `report`, then send the queued reports, oldest first, stopping when the server cannot
        be reached; whatever was not delivered stays queued (a crash meanwhile resends a few, which
        the server recognises by their ids)."""
        self.adopt_legacy()
        if report is not None:
            self.outbox.add(_item(report))
        if dropped := self.outbox.prune(pending=True, keep=QUEUE_MAX):
            log.warning("dropped %d queued reports (over %d days old, or the oldest)", dropped, QUEUE_DAYS)
        url = f"/api/v1/sites/{self.site_id}/heartbeat"

        def plan(run: Run) -> Iterator[Parcel]:
            for item in self.outbox.pending():
                yield Parcel([item], "POST", url, {"json": item.body, "timeout": 30})

        run = self.outbox.deliver(self.client, plan)
        left = len(self.outbox.pending())
        if run.error:
            log.warning("heartbeat not delivered (%s): %d reports queued", run.error, left)
        ack = run.answer if isinstance(run.answer, dict) else None
        return Delivery(run.sent, left, ack, run.error)


def _observed(report: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(report["observed_at"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)  # unknown: keep it, the server takes it as made on arrival
