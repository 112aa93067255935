"""Run an ffmpeg command line: report progress, detect stalls, never leave the child behind."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

from mediasrv.kit.errors import MediaProcessingError

STDERR_TAIL = 4096
_EOF = None


class TranscodeStalled(MediaProcessingError):
    """ffmpeg stopped making progress; it was killed."""

    code = "transcode_stalled"


class TranscodeFailed(MediaProcessingError):
    """ffmpeg exited with an error; `stderr_tail` holds its last words."""

    code = "transcode_failed"

    def __init__(self, key: str, /, *, returncode: int, stderr_tail: str, **params: object) -> None:
        super().__init__(key, **params)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


def _pump_lines(stream: IO[bytes], out: queue.Queue[str | None]) -> None:
    try:
        for raw in stream:
            out.put(raw.decode("utf-8", "replace").strip())
    finally:
        out.put(_EOF)


def _keep_tail(stream: IO[bytes], tail: bytearray) -> None:
    # A damaged file can make ffmpeg log for hours; keep only what an error message needs.
    while chunk := os.read(stream.fileno(), 65536):
        tail += chunk
        del tail[:-STDERR_TAIL]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def run_ffmpeg(
    args: list[str],
    *,
    duration: float,
    on_progress: Callable[[float], None] | None = None,
    stall_timeout: float = 120.0,
) -> None:
    """Run `args` (which must include `-progress pipe:1`) to completion.

    on_progress gets a percentage (0..100, never decreasing, 100 once ffmpeg succeeded). Whatever
    ends this function early - a stall, an exception from on_progress, a Celery soft time limit -
    kills ffmpeg before it returns.
    """
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    tail = bytearray()
    readers = [
        threading.Thread(target=_pump_lines, args=(proc.stdout, lines), daemon=True),
        threading.Thread(target=_keep_tail, args=(proc.stderr, tail), daemon=True),
    ]
    for t in readers:
        t.start()
    reported = -1.0
    try:
        block: dict[str, str] = {}
        last_block = time.monotonic()
        while True:
            wait = last_block + stall_timeout - time.monotonic()
            try:
                line = lines.get(timeout=max(wait, 0.0)) if wait > 0 else lines.get_nowait()
            except queue.Empty:
                _kill(proc)
                raise TranscodeStalled("media.transcode_stalled", seconds=f"{stall_timeout:g}") from None
            if line is _EOF:
                break
            key, _, value = line.partition("=")
            block[key] = value
            if key != "progress":
                continue
            last_block = time.monotonic()
            us = block.get("out_time_us", "")
            if on_progress is not None and duration > 0 and us.lstrip("-").isdigit():
                percent = min(100.0, max(0.0, int(us) / 1e6 / duration * 100))
                if percent > reported:
                    reported = percent
                    on_progress(percent)
            block = {}
        try:
            proc.wait(timeout=stall_timeout)
        except subprocess.TimeoutExpired:
            raise TranscodeStalled("media.transcode_no_exit", seconds=f"{stall_timeout:g}") from None
        for t in readers:
            t.join(timeout=5)
        if proc.returncode != 0:
            text = tail.decode("utf-8", "replace").strip()
            last = text.splitlines()[-1] if text else f"exit status {proc.returncode}"
            raise TranscodeFailed(
                "media.transcode_failed", returncode=proc.returncode, stderr_tail=text, detail=last
            )
        if on_progress is not None and reported < 100.0:
            on_progress(100.0)
    finally:
        _kill(proc)
        # Readers see EOF once the child is gone; join them before closing what they read.
        for t in readers:
            t.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()
