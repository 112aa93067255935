"""The central HLS delivery counts segments served to a site's players (signed links and site
tokens) in memory and writes them in batches as viewing evidence with source 'central'."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol.viewing import media_segments
from mediasrv.study.evidence import CentralCounter
from tests.fixtures import ReadyAsset, make_token, publish_programme

STB = {"User-Agent": "Mozilla/5.0 (Linux; Android 4.4; IPTV STB)"}


def play(client: TestClient, master_url: str, headers: dict[str, str]) -> tuple[str, list[tuple[str, float]]]:
    """What a box does: master playlist, first media playlist; the media playlist's base URL and
    its segments."""
    master = client.get(master_url, headers=headers)
    assert master.status_code == 200, master.text
    media_uri = next(line for line in master.text.splitlines() if line.endswith(".m3u8"))
    media_url = f"{master_url.rsplit('/', 1)[0]}/{media_uri}"
    media = client.get(media_url, headers=headers)
    assert media.status_code == 200
    return media_url.rsplit("/", 1)[0], media_segments(media.text)


def viewing(client: TestClient, admin: dict[str, str], site_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/sites/{site_id}/viewing", headers=admin)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


class Watching(NamedTuple):
    asset: str
    programme: str
    site: dict[str, str]  # the site's token
    site_id: int
    counter: CentralCounter


@pytest.fixture
def watching(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> Watching:
    """A published film, a site with its token, and the API's counter with its background flush
    stopped: each test counts what each flush writes."""
    asset = ready_asset(producer, "video")
    programme = publish_programme(client, producer, admin, asset, title="乡村振兴")
    site = make_token(db, Role.SITE, "xitang")
    site_id = next(
        s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == "xitang"
    )
    counter: CentralCounter = client.app.state.viewing  # type: ignore[attr-defined]
    counter.stop()
    return Watching(asset, programme, site, site_id, counter)


def test_segments_of_signed_links_become_central_evidence(
    client: TestClient, admin: dict[str, str], watching: Watching
) -> None:
    asset, programme, site, site_id, counter = watching

    links = client.get(f"/api/v1/assets/{asset}/playback", headers=site).json()
    base, segments = play(client, links["iptv"], STB)  # no credentials: the signed prefix carries the site
    assert segments
    first = f"{base}/{segments[0][0]}"
    assert client.get(first, headers={**STB, "Range": "bytes=0-187"}).status_code == 206
    for uri, _ in segments:  # the rest of the first segment, then every segment
        assert client.get(f"{base}/{uri}", headers=STB).status_code == 200
    assert client.head(first, headers=STB).status_code == 200  # HEAD is not viewing
    # The site agent's own downloads (its cache) are not viewing.
    media_path = base.split("/hls/", 1)[
        1
    ]  # the same file by the bearer route: /hls/<asset>/<gen>/<rendition>
    agent = {**site, "User-Agent": "mediasrv-site/1.0"}
    assert client.get(f"/hls/{media_path}/{segments[0][0]}", headers=agent).status_code == 200

    assert counter.flush() == len(segments)  # one event per segment: the Range piece is the same one
    [row] = viewing(client, admin, site_id)
    seconds = sum(s for _, s in segments)
    assert (row["programme_id"], row["source"], row["players"]) == (programme, "central", 1)
    assert row["minutes"] == round(seconds / 60, 1)

    # A second box (another User-Agent), by the site's bearer token: a second player, same minutes.
    phone = {**site, "User-Agent": "Mozilla/5.0 (iPhone)"}
    assert client.get(f"/hls/{media_path}/{segments[0][0]}", headers=phone).status_code == 200
    assert counter.flush() == 1
    [row] = viewing(client, admin, site_id)
    assert (row["players"], row["minutes"]) == (2, round(seconds / 60, 1))

    # Segments counted again (another API process, a replay) change nothing.
    for uri, _ in segments:
        assert client.get(f"{base}/{uri}", headers=STB).status_code == 200
    assert counter.flush() == len(segments)  # noted and written again ...
    assert viewing(client, admin, site_id) == [row]  # ... adding nothing


def test_producers_and_unlisted_assets_leave_no_evidence(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    asset = ready_asset(producer, "video")  # no programme shows it
    site = make_token(db, Role.SITE, "xitang")
    counter: CentralCounter = client.app.state.viewing  # type: ignore[attr-defined]
    counter.stop()
    links = client.get(f"/api/v1/assets/{asset}/playback", headers=producer).json()
    base, segments = play(client, links["iptv"], STB)
    assert client.get(f"{base}/{segments[0][0]}", headers=STB).status_code == 200
    # A site cannot play an asset no published programme holds (mediasrv.delivery.scope).
    assert client.get(f"/api/v1/assets/{asset}/playback", headers=site).status_code == 404
    assert client.get(f"/hls/{asset}/iptv.m3u8", headers=site).status_code == 404
    assert counter.flush() == 0  # the producer's request is not a site's viewing
    site_id = next(
        s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == "xitang"
    )
    assert viewing(client, admin, site_id) == []


def test_edge_cache_hits_count_through_the_access_check(
    client: TestClient, admin: dict[str, str], watching: Watching
) -> None:
    """Behind nginx a cached segment never reaches /hls: the auth_request (edge.hls_access) counts it."""
    asset, programme, site, site_id, counter = watching
    links = client.get(f"/api/v1/assets/{asset}/playback", headers=site).json()
    base, segments = play(client, links["iptv"], STB)
    assert counter.flush() == 0  # playlists are not viewing
    prefix = base.split("://", 1)[-1].split("/", 1)[1]  # s/<signature>/hls/<asset>/<gen>/<rendition>

    def edge(uri: str, method: str = "GET", headers: dict[str, str] = STB) -> int:
        sent = {**headers, "X-Original-URI": f"/{prefix}/{uri}", "X-Original-Method": method}
        return client.get("/api/v1/edge/hls-access", headers=sent).status_code

    assert edge(segments[0][0], "HEAD") == 204  # allowed, but a HEAD is not viewing
    assert edge(segments[0][0], headers={"User-Agent": "mediasrv-site/1.0"}) == 204  # nor the agent's sync
    assert counter.flush() == 0
    assert [edge(uri) for uri, _ in segments] == [204] * len(segments)
    assert counter.flush() == len(segments)
    [row] = viewing(client, admin, site_id)
    assert (row["programme_id"], row["source"], row["players"]) == (programme, "central", 1)
    assert row["minutes"] == round(sum(s for _, s in segments) / 60, 1)

    # A miss goes through the check and then /hls: one event, not two (and written once).
    assert edge(segments[0][0]) == 204
    assert client.get(f"{base}/{segments[0][0]}", headers=STB).status_code == 200
    assert counter.flush() == 1
    assert viewing(client, admin, site_id) == [row]
