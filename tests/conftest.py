"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3server import S3Server, S3ServerError
from tests.servers import PostgresServer, RedisServer, ServerError, unavailable

pytest_plugins = ["tests.fixtures"]

WEB = Path(__file__).parent / "web"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every browser test `web`, by its place, so `-m web` selects the tier (tests/tiers.py)."""
    for item in items:
        if item.path.is_relative_to(WEB):
            item.add_marker(pytest.mark.web)


# --- S3 server ---


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One `weed mini` for the session; tests use a fresh bucket each. Skips loudly if weed cannot run."""
    server = S3Server(tmp_path_factory.mktemp("s3server"))
    try:
        server.start()
    except S3ServerError as exc:
        unavailable("S3 SERVER", "s3", exc)
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL and Redis (Debian's packages) ---


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL for the session; tests take a fresh database each with create_database()."""
    try:
        server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    except ServerError as exc:
        unavailable("POSTGRESQL", "postgresql", exc)
    try:
        server.start()
    except ServerError as exc:
        server.close()
        unavailable("POSTGRESQL", "postgresql", exc)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis for the session; tests take a fresh database index each with fresh_url()."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except ServerError as exc:
        unavailable("REDIS", "redis", exc)
    try:
        yield server
    finally:
        server.stop()
