"""Operations: /readyz, request ids, JSON logs, Prometheus /metrics."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from mediasrv.accounts.signing import sign_playback
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.jobs import TRANSCODE, CeleryDispatcher
from mediasrv.kit.caller import Caller, Role
from mediasrv.observability import configure_logging, loggable_path
from tests.fixtures import ReadyAsset, RecordingDispatcher, make_token, migrated
from tests.test_access import endpoints

LogReader = Callable[[], list[dict[str, Any]]]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _site_id(client: TestClient, admin: dict[str, str], code: str) -> int:
    sites = client.get("/api/v1/sites", headers=admin).json()
    return int(next(s["id"] for s in sites if s["code"] == code))


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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
        broker_url=f"redis://127.0.0.1:{_closed_port()}/0",  # nothing listens there
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


def test_request_id_is_echoed_when_sane_and_generated_otherwise(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-42.a_b"}).headers["x-request-id"] == "lb-42.a_b"
    )
    ids = [
        client.get("/healthz", headers=h).headers["x-request-id"]
        for h in ({}, {}, {"X-Request-ID": "x" * 65}, {"X-Request-ID": b"caf\xe9 au lait"})
    ]
    assert len(set(ids)) == 4 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    # Refusals carry it too: that is when people quote it.
    assert client.get("/api/v1/audit").headers["x-request-id"]


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[LogReader]:
    """configure_logging(json=True) as `mediasrv serve` does; yields a reader of the lines so far."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(json=True)
    try:

        def read() -> list[dict[str, Any]]:
            return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]

        yield read
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_json_access_log_has_the_request_id_and_no_credentials(
    client: TestClient, admin: dict[str, str], json_logs: LogReader
) -> None:
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    viewer = Caller(role=Role.SITE, name="box", via="signed", site_id=1)
    signature = sign_playback(key, caller=viewer, asset_id="0" * 32, expires=int(time.time()) + 60)
    signed = client.get(f"/s/{signature}/hls/{'0' * 32}/iptv.m3u8", headers={"X-Request-ID": "req-1"})
    audit = client.get("/api/v1/audit", headers=admin)

    lines = json_logs()
    access = {line["request_id"]: line for line in lines if line["logger"] == "mediasrv.access"}
    first, second = access["req-1"], access[audit.headers["x-request-id"]]
    assert first["path"] == f"/s/…/hls/{'0' * 32}/iptv.m3u8" and first["status"] == signed.status_code
    assert first["route"] == "/s/{signature}/hls/{asset_id}/{presentation}.m3u8"
    assert second["method"] == "GET" and second["status"] == 200 and second["duration_ms"] >= 0
    assert second["time"].endswith("Z") and second["level"] == "INFO"
    ours = "\n".join(json.dumps(line) for line in lines if line["logger"].startswith("mediasrv"))
    assert signature not in ours and signature.split(".")[-1] not in ours
    assert admin["Authorization"].split()[1] not in ours and "Bearer" not in ours


def test_unchanged_polls_are_logged_at_debug_only(
    client: TestClient, admin: dict[str, str], site: dict[str, str], json_logs: LogReader
) -> None:
    url = f"/api/v1/sites/{_site_id(client, admin, 'xitang-village')}/manifest"
    etag = client.get(url, headers=site).headers["etag"]
    assert client.get(url, headers={**site, "If-None-Match": etag}).status_code == 304
    statuses = [line["status"] for line in json_logs() if line["logger"] == "mediasrv.access"]
    assert 200 in statuses and 304 not in statuses


def test_loggable_path_hides_only_the_signature() -> None:
    assert loggable_path("/s/site:1.1700000000.abcdef/hls/a/iptv.m3u8") == "/s/…/hls/a/iptv.m3u8"
    assert loggable_path("/api/v1/sites/3/manifest") == "/api/v1/sites/3/manifest"


# kombu's SQLAlchemy transport (the real broker the test sends to) uses a loader SQLAlchemy 2.1 deprecates.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_metrics_count_uploads_polls_transcodes_queues_and_sites(
    client: TestClient,
    settings: Settings,
    admin: dict[str, str],
    producer: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    created = _counter("mediasrv_uploads_total", outcome="created")
    empty = _counter("mediasrv_uploads_total", outcome="empty_upload")
    polls = {
        result: _counter("mediasrv_manifest_requests_total", document="manifest", result=result)
        for result in ("full", "delta", "not_modified")
    }

    ready_asset(producer)
    r = client.post("/api/v1/assets", headers=producer, files={"file": ("empty.mp4", b"")})
    assert r.status_code == 400
    site_id = _site_id(client, admin, "xitang-village")
    url = f"/api/v1/sites/{site_id}/manifest"
    first = client.get(url, headers=site)
    assert client.get(url, headers={**site, "If-None-Match": first.headers["etag"]}).status_code == 304
    since = {"since": first.headers["x-manifest-version"]}
    assert client.get(url, headers=site, params=since).headers["x-manifest-kind"] == "delta"
    beat = {"manifest_version": None, "bytes_missing": 0, "files_missing": 0, "files_failed": 0}
    r = client.post(f"/api/v1/sites/{site_id}/heartbeat", headers=site, json=beat | {"agent_version": "1"})
    assert r.status_code == 200, r.text
    make_token(client.app.state.db, Role.SITE, "never-seen-village")  # type: ignore[attr-defined]
    CeleryDispatcher(settings.resolved_broker_url).send(TRANSCODE, "0" * 32)  # waits: no worker runs here

    r = client.get("/metrics", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = _samples(r.text)

    def value(name: str, **labels: str) -> float:
        return got[name, frozenset(labels.items())]

    assert value("mediasrv_uploads_total", outcome="created") == created + 1
    assert value("mediasrv_uploads_total", outcome="empty_upload") == empty + 1
    for result in polls:
        assert (
            value("mediasrv_manifest_requests_total", document="manifest", result=result) == polls[result] + 1
        )
    assert value("mediasrv_http_requests_total", method="POST", route="/api/v1/assets", status="201") >= 1
    assert value("mediasrv_assets", status="ready") == 1 and value("mediasrv_assets", status="failed") == 0
    histogram = {"kind": "audio", "outcome": "ready"}
    assert value("mediasrv_transcode_duration_seconds_count", **histogram) == 1
    assert value("mediasrv_transcode_duration_seconds_bucket", **histogram, le="+Inf") == 1
    assert value("mediasrv_transcode_duration_seconds_sum", **histogram) > 0
    assert value("mediasrv_queue_depth", queue="transcode") == 1
    assert value("mediasrv_queue_depth", queue="index") == 0
    assert value("mediasrv_sites", state="online") == 1 and value("mediasrv_sites", state="never") == 1
    assert value("mediasrv_sites_reachable_percent") == 50.0
    assert all(value("mediasrv_scrape_ok", part=p) == 1 for p in ("assets", "queues", "sites"))


def test_a_broken_part_does_not_fail_the_scrape(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=migrated(tmp_path / "var"), broker_url=f"redis://127.0.0.1:{_closed_port()}/0"
    )
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as client:
        admin = make_token(client.app.state.db, Role.ADMIN, "ops")  # type: ignore[attr-defined]
        r = client.get("/metrics", headers=admin)
        assert r.status_code == 200
        got = _samples(r.text)
        assert got["mediasrv_scrape_ok", frozenset({("part", "queues")})] == 0
        assert got["mediasrv_scrape_ok", frozenset({("part", "assets")})] == 1


def test_metrics_are_for_admins_unless_made_public(
    client: TestClient, producer: dict[str, str], site: dict[str, str], tmp_path: Path
) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=producer).status_code == 403
    assert client.get("/metrics", headers=site).status_code == 403

    settings = Settings(data_dir=migrated(tmp_path / "open"), metrics_public=True)
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as open_client:
        assert open_client.get("/metrics").status_code == 200
        access = {e.path: e.access for e in endpoints(open_client)}
        assert access["/metrics"] == ()  # declared public, as the route-walking test sees it
