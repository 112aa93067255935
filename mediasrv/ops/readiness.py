"""Readiness (/readyz): database, object storage and broker, probed in parallel, at most every 2 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import text

from mediasrv.db import Database
from mediasrv.ops.broker import PROBE_TIMEOUT, Broker
from mediasrv.storage import ObjectStore


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description='database, storage, broker: "ok" or what is wrong')


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
    deadline = time.monotonic() + 3 * PROBE_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    checks = {name: results.get(name, f"no answer within {3 * PROBE_TIMEOUT:g} s") for name in probes}
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
