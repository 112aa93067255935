"""Heartbeats: after each sync the agent tells the server what it holds (POST /api/v1/sites/{id}/heartbeat).

A report that cannot be delivered is queued in reports.jsonl and sent, oldest first, before the next
one, the way every outbox of the agent is sent (agent.viewing.send): only a 2xx answer of the
mediasrv API delivers, only its 4xx refuses (that report is dropped), and anything else (no line, a
redirect, a captive portal's page, a 5xx) keeps the queue for the next run. Each report carries a
unique `report_id` and the time it was made (`observed_at`): the server counts a report id once,
however often it arrives (an answer lost on the way makes the agent send it again), and never lets
an older report replace a newer one. Queued reports older than QUEUE_DAYS are dropped: the server no
longer remembers ids that old (mediasrv.sites.fleet.RECEIPT_DAYS), and a week-old state is of no
use to anyone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mediasrv import __version__
from mediasrv.agent.layout import Layout, write_atomic
from mediasrv.agent.sync import SyncResult, server_message
from mediasrv.agent.viewing import ViewingDelivery, send
from mediasrv.protocol.document import canonical

log = logging.getLogger("mediasrv.agent")

QUEUE_DAYS = 7
QUEUE_MAX = 5000  # a month offline at one report every ten minutes; the oldest go first
MAX_FAILED_SAMPLE = 20  # what the server keeps


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
        "agent_version": __version__,
    }


def used_bytes(root: Path) -> int:
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += Path(folder, name).stat().st_size
    return total


def queued(layout: Layout) -> list[dict[str, Any]]:
    """The reports waiting to be delivered, oldest first."""
    reports = []
    try:
        with layout.reports.open("rb") as f:
            for line in f:
                with contextlib.suppress(ValueError):  # a line torn by a crash
                    reports.append(json.loads(line))
    except FileNotFoundError:
        pass
    return reports


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

    def queued(self) -> list[dict[str, Any]]:
        return queued(self.layout)

    def _save(self, reports: list[dict[str, Any]]) -> None:
        if reports:
            write_atomic(self.layout.reports, b"".join(canonical(r) + b"\n" for r in reports))
        else:
            self.layout.reports.unlink(missing_ok=True)

    def deliver(self, report: dict[str, Any] | None = None) -> Delivery:
        """Send the queued reports and then `report`, oldest first, stopping at the first failure;
        whatever was not delivered stays queued (the queue is rewritten once, at the end: a crash
        meanwhile resends a few, which the server recognises by their ids)."""
        pending = self.queued() + ([report] if report is not None else [])
        cutoff = datetime.now(UTC) - timedelta(days=QUEUE_DAYS)
        fresh = [r for r in pending if _observed(r) >= cutoff][-QUEUE_MAX:]
        if len(fresh) < len(pending):
            log.warning("dropped %d queued reports over %d days old", len(pending) - len(fresh), QUEUE_DAYS)
        url = f"/api/v1/sites/{self.site_id}/heartbeat"
        sent, ack, error = 0, None, None
        while fresh:
            got = send(self.client, "POST", url, json=fresh[0], timeout=30)
            if got.wait is not None or got.response is None:
                error = got.wait or "no answer"
                break
            if got.refused:  # it will never be accepted: keeping it would block the rest
                log.error("the server refused a report, dropping it: %s", server_message(got.response))
            else:
                answer = got.response.json() if got.response.content else None
                ack = answer if isinstance(answer, dict) else None
                sent += 1
            fresh.pop(0)
        self._save(fresh)
        if error:
            log.warning("heartbeat not delivered (%s): %d reports queued", error, len(fresh))
        return Delivery(sent, len(fresh), ack, error)


def _observed(report: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(report["observed_at"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)  # unknown: keep it, the server takes it as made on arrival
