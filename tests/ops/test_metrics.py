"""Prometheus /metrics: the process's counters (mediasrv.ops.metrics) and the scrape-time collector
(mediasrv.ops.scrape: assets, transcode durations, queue depths, sites)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.jobs import TRANSCODE, CeleryDispatcher
from mediasrv.kit.caller import Role
from tests.delivery.test_channel_list import site_id_of
from tests.fixtures import ReadyAsset, RecordingDispatcher, make_token, migrated
from tests.servers import free_port
from tests.test_access import endpoints


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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
    site_id = site_id_of(client, admin, "xitang-village")
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
    settings = Settings(data_dir=migrated(tmp_path / "var"), broker_url=f"redis://127.0.0.1:{free_port()}/0")
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
