"""/readyz: database, object storage and broker, each "ok" or what is wrong (mediasrv.ops.readiness)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mediasrv.app import create_app
from mediasrv.config import Settings
from tests.fixtures import RecordingDispatcher, migrated
from tests.servers import free_port


def test_readyz_reports_database_storage_and_broker(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "broker": "ok"}}


def test_readyz_names_what_is_down(tmp_path: Path) -> None:
    blocker = tmp_path / "objects"
    blocker.write_text("a file where the object store's directory should be")
    settings = Settings(
        data_dir=migrated(tmp_path / "var"),
        storage_url=f"file://{blocker}",
        broker_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    )
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["storage"] != "ok" and "objects" in body["checks"]["storage"]
        assert body["checks"]["broker"] != "ok"
        assert client.get("/healthz").status_code == 200  # liveness: the process itself is fine
