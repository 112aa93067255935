"""Run Debian's nginx with the repository's deploy/nginx/mediasrv.conf in front of a test app.

The site file is read from the repository and changed only where a deployment differs from a test
(upstream address, listen port, cache directory); a substitution that finds nothing fails, so the
tests always exercise the file that ships. Pid, logs, cache and temp files stay under one directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

SITE_CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "mediasrv.conf"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# What a deployment says and what a test puts instead: (what, text in the file).
UPSTREAM = "server api:8000;"
LISTEN = "listen 80;"
CACHE_PATH = "/var/cache/nginx/mediasrv-hls"


class NginxUnavailable(RuntimeError):
    """No nginx binary on this machine."""


class NginxError(RuntimeError):
    """nginx would not start, or the site file no longer has what the tests substitute."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        raise NginxUnavailable("nginx is not installed (apt-get install nginx-light): no /usr/sbin/nginx")
    return found


def _replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise NginxError(f"{SITE_CONF} has {old!r} {count} times, not once: update tests/nginxserver.py")
    return text.replace(old, new)


def render_site(*, upstream: str | Sequence[str], port: int, cache_dir: Path) -> str:
    """deploy/nginx/mediasrv.conf pointed at `upstream` (host:port; several: nginx's round-robin over
    them, as in front of several API processes), listening on loopback `port`."""
    servers = [upstream] if isinstance(upstream, str) else list(upstream)
    text = SITE_CONF.read_text()
    text = _replace_once(text, UPSTREAM, " ".join(f"server {u};" for u in servers))
    text = _replace_once(text, LISTEN, f"listen 127.0.0.1:{port};")
    return _replace_once(text, CACHE_PATH, str(cache_dir))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NginxServer:
    """One nginx master (daemon off) and its worker; `url` is where it listens."""

    def __init__(self, tmpdir: Path, *, upstream: str | Sequence[str]) -> None:
        self.binary = nginx_binary()
        self.dir = tmpdir
        self.cache_dir = tmpdir / "cache"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream = upstream
        self.error_log = tmpdir / "error.log"
        self.access_log = tmpdir / "access.log"  # the site logs to stdout, which goes here
        self._proc: subprocess.Popen[bytes] | None = None

    def _main_conf(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        site = self.dir / "mediasrv.conf"
        site.write_text(render_site(upstream=self.upstream, port=self.port, cache_dir=self.cache_dir))
        temp = self.dir / "temp"
        for path in (self.cache_dir, temp):
            path.mkdir(parents=True, exist_ok=True)
        # As root, workers would drop to nobody and could not write the 0700 pytest directories.
        user = "user root root;" if os.geteuid() == 0 else ""
        main = self.dir / "nginx.conf"
        main.write_text(
            f"""{user}
daemon off;
master_process on;
worker_processes 1;
pid {self.dir / "nginx.pid"};
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    access_log {self.access_log};
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    include {site};
}}
"""
        )
        return main

    def start(self) -> NginxServer:
        main = self._main_conf()
        command = [self.binary, "-p", str(self.dir), "-c", str(main), "-e", str(self.error_log)]
        with self.access_log.open("ab") as out:  # nginx keeps its own descriptor
            self._proc = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxError(f"nginx exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise NginxError(f"nginx did not listen on {self.port}:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # fast shutdown of master and workers
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def log_tail(self, n: int = 4000) -> str:
        logs = (p.read_text(errors="replace") for p in (self.error_log, self.access_log) if p.exists())
        return "".join(logs)[-n:]
