"""Faults lose nothing: a worker killed outright mid-transcode is replaced and the film still publishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Tier
from tests.e2e.stack import Stack
from tests.mediafactory import hlscheck, make_media

pytestmark = pytest.mark.e2e


def test_worker_killed_mid_transcode_is_recovered(tier: Tier, tmp_path: Path) -> None:
    # Short lease and sweep so that recovery happens within seconds.
    stack = Stack(tmp_path / "var", lease_seconds="4", **tier.env).start()
    try:
        film = make_media(tmp_path / "long.mp4", seconds=40, width=640, height=360)
        asset_id = stack.upload(film)["id"]
        during = stack.wait(asset_id, until=("processing",), min_progress=10)
        assert during["attempts"] == 1
        stack.kill_worker()  # main process, pool children and ffmpeg, all at once: the message is lost too
        assert stack.asset(asset_id)["status"] == "processing"
        stack.start_worker()
        asset = stack.wait(asset_id, timeout=300)
        assert asset["status"] == "ready", asset["error"]
        assert asset["attempts"] == 2
        hlscheck(stack.play(asset)["master"])
        hlscheck(stack.play(asset)["iptv"])
    finally:
        stack.stop()
