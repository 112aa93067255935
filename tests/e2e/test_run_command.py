"""`mediasrv run`: API and worker together on the embedded defaults, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import BIN, free_port
from tests.mediafactory import make_media

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def test_run_serves_processes_and_stops_its_worker(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MEDIASRV_DATA_DIR": str(tmp_path / "var"),
        "MEDIASRV_PORT": str(port),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # not the user's own config folder
    }
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen([str(BIN / "mediasrv"), "run"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token_file = tmp_path / "var" / "cli-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        workers = children_of(proc.pid)
        assert workers, "no worker process started"
        film = make_media(tmp_path / "film.mp4", seconds=2)
        r = subprocess.run(
            [str(BIN / "mediasrv"), "upload", str(film), "--server", url, "--category", "党史教育"],
            env={k: v for k, v in env.items() if k != "MEDIASRV_DATA_DIR"},  # the config folder's token
            cwd=tmp_path / "config",  # another folder than the data directory's
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert r.returncode == 0, r.stderr + (tmp_path / "run.log").read_text()
        assert "生成节目草稿" in r.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    for pid in workers:  # the worker went down with the server
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "Warm shutdown" in (tmp_path / "run.log").read_text()
