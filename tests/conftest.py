"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.s3server import S3Server, S3ServerError
from tests.servers import PostgresServer, RedisServer, ServerError

pytest_plugins = ["tests.fixtures"]


def _unavailable(what: str, tests: str, reason: BaseException) -> NoReturn:
    """Skip loudly, but fail under CI: `make test` installs the servers, so CI must never go green
    by skipping the integration tier."""
    if os.environ.get("CI") == "true":
        message = f"!!! {what} COULD NOT START - every {tests} test fails (CI=true) !!!\n{reason}"
        pytest.fail(message, pytrace=False)
    pytest.skip(f"!!! {what} COULD NOT START - every {tests} test is skipped !!!\n{reason}")


# --- S3 server ---


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One `weed mini` for the session; tests use a fresh bucket each. Skips loudly if weed cannot run."""
    server = S3Server(tmp_path_factory.mktemp("s3server"))
    try:
        server.start()
    except S3ServerError as exc:
        _unavailable("S3 SERVER", "s3", exc)
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
        _unavailable("POSTGRESQL", "postgresql", exc)
    try:
        server.start()
    except ServerError as exc:
        server.close()
        _unavailable("POSTGRESQL", "postgresql", exc)
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
        _unavailable("REDIS", "redis", exc)
    try:
        yield server
    finally:
        server.stop()
