"""The tiers end-to-end tests run on: the embedded default (SQLite, local objects, the SQLite broker)
and the production kind (PostgreSQL, Redis and an S3 server, started here from packages)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Tier:
    name: str
    env: dict[str, str] = field(default_factory=dict)  # Stack keyword settings (MEDIASRV_*)


EMBEDDED = Tier("embedded")


def production(request: pytest.FixtureRequest, *, storage: bool = True) -> Tier:
    """A fresh PostgreSQL database, Redis database index and (with `storage`) S3 bucket."""
    postgres = request.getfixturevalue("postgres_server")
    redis = request.getfixturevalue("redis_server")
    env = {"database_url": postgres.create_database(), "broker_url": redis.fresh_url()}
    if storage:
        env["storage_url"] = request.getfixturevalue("s3_server").url(f"tier-{uuid.uuid4().hex[:10]}")
    return Tier("production", env)


@pytest.fixture(scope="module", params=["embedded", "production"])
def tier(request: pytest.FixtureRequest) -> Tier:
    """Run a module's end-to-end tests once per tier."""
    return EMBEDDED if request.param == "embedded" else production(request)
