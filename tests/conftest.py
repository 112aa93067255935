"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3server import S3Server, S3ServerError

pytest_plugins = ["tests.fixtures"]

# --- S3 server ---


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One `weed mini` for the session; tests use a fresh bucket each. Skips loudly if weed cannot run."""
    server = S3Server(tmp_path_factory.mktemp("s3server"))
    try:
        server.start()
    except S3ServerError as exc:
        pytest.skip(f"!!! S3 SERVER COULD NOT START - every s3 test is skipped !!!\n{exc}")
    try:
        yield server
    finally:
        server.stop()
