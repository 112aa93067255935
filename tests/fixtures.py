"""Shared fixtures: a fresh data directory, app and database per test; tokens for each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mediasrv.app import create_app
from mediasrv.auth import Role, create_token
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest import pipeline
from mediasrv.storage import ObjectStore


@dataclass
class RecordingDispatcher:
    """Collects what would be sent to the broker; unit tests run the task bodies themselves."""

    sent: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def send(self, task: str, *args: str) -> None:
        self.sent.append((task, args))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", max_upload_bytes=50 * 1024 * 1024, transcode_stall_seconds=60)


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def app(settings: Settings, dispatcher: RecordingDispatcher) -> FastAPI:
    return create_app(settings, dispatcher=dispatcher)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(client: TestClient) -> Database:
    database: Database = client.app.state.db  # type: ignore[attr-defined]
    return database


@pytest.fixture
def store(client: TestClient) -> ObjectStore:
    s: ObjectStore = client.app.state.store  # type: ignore[attr-defined]
    return s


@pytest.fixture
def ctx(db: Database, store: ObjectStore, settings: Settings) -> pipeline.Context:
    return pipeline.Context(db=db, store=store, settings=settings, worker_id="test-worker")


def make_token(db: Database, role: Role, name: str | None = None) -> dict[str, str]:
    with db.session_scope() as session:
        _, plain = create_token(session, name=name or f"test {role.value}", role=role)
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def producer(db: Database) -> dict[str, str]:
    return make_token(db, Role.PRODUCER, "county centre")


@pytest.fixture
def other_producer(db: Database) -> dict[str, str]:
    return make_token(db, Role.PRODUCER, "partner department")


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    return make_token(db, Role.ADMIN)


@pytest.fixture
def site(db: Database) -> dict[str, str]:
    return make_token(db, Role.SITE)
