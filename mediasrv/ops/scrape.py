"""Scrape-time metrics: what other processes do, read from the database and the broker when scraped.

Transcodes run in workers, the broker holds the queues, sites report through heartbeats: reading them
at scrape time keeps the numbers right however many API and worker processes there are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.fleet import status as fleet
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.jobs import QUEUES
from mediasrv.ops.broker import Broker

log = logging.getLogger(__name__)

TRANSCODE_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0)


class ScrapeCollector(Collector):
    """Asset states and transcode runs (from the database), queue depths (from the broker) and site
    reachability (the fleet service), computed when scraped and kept for `ttl` seconds. A part that
    fails is left out and `mediasrv_scrape_ok{part}` says so: a scrape never fails as a whole."""

    def __init__(self, db: Database, broker: Broker, settings: Settings, *, ttl: float = 5.0) -> None:
        self._db = db
        self._broker = broker
        self._settings = settings
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self._ttl:
                self._cached = (time.monotonic(), self._gather())
            yield from self._cached[1]

    def _gather(self) -> list[Metric]:
        parts: dict[str, Callable[[], Iterable[Metric]]] = {
            "assets": self._assets,
            "queues": self._queues,
            "sites": self._sites,
        }
        ok = GaugeMetricFamily(
            "mediasrv_scrape_ok", "1 when this part of the scrape could be read", labels=["part"]
        )
        out: list[Metric] = []
        for name, part in parts.items():
            try:
                out += list(part())
                ok.add_metric([name], 1)
            except Exception:
                log.warning("metrics: could not read %s", name, exc_info=True)
                ok.add_metric([name], 0)
        return [*out, ok]

    def _assets(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("mediasrv_assets", "Assets by status", labels=["status"])
        seconds = Asset.processing_seconds
        finished = Asset.status.in_([AssetStatus.READY, AssetStatus.FAILED]) & seconds.is_not(None)
        bucket_sums = [func.sum(case((seconds <= b, 1), else_=0)) for b in TRANSCODE_BUCKETS]
        with self._db.session_scope() as session:
            rows = session.execute(select(Asset.status, func.count()).group_by(Asset.status))
            counts = {status: n for status, n in rows}
            runs = session.execute(
                select(Asset.kind, Asset.status, func.count(), func.sum(seconds), *bucket_sums)
                .where(finished)
                .group_by(Asset.kind, Asset.status)
            ).all()
        for status in AssetStatus:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        durations = HistogramMetricFamily(
            "mediasrv_transcode_duration_seconds",
            "Length of each asset's latest processing run, by kind and outcome (ready or failed)",
            labels=["kind", "outcome"],
        )
        for kind, status, count, total, *cumulative in runs:
            buckets = [(f"{b:g}", int(n or 0)) for b, n in zip(TRANSCODE_BUCKETS, cumulative, strict=True)]
            durations.add_metric(
                [kind.value, status.value], [*buckets, ("+Inf", int(count))], sum_value=float(total or 0)
            )
        yield durations

    def _queues(self) -> Iterator[Metric]:
        depths = self._broker.queue_depths(QUEUES.values())
        if depths is None:
            return
        gauge = GaugeMetricFamily(
            "mediasrv_queue_depth", "Jobs waiting in each broker queue", labels=["queue"]
        )
        for name, n in depths.items():
            gauge.add_metric([name], n)
        yield gauge

    def _sites(self) -> Iterator[Metric]:
        window = self._settings.online_window_seconds
        with self._db.session_scope() as session:
            totals = fleet.fleet_status(session, now=utcnow(), online_within_seconds=window, level=1).totals
        states = GaugeMetricFamily(
            "mediasrv_sites", f"Sites by state (online: a heartbeat within {window} s)", labels=["state"]
        )
        for state, n in (("online", totals.online), ("stale", totals.stale), ("never", totals.never_seen)):
            states.add_metric([state], n)
        yield states
        yield GaugeMetricFamily(
            "mediasrv_sites_in_sync", "Sites holding their current manifest", value=totals.in_sync
        )
        yield GaugeMetricFamily(
            "mediasrv_sites_over_quota", "Sites whose required items do not fit", value=totals.over_quota
        )
        if totals.reachable_percent is not None:
            yield GaugeMetricFamily(
                "mediasrv_sites_reachable_percent",
                "Online sites in percent (畅通率)",
                value=totals.reachable_percent,
            )
