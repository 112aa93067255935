"""Shared fixtures: a fresh data directory, app and database per test; tokens for each role."""

from __future__ import annotations

import functools
import itertools
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from mediasrv import migrations
from mediasrv.accounts import service
from mediasrv.accounts.models import OrgUnit
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.jobs import INDEX
from mediasrv.kit.caller import Caller, Role
from mediasrv.search import indexing
from mediasrv.sites.registry import create_site
from mediasrv.storage import ObjectStore
from tests.mediafactory import make_media
from workers import pipeline


@dataclass
class RecordingDispatcher:
    """Collects what would be sent to the broker; unit tests run transcode bodies themselves.

    With `app` set, index jobs run at once against that app's database and index, as the index
    worker would; set it to None to let the index lag behind the catalog.
    """

    sent: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    app: FastAPI | None = None

    def send(self, task: str, *args: str) -> None:
        self.sent.append((task, args))
        if task == INDEX and self.app is not None:
            indexing.sync(self.app.state.db, self.app.state.search, args)


@functools.cache
def _migrated_sqlite() -> bytes:
    """A SQLite database the migrations made, once per test run (copied: faster than migrating)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mediasrv.db"
        db = Database(f"sqlite:///{path}")
        migrations.upgrade(db)
        db.dispose()  # closing the last connection checkpoints the WAL into the file
        return path.read_bytes()


def migrated(data_dir: Path) -> Path:
    """`data_dir` with a database at the current revision, as `mediasrv db upgrade` leaves it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "mediasrv.db").write_bytes(_migrated_sqlite())
    return data_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=migrated(tmp_path / "var"), max_upload_bytes=50 * 1024 * 1024, transcode_stall_seconds=60
    )


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def app(settings: Settings, dispatcher: RecordingDispatcher) -> FastAPI:
    return create_app(settings, dispatcher=dispatcher)


@pytest.fixture
def client(app: FastAPI, dispatcher: RecordingDispatcher) -> Iterator[TestClient]:
    with TestClient(app) as c:
        dispatcher.app = app
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


ACTOR = Caller(role=Role.ADMIN, name="test setup", via="cli")


def make_token(
    db: Database, role: Role, name: str | None = None, *, org_unit: str = "县电教中心"
) -> dict[str, str]:
    """Headers of a new account (or site) with `role`; producers belong to `org_unit`."""
    name = name or f"{role.value}-{uuid.uuid4().hex[:8]}"
    with db.session_scope() as session:
        if role is Role.SITE:
            site = create_site(session, actor=ACTOR, code=name, name=name, region="河北省/邢台市")
            _, plain = service.create_token(session, actor=ACTOR, name=name, site_id=site.id)
        else:
            unit_id = None
            if role is Role.PRODUCER:
                unit = session.scalar(select(OrgUnit).where(OrgUnit.name == org_unit))
                unit_id = (unit or service.create_org_unit(session, actor=ACTOR, name=org_unit)).id
            _, plain = service.create_service_account(
                session, actor=ACTOR, name=name, role=role, org_unit_id=unit_id
            )
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def producer(db: Database) -> dict[str, str]:
    return make_token(db, Role.PRODUCER, "county-centre")


@pytest.fixture
def colleague(db: Database) -> dict[str, str]:
    """Another producer of the same department."""
    return make_token(db, Role.PRODUCER, "county-colleague")


@pytest.fixture
def other_producer(db: Database) -> dict[str, str]:
    return make_token(db, Role.PRODUCER, "partner-department", org_unit="合作部门")


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    return make_token(db, Role.ADMIN, "org-admin")


@pytest.fixture
def site(db: Database) -> dict[str, str]:
    return make_token(db, Role.SITE, "xitang-village")


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


def publish_programme(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], asset: str, **fields: object
) -> str:
    """A producer drafts a programme around a ready asset and an administrator publishes it; its id."""
    body = {"title": "党员教育", "category": "party-spirit", "asset_id": asset, **fields}
    r = client.post("/api/v1/programmes", headers=producer, json=body)
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    assert client.post(f"/api/v1/programmes/{pid}/publish", headers=admin).status_code == 200
    return pid


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements `app`'s database runs inside the block (a path that should cost none)."""
    engine = app.state.db.engine
    said: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        said.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield said
    finally:
        event.remove(engine, "before_cursor_execute", count)
