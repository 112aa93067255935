"""The agent's one outbox (mediasrv.agent.outbox) under its three users, heartbeats, viewing evidence
and study records: an agent upgraded with queues of the old layout on disk still delivers them, and
one delivery policy holds for all three (a 500 holds back only what it was about)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mediasrv.agent import viewing
from mediasrv.agent.cli import _run_once
from mediasrv.agent.layout import Layout
from mediasrv.agent.outbox import Item, Outbox, State
from mediasrv.agent.records import Outbox as RecordsOutbox
from mediasrv.agent.reports import Reporter, heartbeats, make_report, queued
from mediasrv.agent.viewing import ViewingSender, pending, viewing_outbox
from mediasrv.db import Database
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import canonical
from mediasrv.protocol.viewing import player_id
from tests.agent.test_records import jpeg
from tests.agent.test_sync import Site, make_agent_site
from tests.fixtures import ReadyAsset, publish_programme

Send = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def site(client: TestClient, db: Database, tmp_path: Path) -> Site:
    return make_agent_site(client, db, tmp_path)


@pytest.fixture
def programme(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> str:
    return publish_programme(client, producer, admin, ready_asset(producer, "audio"), title="党课录音")


def offline(request: httpx.Request, send: Send) -> httpx.Response:
    raise httpx.ConnectError("network unreachable", request=request)


def private(path: Path) -> bool:
    """Nobody but the agent's user may read it (0600 files, 0700 folders)."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_an_agent_upgraded_with_queued_items_delivers_them(
    client: TestClient, site: Site, programme: str, admin: dict[str, str], tmp_path: Path
) -> None:
    """What an agent from before the one outbox left queued, in its files: reports.jsonl (two
    heartbeats), viewing-outbox.jsonl and viewing.jsonl (the serve process's journal: a serve process
    of the old version writes it the same way), and records/ (a session and its photo, whose layout the
    records' outbox kept). The upgraded agent's first run delivers each once; the old files are gone."""
    result = site.sync()
    layout = site.layout
    first, second = make_report(layout, result), make_report(layout, result)
    layout.reports.write_bytes(canonical(first) + b"\n" + canonical(second) + b"\n")

    day = today_in_china().isoformat()
    tv, phone = player_id(site.id, "192.168.1.31", "IPTV STB"), player_id(site.id, "192.168.1.32", "Phone")
    old_outbox = {"programme_id": programme, "day": day, "player": tv, "segments": [[0, 6.0], [1, 6.0]]}
    (layout.root / "viewing-outbox.jsonl").write_text(json.dumps(old_outbox, separators=(",", ":")) + "\n")
    journal = [
        {"day": day, "programme_id": programme, "player": tv, "segment": 2, "seconds": 6.0},
        {"day": day, "programme_id": programme, "player": phone, "segment": 0, "seconds": 6.0},
    ]
    viewing.queue_path(layout).write_text("".join(json.dumps(e) + "\n" for e in journal))

    made = datetime.now(UTC).isoformat()
    session_id, photo_id = "5" * 32, "6" * 32
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    old_records = [
        {
            "kind": "session", "id": session_id, "created_at": made, "state": "pending", "message": None,
            "status": None, "delivered_at": None,
            "body": {"started_at": started, "minutes": 45, "members_present": 8, "notes": "学习党章",
                     "programmes": [{"programme_id": programme}]},
        },
        {
            "kind": "photo", "id": photo_id, "created_at": made, "state": "pending", "message": None,
            "status": None, "delivered_at": None,
            "body": {"session_id": session_id, "filename": "合影.jpg", "content_type": "image/jpeg"},
        },
    ]  # fmt: skip
    (layout.root / "records" / "photos").mkdir(parents=True)
    for r in old_records:
        (layout.root / "records" / f"{r['id']}.json").write_text(json.dumps(r, ensure_ascii=False))
    (layout.root / "records" / "photos" / f"{photo_id}.jpg").write_bytes(jpeg(tmp_path))

    # What `mediasrv-site status` counts before the first run: the old queues as they are.
    assert [r["report_id"] for r in queued(layout)] == [first["report_id"], second["report_id"]]
    assert set(pending(layout)) == {(programme, day, tv), (programme, day, phone)}

    result, delivery, recorded = _run_once(layout, site.agent, verify=False, download=True, attempts=1)
    assert result.error is None
    assert (delivery.sent, delivery.queued, delivery.error) == (3, 0, None)  # both old ones, and this run's
    assert delivery.viewing is not None and (delivery.viewing.sent, delivery.viewing.queued) == (2, 0)
    assert (recorded.sent, recorded.refused, recorded.queued, recorded.error) == (2, 0, 0, None)

    [row] = client.get("/api/v1/fleet/sites", headers=admin).json()["items"]
    assert row["heartbeats_today"] == 3
    [seen] = client.get(f"/api/v1/sites/{site.id}/viewing", headers=admin).json()
    assert (seen["programme_id"], seen["players"], seen["minutes"]) == (programme, 2, 0.3)  # TV: 3 x 6 s
    sessions = client.get(
        f"/api/v1/sites/{site.id}/sessions", headers=admin, params={"month": day[:7]}
    ).json()
    assert [(s["id"], len(s["photos"])) for s in sessions] == [(session_id, 1)]

    for old in (layout.reports, layout.root / "viewing-outbox.jsonl", viewing.queue_path(layout)):
        assert not old.exists(), old
    assert queued(layout) == [] and pending(layout) == {}
    assert {r.state for r in RecordsOutbox(layout).all()} == {State.DELIVERED}  # kept as receipts
    assert not list((layout.root / "records" / "photos").iterdir())


def test_a_report_the_server_fails_on_does_not_hold_back_the_others(site: Site, programme: str) -> None:
    """A 500 is the server failing on that request: the report waits, the newer ones go (the server
    never lets an older report replace a newer one). It used to stop every report behind it."""
    result = site.sync()
    reporter = Reporter(site.layout, site.agent, site.id)
    site.line.handler = offline
    stuck = make_report(site.layout, result)
    assert reporter.deliver(stuck).queued == 1

    def fails_on_stuck(
        request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
    ) -> httpx.Response:
        if stuck["report_id"].encode() in request.content:
            return httpx.Response(500, text="Internal Server Error")
        return send(request)

    site.line.handler = fails_on_stuck
    delivery = reporter.deliver(make_report(site.layout, result))
    assert (delivery.sent, delivery.queued) == (1, 1) and delivery.ack is not None and delivery.ack["counted"]
    assert delivery.error is not None and "500" in delivery.error
    assert [r["report_id"] for r in queued(site.layout)] == [stuck["report_id"]]
    said = json.loads((site.layout.root / "heartbeats-delivery.json").read_bytes())
    assert said["error"] == delivery.error  # each outbox says why its last run stopped

    site.line.handler = None
    assert (reporter.deliver().sent, len(queued(site.layout))) == (1, 0)


def test_a_viewing_batch_the_server_fails_on_does_not_hold_back_the_others(
    site: Site, programme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Views are sent oldest days first, a batch per request; a 500 keeps its batch, the rest go."""
    site.sync()
    monkeypatch.setattr(viewing, "BATCH_VIEWS", 1)  # one view per request: two requests
    today = today_in_china()
    tv = player_id(site.id, "192.168.1.31", "IPTV STB")
    days = [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    viewing.queue_path(site.layout).write_text(
        "".join(
            json.dumps({"day": d, "programme_id": programme, "player": tv, "segment": 0, "seconds": 6.0})
            + "\n"
            for d in days
        )
    )

    def fails_on_yesterday(request: httpx.Request, send: Send) -> httpx.Response:
        if request.url.path.endswith("/viewing") and days[0].encode() in request.content:
            return httpx.Response(500, text="Internal Server Error")
        return send(request)

    site.line.handler = fails_on_yesterday
    sender = ViewingSender(site.layout, site.agent, site.id)
    delivered = sender.deliver(today=today)
    assert (delivered.sent, delivered.queued) == (1, 1) and delivered.error and "500" in delivered.error
    assert [k[1] for k in pending(site.layout)] == [days[0]]

    site.line.handler = None
    assert (sender.deliver(today=today).sent, pending(site.layout)) == (1, {})


def test_outboxes_are_the_agents_users_alone(site: Site, programme: str) -> None:
    """Every outbox's folder, items and status file: 0700 and 0600, as the records' always were."""
    result = site.sync()
    site.line.handler = offline
    tv = player_id(site.id, "192.168.1.31", "IPTV STB")
    line = {"day": today_in_china().isoformat(), "programme_id": programme, "player": tv, "segment": 0}
    viewing.queue_path(site.layout).write_text(json.dumps({**line, "seconds": 6.0}) + "\n")
    Reporter(site.layout, site.agent, site.id).deliver(make_report(site.layout, result))
    ViewingSender(site.layout, site.agent, site.id).deliver()
    for box in (heartbeats(site.layout), viewing_outbox(site.layout)):
        [item] = box.pending()
        assert private(box.root) and private(box.path(item.id)) and private(box.status_file)


def item(n: int, made: datetime, state: State = State.PENDING) -> Item:
    return Item("heartbeat", f"{n:032x}", made.isoformat(), {"n": n}, state)


def test_prune_forgets_by_age_and_keeps_the_newest(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    box = Outbox(Layout(tmp_path / "site"), "heartbeats", keep_days=7)
    old, settled = item(1, now - timedelta(days=8)), item(2, now - timedelta(days=8), State.REFUSED)
    fresh = [item(n, now - timedelta(hours=10 - n)) for n in range(3, 7)]
    for i in (old, settled, *fresh):
        box.save(i)

    assert box.prune(now=now) == 0  # without `pending`, only settled items age out
    assert [i.id for i in box.all()] == [old.id, *(i.id for i in fresh)]
    assert box.prune(now=now, pending=True, keep=2) == 3  # the old one, then the two oldest fresh ones
    assert [i.body["n"] for i in box.pending()] == [5, 6]


def test_an_item_is_kept_once_and_a_newer_agents_fields_survive(tmp_path: Path) -> None:
    box = Outbox(Layout(tmp_path / "site"), "heartbeats")
    made = datetime.now(UTC)
    first = box.add(item(1, made))
    again = box.add(Item("heartbeat", first.id, made.isoformat(), {"n": 2}))
    assert again.body == {"n": 1} and len(box.all()) == 1

    data: dict[str, Any] = {**first.to_json(), "priority": "high"}  # written by a newer agent
    box.path(first.id).write_text(json.dumps(data))
    kept = box.get(first.id)
    assert kept is not None
    box.settle(kept, State.PENDING)
    assert json.loads(box.path(first.id).read_bytes())["priority"] == "high"
