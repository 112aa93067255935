"""Who may play which asset, on every path that serves one: /hls, /s/<signature>/hls, the playback
links API and the edge check nginx asks. Sites play only what a published programme holds; producers
their own department's assets besides; administrators everything; a withdrawal stops it everywhere,
old signed links too, without a query per segment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mediasrv.accounts.signing import sign_playback
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.kit.caller import Caller, Role
from tests.fixtures import ReadyAsset, publish_programme, statements

EDGE = "/api/v1/edge/hls-access"


@dataclass(frozen=True)
class Paths:
    """Everything a player fetches for one asset, as /hls paths (without a prefix)."""

    asset: str
    master: str
    media: str
    segment: str
    poster: str | None


def paths_of(client: TestClient, admin: dict[str, str], asset: str, presentation: str = "master") -> Paths:
    master = f"/hls/{asset}/{presentation}.m3u8"
    text = client.get(master, headers=admin).text
    media = f"/hls/{asset}/" + next(line for line in text.splitlines() if line.endswith(".m3u8"))
    listed = client.get(media, headers=admin).text
    segment = (
        media.rpartition("/")[0] + "/" + next(line for line in listed.splitlines() if line.endswith(".ts"))
    )
    poster = (
        f"/hls/{asset}/poster.jpg"
        if client.get(f"/hls/{asset}/poster.jpg", headers=admin).is_success
        else None
    )
    return Paths(asset, master, media, segment, poster)


def statuses(client: TestClient, paths: Paths, headers: dict[str, str], prefix: str = "") -> list[int]:
    """What a player gets for the master, media playlist, segment (and poster) of an asset."""
    wanted = [paths.master, paths.media, paths.segment, *([paths.poster] if paths.poster else [])]
    return [client.get(prefix + path, headers=headers).status_code for path in wanted]


def edge(client: TestClient, uri: str, headers: dict[str, str] | None = None) -> int:
    return client.get(EDGE, headers={**(headers or {}), "X-Original-URI": uri}).status_code


def signed_prefix(client: TestClient, caller: Caller, asset: str) -> str:
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    generation = 0 if caller.role is Role.SITE else None  # no token of the site revoked
    expires = int(time.time()) + 3600
    return "/s/" + sign_playback(key, caller=caller, asset_id=asset, expires=expires, generation=generation)


def link_prefix(client: TestClient, headers: dict[str, str], asset: str) -> str:
    """The signed prefix the playback links API gives this caller."""
    r = client.get(f"/api/v1/assets/{asset}/playback", headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["master"]).partition("/hls/")[0]


@contextmanager
def no_queries(app: FastAPI) -> Iterator[list[str]]:
    with statements(app) as said:
        yield said
    assert said == [], "playback touched the database"


SITE_1 = Caller(role=Role.SITE, name="site-1", via="signed", site_id=1)


def test_a_draft_plays_for_its_department_only(
    client: TestClient,
    producer: dict[str, str],
    colleague: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    draft = paths_of(client, admin, ready_asset(producer, "video"))
    assert statuses(client, draft, producer) == [200, 200, 200, 200]
    assert statuses(client, draft, colleague) == [200, 200, 200, 200]  # the same department
    assert statuses(client, draft, admin) == [200, 200, 200, 200]
    # Another department's producer and every site: as if there were nothing there.
    assert statuses(client, draft, other_producer) == [404, 404, 404, 404]
    assert statuses(client, draft, site) == [404, 404, 404, 404]
    r = client.get(draft.master, headers=site)
    assert r.json()["code"] == "delivery.not_in_scope" and "不在已发布的节目中" in r.json()["message"]

    # The playback links API signs nothing for them, and a link signed anyway plays nothing.
    for headers in (other_producer, site):
        r = client.get(f"/api/v1/assets/{draft.asset}/playback", headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "delivery.not_in_scope"
    assert statuses(client, draft, {}, signed_prefix(client, SITE_1, draft.asset)) == [404, 404, 404, 404]
    assert statuses(client, draft, {}, link_prefix(client, producer, draft.asset)) == [200, 200, 200, 200]
    # The edge cache asks the same question (403: nginx turns a 404 into a 500).
    assert edge(client, draft.segment, producer) == 204
    assert edge(client, draft.segment, other_producer) == 403
    assert edge(client, draft.segment, site) == 403
    assert edge(client, signed_prefix(client, SITE_1, draft.asset) + draft.segment) == 403


def test_a_published_programme_plays_for_everyone_until_it_is_withdrawn(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    asset = ready_asset(producer, "video")
    programme = publish_programme(client, producer, admin, asset)
    paths = paths_of(client, admin, asset, "iptv")
    old_site_link = link_prefix(client, site, asset)
    old_other_link = link_prefix(client, other_producer, asset)  # a catalogue page of another department
    signed_segment = old_site_link + paths.segment
    for headers in (site, other_producer, producer):
        assert statuses(client, paths, headers) == [200, 200, 200, 200]
    assert statuses(client, paths, {}, old_site_link) == [200, 200, 200, 200]
    assert statuses(client, paths, {}, old_other_link) == [200, 200, 200, 200]
    assert [edge(client, signed_segment), edge(client, paths.segment, site)] == [204, 204]

    r = client.post(f"/api/v1/programmes/{programme}/withdraw", headers=admin, json={"reason": "内容需更新"})
    assert r.status_code == 200, r.text
    # At once in this process; through /hls, old signed links, new ones and the edge check.
    assert statuses(client, paths, site) == [404, 404, 404, 404]
    assert statuses(client, paths, {}, old_site_link) == [404, 404, 404, 404]
    assert statuses(client, paths, {}, old_other_link) == [404, 404, 404, 404]
    assert statuses(client, paths, other_producer) == [404, 404, 404, 404]
    assert client.get(f"/api/v1/assets/{asset}/playback", headers=site).status_code == 404
    assert [edge(client, signed_segment), edge(client, paths.segment, site)] == [403, 403]
    # Its own department still has its asset (to fix it and have it published again).
    assert statuses(client, paths, producer) == [200, 200, 200, 200]
    assert statuses(client, paths, {}, link_prefix(client, producer, asset)) == [200, 200, 200, 200]

    # Published again: it plays again, through the same old link.
    assert client.post(f"/api/v1/programmes/{programme}/publish", headers=admin).status_code == 200
    assert statuses(client, paths, {}, old_site_link) == [200, 200, 200, 200]


def test_a_handout_plays_while_its_programme_is_published(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    handout = ready_asset(producer, "pdf")
    document = f"/hls/{handout}/document.pdf"
    assert client.get(document, headers=site).status_code == 404
    programme = publish_programme(client, producer, admin, ready_asset(producer), attachment_ids=[handout])
    assert client.get(document, headers=site).status_code == 200
    assert (
        client.post(
            f"/api/v1/programmes/{programme}/withdraw", headers=admin, json={"reason": "内容需更新"}
        ).status_code
        == 200
    )
    assert client.get(document, headers=site).status_code == 404


def test_another_api_process_stops_a_withdrawn_programme_at_its_next_epoch_read(
    client: TestClient,
    settings: Settings,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    """A second API process on the same database: it plays segments from memory, and the withdrawal
    reaches it with its next re-read of the epochs (each process does one a second), not per request."""
    asset = ready_asset(producer)
    programme = publish_programme(client, producer, admin, asset)
    paths = paths_of(client, admin, asset)
    link = link_prefix(client, site, asset)
    with TestClient(create_app(settings)) as other:
        assert other.get(link + paths.segment).status_code == 200  # reads what is published, once
        with no_queries(other.app):
            assert other.get(link + paths.segment).status_code == 200
            assert other.get(EDGE, headers={"X-Original-URI": link + paths.segment}).status_code == 204
        assert (
            client.post(
                f"/api/v1/programmes/{programme}/withdraw", headers=admin, json={"reason": "内容需更新"}
            ).status_code
            == 200
        )
        other.app.state.epochs.refresh()  # type: ignore[attr-defined]  # what its next second brings
        assert other.get(link + paths.segment).status_code == 404
        assert other.get(EDGE, headers={"X-Original-URI": link + paths.segment}).status_code == 403


def test_producers_of_another_department_see_no_draft_poster_or_playlist(
    client: TestClient,
    producer: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    """The hole as reported: another department's producer read a draft's playlists and poster."""
    draft = ready_asset(producer, "video")
    for name in ("master.m3u8", "iptv.m3u8", "iptv-sd.m3u8", "poster.jpg"):
        assert client.get(f"/hls/{draft}/{name}", headers=other_producer).status_code == 404, name
        assert client.get(f"/hls/{draft}/{name}", headers=admin).status_code == 200, name


@pytest.mark.parametrize("digits", [12, 5000])
def test_an_expiry_of_thousands_of_digits_is_a_clear_refusal(client: TestClient, digits: int) -> None:
    """int() of more than 4300 digits raises: that was a 500. Now a malformed link, as on any path."""
    signature = f"site-1.{'9' * digits}.AAAAAAAAAAAAAAAAAAAAAAAA"
    r = client.get(f"/s/{signature}/hls/{'a' * 32}/master.m3u8", headers={"Authorization": ""})
    assert r.status_code == 401 and r.json()["code"] == "accounts.playback_link_malformed", r.text
    r = client.get(EDGE, headers={"X-Original-URI": f"/s/{signature}/hls/{'a' * 32}/g/seg.ts"})
    assert r.status_code == 401 and r.json()["code"] == "accounts.playback_link_malformed", r.text
