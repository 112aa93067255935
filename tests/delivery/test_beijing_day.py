"""The day is Beijing's, whatever the server's zone: on a UTC server at 23:30 UTC it is already
07:30 the next morning in Beijing, and a box must get that day's required list (date.today() gave it
yesterday's from 00:00 to 08:00 Beijing time). Time is moved through
mediasrv.protocol.china, the one clock."""

from __future__ import annotations

import json
import os
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol import china
from mediasrv.protocol.document import BUNDLE_MANIFEST
from tests.fixtures import ReadyAsset, make_token, publish_programme


@pytest.fixture
def utc_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[date]:
    """This process on a UTC clock at 23:30 UTC of today's UTC date; yields that (UTC) date."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    clock.tzset()
    today_utc = datetime.now(UTC).date()
    late = datetime.combine(today_utc, time(23, 30), UTC)
    monkeypatch.setattr(china, "utc_now", lambda: late)
    try:
        yield today_utc
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        clock.tzset()


def required_lists(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    utc_day: date,
) -> tuple[str, str]:
    """A required programme for the UTC day and another for the Beijing day after it."""
    ids = []
    for day, title in ((utc_day, "昨天的必学"), (utc_day + timedelta(days=1), "今天的必学")):
        pid = publish_programme(client, producer, admin, ready_asset(producer, "video"), title=title)
        period = {"starts_on": day.isoformat(), "ends_on": day.isoformat()}
        study = {"title": title, **period, "programme_ids": [pid]}
        r = client.post("/api/v1/study-lists", headers=admin, json=study)
        assert r.status_code == 201, r.text
        assert client.post(f"/api/v1/study-lists/{r.json()['id']}/publish", headers=admin).status_code == 200
        ids.append(pid)
    return ids[0], ids[1]


def test_a_box_gets_the_beijing_days_list_at_2330_utc(
    utc_server: date,
    client: TestClient,
    db: Database,
    settings: Settings,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    tmp_path: Path,
) -> None:
    yesterday, today = required_lists(client, producer, admin, ready_asset, utc_server)
    beijing_day = (utc_server + timedelta(days=1)).isoformat()
    assert date.today() == utc_server and china.today_in_china().isoformat() == beijing_day
    box = make_token(db, Role.SITE, "box")
    site_id = next(s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == "box")

    playlist = client.get(f"/api/v1/sites/{site_id}/playlist", headers=box).json()
    assert playlist["on"] == beijing_day
    assert [i["programme_id"] for i in playlist["items"] if i["required"]] == [today]

    first = client.get(f"/api/v1/sites/{site_id}/playlist.m3u8", headers=box).text.splitlines()[1]
    assert 'group-title="必学"' in first and first.endswith(",今天的必学")

    required = client.get(f"/api/v1/sites/{site_id}/required", headers=box).json()
    assert required["on"] == beijing_day and [p["id"] for p in required["programmes"]] == [today]

    manifest = client.get(f"/api/v1/sites/{site_id}/manifest", headers=box)
    assert [p["id"] for p in manifest.json()["programmes"] if p["required"]] == [today]
    # The poll answered from memory (delivery/polls.py) knows the same day: unchanged, 304.
    poll = {**box, "If-None-Match": manifest.headers["etag"]}
    assert client.get(f"/api/v1/sites/{site_id}/manifest", headers=poll).status_code == 304

    # An offline bundle for a USB disk, made by the command line, holds the same day's list.
    bundle = tmp_path / "usb"
    env = {"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    r = CliRunner().invoke(cli, ["site-bundle", "export", str(bundle), "--site", "box"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads((bundle / BUNDLE_MANIFEST).read_bytes())
    assert [p["id"] for p in doc["programmes"] if p["required"]] == [today]
    assert yesterday in {p["id"] for p in doc["programmes"]}  # still there, as an optional programme
