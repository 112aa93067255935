"""The Celery broker as ops sees it: ops.readiness probes it, ops.scrape counts its queues."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, create_engine, text

PROBE_TIMEOUT = 2.0  # seconds: a probe answers quickly or counts as down
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
            args: dict[str, Any] = {"timeout": PROBE_TIMEOUT} if url.startswith("sqlite") else {}
            self._engine = create_engine(url, connect_args=args, pool_pre_ping=True)
        return self._engine

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                self.url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
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

            with Connection(self.url, connect_timeout=PROBE_TIMEOUT) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1)

    def queue_depths(self, queues: Iterable[str]) -> dict[str, int] | None:
        """Messages waiting in each of `queues`; None for a broker this cannot read."""
        names = sorted(set(queues))
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
