from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mediasrv.kit.errors import MediaProcessingError
from mediasrv.media.plan import GLOBAL_ARGS
from mediasrv.media.runner import TranscodeFailed, TranscodeStalled, run_ffmpeg
from tests.mediafactory import make_media

FFMPEG = ["ffmpeg", *GLOBAL_ARGS]


class SoftTimeLimit(BaseException):
    """Stands in for Celery's SoftTimeLimitExceeded, raised inside the progress callback."""


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every process run_ffmpeg starts, to check none is left running."""
    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def spy(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", spy)
    return started


def assert_reaped(children: list[subprocess.Popen[bytes]]) -> None:
    assert children
    for proc in children:
        assert proc.returncode is not None  # killed and waited for: no zombie, no orphan


def endless(tmp_path: Path) -> list[str]:
    # A real-time (-re) endless source: ffmpeg reports progress until it is stopped.
    return [*FFMPEG, "-re", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-f", "null", "-"]


def test_progress_increases_to_100(tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    src = make_media(tmp_path / "in.mp4", seconds=3, width=160, height=120)
    seen: list[float] = []
    # -re paces reading so several progress blocks arrive
    args = [
        *FFMPEG,
        "-re",
        "-i",
        str(src),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "mpegts",
        str(tmp_path / "out.ts"),
    ]
    run_ffmpeg(args, duration=3.0, on_progress=seen.append)
    assert len(seen) >= 3
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert 0 <= seen[0] < 100 and seen[-1] == 100.0
    assert (tmp_path / "out.ts").stat().st_size > 0
    assert_reaped(children)


def test_failure_carries_stderr(tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    with pytest.raises(TranscodeFailed) as err:
        run_ffmpeg([*FFMPEG, "-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"], duration=1.0)
    assert isinstance(err.value, MediaProcessingError) and err.value.status_code == 422
    assert err.value.returncode != 0
    assert "No such file or directory" in err.value.stderr_tail
    assert "No such file or directory" in err.value.message
    assert_reaped(children)


def test_stall_kills_ffmpeg(tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    fifo = tmp_path / "never.fifo"
    os.mkfifo(fifo)  # no writer ever comes: ffmpeg blocks opening its input and reports nothing
    with pytest.raises(TranscodeStalled, match="no progress for 1 s"):
        run_ffmpeg(
            [*FFMPEG, "-f", "mpegts", "-i", str(fifo), "-f", "null", "-"], duration=10.0, stall_timeout=1
        )
    assert_reaped(children)


def test_exception_from_on_progress_kills_ffmpeg(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    def cancel(percent: float) -> None:
        raise RuntimeError("job cancelled")

    with pytest.raises(RuntimeError, match="job cancelled"):
        run_ffmpeg(endless(tmp_path), duration=60.0, on_progress=cancel)
    assert_reaped(children)


def test_soft_time_limit_kills_ffmpeg(tmp_path: Path, children: list[subprocess.Popen[bytes]]) -> None:
    calls: list[float] = []

    def limit(percent: float) -> None:
        calls.append(percent)
        if len(calls) == 2:
            raise SoftTimeLimit

    with pytest.raises(SoftTimeLimit):
        run_ffmpeg(endless(tmp_path), duration=60.0, on_progress=limit)
    assert_reaped(children)
