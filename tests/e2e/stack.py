"""A real mediasrv deployment on loopback for end-to-end tests: the API server and a Celery worker
as separate processes started through the `mediasrv` command, sharing a data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from mediasrv import migrations
from mediasrv.accounts import service
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Stack:
    def __init__(self, data_dir: Path, *, queues: str = "transcode,default,index", **env: str) -> None:
        self.data_dir = data_dir
        self.queues = queues  # of the stack's own worker
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MEDIASRV_DATA_DIR": str(data_dir),
            "MEDIASRV_SWEEP_INTERVAL_SECONDS": "2",
            **{f"MEDIASRV_{k.upper()}": v for k, v in env.items()},
        }
        self.logs = data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._worker_starts = 0
        self.extra: list[subprocess.Popen[bytes]] = []  # workers of other "machines"

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # Own session: the worker and its pool children (and their ffmpeg) can be killed as a group.
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [str(BIN / "mediasrv"), *args],
                env=env or self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def start(self) -> Stack:
        settings = Settings(data_dir=self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(self.env.get("MEDIASRV_DATABASE_URL") or settings.resolved_database_url)
        migrations.upgrade(db)  # as `mediasrv db upgrade` does before a deployment starts
        with db.session_scope() as s:
            actor = Caller(role=Role.ADMIN, name="e2e setup", via="cli")
            unit = service.create_org_unit(s, actor=actor, name="县电教中心")
            _, token = service.create_service_account(
                s, actor=actor, name="e2e-producer", role=Role.PRODUCER, org_unit_id=unit.id
            )
            _, admin_token = service.create_service_account(s, actor=actor, name="e2e-admin", role=Role.ADMIN)
        db.dispose()
        self.unit_id = unit.id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.token = token
        self.server = self._spawn("server", "serve", "--port", str(self.port))
        self.start_worker()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.server.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"mediasrv serve did not come up:\n{self.log_tail('server')}")

    def person(self, username: str, role: Role, password: str, display_name: str = "") -> None:
        """A person's account with a password (producers join the stack's department)."""
        db = Database(
            self.env.get("MEDIASRV_DATABASE_URL") or Settings(data_dir=self.data_dir).resolved_database_url
        )
        with db.session_scope() as s:
            service.create_user(
                s,
                actor=Caller(role=Role.ADMIN, name="e2e setup", via="cli"),
                username=username,
                display_name=display_name or username,
                role=role,
                org_unit_id=self.unit_id if role is Role.PRODUCER else None,
                password=password,
            )
        db.dispose()

    def start_worker(self) -> None:
        self._worker_starts += 1
        self.worker = self._spawn(
            f"worker{self._worker_starts}", "worker", "--queues", self.queues, "--concurrency", "2"
        )

    def machine(self, name: str, *, queues: str = "transcode") -> subprocess.Popen[bytes]:
        """One more worker as if on another machine: its own data directory, sharing only the
        database, object storage and broker (so only on a tier where those are servers)."""
        assert "MEDIASRV_DATABASE_URL" in self.env, "another machine needs a database server"
        env = {**self.env, "MEDIASRV_DATA_DIR": str(self.data_dir.parent / name)}
        proc = self._spawn(name, "worker", "--queues", queues, "--concurrency", "1", "--no-beat", env=env)
        self.extra.append(proc)
        return proc

    def replica(self, name: str) -> str:
        """One more API process, as on another machine: its own data directory, sharing only what the
        settings name (database, object storage, broker, secret key); its URL once it answers."""
        port = free_port()
        env = {**self.env, "MEDIASRV_DATA_DIR": str(self.data_dir.parent / name)}
        proc = self._spawn(name, "serve", "--port", str(port), env=env)
        self.extra.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"mediasrv serve ({name}) did not come up:\n{self.log_tail(name)}")

    def kill_worker(self) -> None:
        """SIGKILL the whole worker: main process, pool children and their ffmpeg."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def stop(self) -> None:
        procs = (*self.extra, self.worker, self.server)
        for proc in procs:
            if proc is not None and proc.poll() is None:
                # The main process only: it stops its own pool. A SIGTERM to the whole group kills
                # the pool children under it, and the worker spends 15 s replacing and reaping them.
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)

    def log_tail(self, name: str, n: int = 4000) -> str:
        text = "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(f"{name}*.log")))
        return text[-n:]

    def upload(self, path: Path, **data: str) -> dict[str, Any]:
        with path.open("rb") as f:
            r = httpx.post(
                self.url + "/api/v1/assets",
                headers=self.headers,
                files={"file": (path.name, f)},
                data=data,
                timeout=120,
            )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def api(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        """The JSON of a successful /api/v1 call (as the administrator unless `headers` say otherwise)."""
        r = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers or self.admin, timeout=30, **kw)
        assert r.is_success, r.text
        return r.json()

    def asset(self, asset_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/api/v1/assets/{asset_id}", headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def publish(self, asset_id: str, title: str, category: str) -> str:
        """A producer drafts a programme around a ready asset and the admin publishes it; its id."""
        body = {"title": title, "category": category, "asset_id": asset_id}
        r = httpx.post(f"{self.url}/api/v1/programmes", headers=self.headers, json=body, timeout=30)
        assert r.status_code == 201, r.text
        programme_id: str = r.json()["id"]
        published = httpx.post(
            f"{self.url}/api/v1/programmes/{programme_id}/publish", headers=self.admin, timeout=30
        )
        assert published.status_code == 200, published.text
        return programme_id

    def play(self, asset: dict[str, Any]) -> dict[str, str]:
        """Absolute signed playback links, as a set-top box would get them: no headers needed."""
        r = httpx.get(f"{self.url}/api/v1/assets/{asset['id']}/playback", headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return {k: self.url + v for k, v in r.json().items() if isinstance(v, str) and v.startswith("/")}

    def wait(
        self,
        asset_id: str,
        *,
        until: tuple[str, ...] = ("ready", "failed"),
        timeout: float = 240,
        min_progress: float = 0.0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            asset = self.asset(asset_id)
            if asset["status"] in until and asset["progress"] >= min_progress:
                return asset
            time.sleep(0.3)
        raise AssertionError(
            f"asset {asset_id} stuck at {asset['status']} {asset['progress']}%\n"
            f"--- worker log ---\n{self.log_tail('worker')}"
        )


def ffprobe_url(url: str) -> list[dict[str, Any]]:
    """What a real HLS client finds behind a served playlist: every stream of every variant."""
    r = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,profile,width,height,r_frame_rate,sample_rate,channels",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    streams: list[dict[str, Any]] = json.loads(r.stdout)["streams"]
    return streams


def interlaced_frames(url: str, frames: int = 10) -> int:
    """How many of the first decoded frames behind a playlist are flagged interlaced."""
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", f"%+#{frames}",
         "-show_entries", "frame=interlaced_frame", "-of", "json", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    decoded = json.loads(r.stdout)["frames"]
    assert len(decoded) >= frames // 2, r.stdout
    return sum(int(f["interlaced_frame"]) for f in decoded)
