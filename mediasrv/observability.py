"""Operations: JSON logs with request ids, the request middleware, Prometheus metrics and readiness.

Counters of what the API process itself does (requests, uploads, manifest polls) live in the default
registry. What other processes do (transcodes run in workers, the broker holds the queues, sites
report through heartbeats) is read at scrape time by `ScrapeCollector`, from the database and the
broker, so it is right however many API and worker processes there are.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, case, create_engine, func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.jobs import QUEUES
from mediasrv.sites import fleet
from mediasrv.storage import ObjectStore

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("task_id", default=None)  # set in workers, per job
REQUEST_ID_HEADER = "X-Request-ID"

# --- logs --------------------------------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO, UTC), level, logger, message, request_id and task_id when
    there are, then any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["request_id"] = request_id
        task_id = TASK_ID.get()
        if task_id is not None:
            out["task_id"] = task_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # Non-ASCII kept as is: titles and regions are Chinese, and collectors read UTF-8.
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: the usual line, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = REQUEST_ID.get()
        return f"{line} [{request_id}]" if request_id is not None else line


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever sys.stderr is at the time (as logging's last-resort handler does), so that a
    replaced stderr (test capture, a supervisor's redirect) is followed rather than a closed one kept."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def configure_logging(json: bool, level: int | str = logging.INFO) -> None:
    """Send every logger's records to stderr, as JSON lines or as text; replaces earlier handlers."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


# --- requests ------------------------------------------------------------------------------------------

access_log = logging.getLogger("mediasrv.access")

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series: twice the output, and restarts show in *_total anyway

HTTP_REQUESTS = Counter(
    "mediasrv_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
UPLOADS = Counter(
    "mediasrv_uploads", "Uploads by outcome: created, duplicate, or the refusal's code", ["outcome"]
)
MANIFEST_REQUESTS = Counter(
    "mediasrv_manifest_requests",
    "Site polls of caching manifests and channel lists: full, delta or not_modified (304)",
    ["document", "result"],
)
MANIFEST_NOT_MODIFIED = MANIFEST_REQUESTS.labels("manifest", "not_modified")  # bound once: the hot path

_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "<unmatched>"  # one label for every path no route knows (scanners must not add series)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else os.urandom(8).hex()
    return os.urandom(8).hex()


def loggable_path(path: str) -> str:
    """The path without the signature of a signed playback link (it is a credential until it expires)."""
    if path.startswith("/s/"):
        _, _, rest = path[3:].partition("/")
        return f"/s/…/{rest}"
    return path


class RequestMiddleware:
    """Request id (from X-Request-ID when sane, else new; echoed in the response), one access log line
    and the request counter. Pure ASGI: site agents poll at high rates and every microsecond shows."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}  # bound children: labels() takes a lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The id is left set: the server logs this exception next, in this request's own task
            # (so its own context), and that line should carry the id too.
            self._done(scope, status, time.perf_counter() - start)
            raise
        self._done(scope, status, time.perf_counter() - start)
        REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or _UNMATCHED
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = HTTP_REQUESTS.labels(method, route, str(status))
        counter.inc()
        # 304s are agents' polls that found nothing new: the bulk of the traffic and of no interest.
        level = logging.DEBUG if status == 304 else logging.INFO
        if access_log.isEnabledFor(level):
            path = loggable_path(scope["path"])
            ms = round(seconds * 1000, 2)
            client = scope.get("client")
            access_log.log(
                level,
                "%s %s %d %.1f ms",
                method,
                path,
                status,
                ms,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": ms,
                    "client": client[0] if client else None,
                },
            )


# --- the broker ----------------------------------------------------------------------------------------

_TIMEOUT = 2.0  # seconds: a probe answers quickly or counts as down
_REDIS_PRIORITY_SEP = "\x06\x16"  # kombu's key suffix for prioritised messages: queue + sep + step
_REDIS_PRIORITY_STEPS = (3, 6, 9)


class Broker:
    """Reachability and queue lengths of the Celery broker, read directly (no Celery client needed)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._redis: Any = None

    @property
    def kind(self) -> str:
        if self.url.startswith("sqla+"):
            return "sqlalchemy"
        if self.url.startswith(("redis://", "rediss://", "unix://")):
            return "redis"
        return "other"

    def _sql(self) -> Engine:
        if self._engine is None:
            url = self.url.removeprefix("sqla+")
            args: dict[str, Any] = {"timeout": _TIMEOUT} if url.startswith("sqlite") else {}
            self._engine = create_engine(url, connect_args=args, pool_pre_ping=True)
        return self._engine

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                self.url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
            )
        return self._redis

    def check(self) -> None:
        """Raise when the broker cannot be reached."""
        if self.kind == "sqlalchemy":
            with self._sql().connect() as conn:
                conn.execute(text("SELECT 1"))
        elif self.kind == "redis":
            self._client().ping()
        else:
            from kombu.connection import Connection

            with Connection(self.url, connect_timeout=_TIMEOUT) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1)

    def queue_depths(self) -> dict[str, int] | None:
        """Messages waiting per mediasrv queue; None for a broker this cannot read."""
        names = sorted(set(QUEUES.values()))
        if self.kind == "sqlalchemy":
            with self._sql().connect() as conn:
                if not self._sql().dialect.has_table(conn, "kombu_message"):
                    return dict.fromkeys(names, 0)  # nothing was ever sent
                rows = conn.execute(
                    text(
                        "SELECT q.name, COUNT(m.id) FROM kombu_queue q LEFT JOIN kombu_message m"
                        " ON m.queue_id = q.id AND m.visible GROUP BY q.name"
                    )
                )
                found = {str(name): int(n) for name, n in rows}
            return {name: found.get(name, 0) for name in names}
        if self.kind == "redis":
            pipe = self._client().pipeline(transaction=False)
            for name in names:
                pipe.llen(name)
                for step in _REDIS_PRIORITY_STEPS:
                    pipe.llen(f"{name}{_REDIS_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
            per = 1 + len(_REDIS_PRIORITY_STEPS)
            return {name: sum(lengths[i * per : (i + 1) * per]) for i, name in enumerate(names)}
        return None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()


# --- readiness -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # "ok", or what went wrong


def _ping_database(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def check_readiness(db: Database, store: ObjectStore, broker: Broker) -> Readiness:
    """Database, object storage and broker, each probed once (the caller runs this off the loop)."""
    probes: dict[str, Callable[[], None]] = {
        "database": lambda: _ping_database(db),
        "storage": store.check,
        "broker": broker.check,
    }
    results: dict[str, str] = {}

    def run(name: str, probe: Callable[[], None]) -> None:
        try:
            probe()
            results[name] = "ok"
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            results[name] = str(message)

    # In parallel, so a dead dependency's timeout is paid once, not once per dependency.
    threads = [threading.Thread(target=run, args=item, daemon=True) for item in probes.items()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 3 * _TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    checks = {name: results.get(name, f"no answer within {3 * _TIMEOUT:g} s") for name in probes}
    return Readiness(all(v == "ok" for v in checks.values()), checks)


class ReadinessCache:
    """/readyz is public: probes run at most once per `ttl` seconds, whoever asks how often."""

    def __init__(self, probe: Callable[[], Readiness], *, ttl: float = 2.0) -> None:
        self._probe = probe
        self._ttl = ttl
        self._lock = threading.Lock()
        self._last: tuple[float, Readiness] | None = None

    def get(self) -> Readiness:
        with self._lock:
            if self._last is None or time.monotonic() - self._last[0] > self._ttl:
                self._last = (time.monotonic(), self._probe())
            return self._last[1]


# --- scrape-time metrics -------------------------------------------------------------------------------

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
                logging.getLogger(__name__).warning("metrics: could not read %s", name, exc_info=True)
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
        depths = self._broker.queue_depths()
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
