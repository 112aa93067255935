"""What the benchmarks that start servers share: free ports, a process group per server, waiting for
one to answer, and the summary table. (`python bench/X.py` puts bench/ on sys.path.)"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Processes:
    """Every process started here, stopped (their whole process group) by stop_all()."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.running[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # its own session: the group id is its pid
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def errors(self, name: str, top: int = 6) -> list[str]:
        """The warnings and exceptions a process logged, most frequent first, with their counts."""
        found = [
            re.sub(r"^[\d-]+ [\d:,.]+\s+", "", line)[:200]  # without the timestamp, when there is one
            for line in self.log(name).splitlines()
            if re.search(r"(^|\s)(WARNING|ERROR|CRITICAL)\b", line)
            or re.match(r"[A-Za-z_][\w.]*(Error|Exception|Timeout)\b", line)
        ]
        counts: dict[str, int] = {}
        for line in found:
            counts[line] = counts.get(line, 0) + 1
        return [f"{n} x {line}" for line, n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]


def wait_until_up(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Report:
    """The summary table: one row per measurement, ours beside the baseline."""

    header: tuple[str, str, str, str, str] = ("what", "mediasrv", "baseline", "ratio", "target")
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, what: str, ours: str, baseline: str = "", ratio: str = "", target: str = "") -> None:
        self.rows.append((what, ours, baseline, ratio, target))

    def print(self) -> None:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(5)]
        print("\n" + "  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True)).rstrip())
        print("  ".join("-" * w for w in widths))
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
