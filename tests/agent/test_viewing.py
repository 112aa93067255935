"""Viewing evidence on the site: the LAN origin counts the segments it serves to each player (once
per player and segment, Range pieces and replays included; playlists, HEAD and other files not),
queues them, and the sync run delivers them, keeping them while the line is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.agent.layout import Layout
from mediasrv.agent.outbox import send
from mediasrv.agent.serve import create_app
from mediasrv.agent.viewing import ViewingSender, pending, queue_path, viewing_outbox
from mediasrv.db import Database
from mediasrv.protocol.viewing import media_segments
from tests.agent.test_serve import ServedSite, make_site, mirror
from tests.e2e.stack import free_port
from tests.fixtures import ReadyAsset

TV = {"User-Agent": "Mozilla/5.0 (Linux; Android 4.4; IPTV STB)"}
PHONE = {"User-Agent": "Mozilla/5.0 (iPhone)"}


@pytest.fixture
def site(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> ServedSite:
    return make_site(client, db, producer, admin, ready_asset)


@pytest.fixture
def layout(client: TestClient, site: ServedSite, tmp_path: Path) -> Layout:
    cache = Layout(tmp_path / "mediasrv-site")
    mirror(client, site, cache)
    return cache


@pytest.fixture
def local(layout: Layout) -> Iterator[LocalClient]:
    with LocalClient(create_app(layout), base_url="http://192.168.1.20:8080") as c:
        yield c


def play(
    local: LocalClient, site: ServedSite, programme: str, headers: dict[str, str]
) -> list[tuple[str, float]]:
    """A box plays a programme from the channel list: master, media playlist, every segment."""
    entry = next(p for p in local.get("/playlist.json").json()["programmes"] if p["id"] == programme)
    master = local.get(entry["url"], headers=headers)
    media_uri = next(line for line in master.text.splitlines() if line.endswith(".m3u8"))
    media_url = f"{entry['url'].rsplit('/', 1)[0]}/{media_uri}"
    segments = media_segments(local.get(media_url, headers=headers).text)
    base = media_url.rsplit("/", 1)[0]
    for uri, _ in segments:
        assert local.get(f"{base}/{uri}", headers=headers).status_code == 200
    return [(f"{base}/{uri}", seconds) for uri, seconds in segments]


def queued(layout: Layout) -> list[dict[str, Any]]:
    if not queue_path(layout).exists():
        return []
    return [json.loads(line) for line in queue_path(layout).read_text().splitlines()]


def test_segments_served_to_players_are_counted_once(
    local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    segments = play(local, site, site.required, TV)
    assert segments
    events = queued(layout)
    assert [(e["programme_id"], e["segment"], e["seconds"]) for e in events] == [
        (site.required, n, seconds) for n, (_, seconds) in enumerate(segments)
    ]
    tv = events[0]["player"]
    assert len(tv) == 16 and "192.168" not in json.dumps(events)  # no address in clear

    # Range pieces of a segment, a replay, HEAD, playlists, the poster and the handout add nothing.
    first = segments[0][0]
    assert local.get(first, headers={**TV, "Range": "bytes=0-187"}).status_code == 206
    assert local.get(first, headers={**TV, "Range": "bytes=188-"}).status_code == 206
    play(local, site, site.required, TV)
    assert local.head(first, headers=TV).status_code == 200
    for path in (p["path"] for p in site.files if p["path"].endswith((".jpg", ".pdf"))):
        assert local.get(f"/files/{path}", headers=TV).status_code == 200
    assert len(queued(layout)) == len(segments)

    # Another box is another player.
    play(local, site, site.required, PHONE)
    players = {e["player"] for e in queued(layout)}
    assert len(players) == 2 and tv in players


def test_delivered_evidence_reaches_the_sites_compliance(
    client: TestClient, admin: dict[str, str], local: LocalClient, layout: Layout, site: ServedSite
) -> None:
    segments = play(local, site, site.required, TV)
    play(local, site, site.optional, PHONE)
    play(local, site, site.required, PHONE)

    # The line is down: everything stays, in the outbox.
    down = httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", headers=site.headers)
    result = ViewingSender(layout, down, site.id).deliver()
    assert (result.sent, result.queued) == (0, 3) and result.error and "unreachable" in result.error
    assert viewing_outbox(layout).pending() and not queue_path(layout).exists()
    # Meanwhile the boxes go on playing: the next run sends both.
    assert local.get(segments[0][0], headers={"User-Agent": "VLC/3.0"}).status_code == 200

    client.headers.update(site.headers)
    result = ViewingSender(layout, client, site.id).deliver()
    assert (result.sent, result.queued, result.error) == (4, 0, None)
    assert pending(layout) == {} and viewing_outbox(layout).all() == []

    rows = client.get(f"/api/v1/sites/{site.id}/viewing", headers=admin).json()
    by = {(r["programme_id"], r["source"]): r for r in rows}
    seconds = sum(s for _, s in segments)
    assert by[(site.required, "agent")]["players"] == 3
    assert by[(site.required, "agent")]["minutes"] == round(seconds / 60, 1)
    assert by[(site.optional, "agent")]["players"] == 1

    got = client.get(f"/api/v1/sites/{site.id}/compliance", headers=admin).json()
    [p] = [p for lst in got["lists"] for p in lst["programmes"] if p["programme_id"] == site.required]
    assert (
        p["agent_minutes"] == round(min(seconds / 60, p["duration_minutes"]), 1) and p["central_minutes"] == 0
    )
    assert p["state"] == "not"  # the logbook says nothing: both are shown, neither replaces the other


@pytest.mark.parametrize(
    ("answer", "outcome", "says"),
    [
        (httpx.Response(200, json={"accepted": 1}), "delivered", None),
        (httpx.Response(201, json={"id": "x"}), "delivered", None),
        (
            httpx.Response(302, headers={"Location": "https://central/x"}),
            "wait",
            "302 redirect to https://central/x",
        ),
        (httpx.Response(301), "wait", "no Location"),
        (httpx.Response(200, html="<html><title>Portal</title></html>"), "wait", "HTML page: 'Portal'"),
        (httpx.Response(404, html="<html><body>Not Found</body></html>"), "wait", "404 an HTML page"),
        (httpx.Response(404, json={"detail": "Not Found"}), "wait", "not an answer of the mediasrv API"),
        (httpx.Response(404, json={"error": "not_found", "message": "No site 7."}), "refused", None),
        (httpx.Response(422, json={"error": "invalid", "message": "bad"}), "refused", None),
        (httpx.Response(500, text="Internal Server Error"), "wait-this", "500 Internal Server Error"),
        (httpx.Response(502, html="<html>Bad Gateway</html>"), "wait", "502 an HTML page"),
        (httpx.Response(429, json={"error": "slow_down", "message": "Too many."}), "wait", "429 Too many."),
        (httpx.Response(401, json={"error": "unauthorized", "message": "Token revoked."}), "wait", "401"),
    ],
)
def test_only_a_mediasrv_2xx_delivers_and_only_its_4xx_refuses(
    answer: httpx.Response, outcome: str, says: str | None
) -> None:
    client = httpx.Client(base_url="http://central", transport=httpx.MockTransport(lambda _: answer))
    got = send(client, "POST", "/api/v1/sites/7/viewing", json={})
    if outcome == "delivered":
        assert got.delivered and not got.refused and got.wait is None
    elif outcome == "refused":
        assert got.refused and not got.delivered and got.wait is None
    else:
        assert got.wait is not None and not got.delivered and not got.refused
        assert says is not None and says in got.wait and "<" not in got.wait, got.wait
        assert got.everything is (outcome == "wait")  # a 500 is this request's own: the others may go on
