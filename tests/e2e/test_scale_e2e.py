"""Scale-out: transcode workers on separate machines share one queue, and a film delivered twice (a
broker redelivery) is processed once."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from mediasrv.jobs import TRANSCODE, CeleryDispatcher
from mediasrv.storage import open_store
from tests.e2e.conftest import production
from tests.e2e.stack import Stack
from tests.mediafactory import hlscheck, make_media

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _received(stack: Stack, machine: str) -> int:
    return len(re.findall(rf"Task {re.escape(TRANSCODE)}\[[^\]]+\] received", stack.log_tail(machine, 10**6)))


def test_a_redelivered_film_is_processed_once_by_two_machines(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    tier = production(request)
    # The stack's own worker takes no transcodes: the two "machines" share that queue alone.
    stack = Stack(tmp_path / "var", queues="default,index", **tier.env).start()
    try:
        stack.machine("machine-a")
        stack.machine("machine-b")
        film = make_media(tmp_path / "两台机器.mp4", seconds=20, width=640, height=360)
        asset_id = stack.upload(film)["id"]
        stack.wait(asset_id, until=("processing",), min_progress=5)
        # The broker hands the same job out again (as after a lost acknowledgement). One machine is
        # busy with it (prefetch 1, acks late), so the copy goes to the other one.
        CeleryDispatcher(tier.env["broker_url"]).send(TRANSCODE, asset_id)
        deadline = time.monotonic() + 60
        while _received(stack, "machine-a") + _received(stack, "machine-b") < 2:
            assert time.monotonic() < deadline, stack.log_tail("machine")
            time.sleep(0.3)
        asset = stack.wait(asset_id, timeout=300)
        assert asset["status"] == "ready", asset["error"]
        # Each machine took the job at least once. More receipts are storage retries (a slow object
        # store on a loaded machine: the lease is released and the job comes back, without an attempt).
        assert _received(stack, "machine-a") >= 1 and _received(stack, "machine-b") >= 1, "each took one"
        assert asset["attempts"] == 1, "the copy was refused by the lease, not processed again"
        keys = [o.key for o in open_store(tier.env["storage_url"]).list(f"hls/{asset_id}/")]
        assert len({k.split("/")[2] for k in keys}) == 1, "one generation stored, none half-written"
        hlscheck(stack.play(asset)["master"])
        hlscheck(stack.play(asset)["iptv"])
    finally:
        stack.stop()
