"""Request ids, JSON access log lines and what they leave out (mediasrv.ops.requests, mediasrv.ops.logs)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mediasrv.accounts.signing import sign_playback
from mediasrv.kit.caller import Caller, Role
from mediasrv.ops.logs import configure_logging, loggable_path
from tests.delivery.test_channel_list import site_id_of

LogReader = Callable[[], list[dict[str, Any]]]


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
    signature = sign_playback(
        key, caller=viewer, asset_id="0" * 32, expires=int(time.time()) + 60, generation=0
    )
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
    url = f"/api/v1/sites/{site_id_of(client, admin, 'xitang-village')}/manifest"
    etag = client.get(url, headers=site).headers["etag"]
    assert client.get(url, headers={**site, "If-None-Match": etag}).status_code == 304
    statuses = [line["status"] for line in json_logs() if line["logger"] == "mediasrv.access"]
    assert 200 in statuses and 304 not in statuses


def test_loggable_path_hides_only_the_signature() -> None:
    assert loggable_path("/s/site:1.1700000000.abcdef/hls/a/iptv.m3u8") == "/s/…/hls/a/iptv.m3u8"
    assert loggable_path("/api/v1/sites/3/manifest") == "/api/v1/sites/3/manifest"
