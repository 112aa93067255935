"""Catalog fixtures: ready media made quickly (tiny audio or video run through the real pipeline)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediasrv.ingest import pipeline
from tests.mediafactory import make_media

ReadyAsset = Callable[..., str]
_lengths = itertools.count()


@pytest.fixture
def ready_asset(client: TestClient, ctx: pipeline.Context, tmp_path: Path) -> ReadyAsset:
    """Upload and process a unique tiny recording (or film, or PDF); returns the asset id."""

    def make(headers: dict[str, str], kind: str = "audio") -> str:
        n = next(_lengths)
        if kind == "pdf":
            path = tmp_path / f"讲义{n}.pdf"
            path.write_bytes(b"%PDF-1.4\n%" + str(n).encode() + b"\ntrailer<<>>\n%%EOF\n")
        else:  # a distinct length gives distinct bytes, so uploads never deduplicate
            suffix = ".m4a" if kind == "audio" else ".mp4"
            path = make_media(tmp_path / f"media{n}{suffix}", seconds=1 + n / 10, width=160, height=90)
        with path.open("rb") as f:
            r = client.post("/api/v1/assets", headers=headers, files={"file": (path.name, f)})
        assert r.status_code == 201, r.text
        asset_id: str = r.json()["id"]
        pipeline.process_asset(ctx, asset_id)
        return asset_id

    return make
