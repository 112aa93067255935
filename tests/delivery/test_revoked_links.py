"""A site's signed playback links stop when one of its tokens is revoked, not when they expire a day
later: they name the site's link generation, which the check compares with the current one kept in
memory (mediasrv.accounts.auth.SiteLinks), in every API process. Links of the earlier form (made
before generations) still play until they expire; people's links keep their form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from mediasrv.accounts import service
from mediasrv.accounts.models import ApiToken
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from tests.delivery.test_channel_list import box_link, site_id_of
from tests.delivery.test_playback_scope import EDGE, link_prefix, no_queries, paths_of
from tests.fixtures import ACTOR, ReadyAsset, make_token, publish_programme, statements

HOST = "http://testserver"


def player_urls(client: TestClient, master: str) -> list[str]:
    """What a box fetches from a channel list entry: the master, a media playlist, a segment."""
    urls = [master.removeprefix(HOST)]
    while not urls[-1].endswith(".ts"):
        r = client.get(urls[-1])
        assert r.status_code == 200, (urls[-1], r.text)
        uri = next(line for line in r.text.splitlines() if line and not line.startswith("#"))
        urls.append(urls[-1].rpartition("/")[0] + "/" + uri)
    return urls


def channel_entries(client: TestClient, link: str) -> list[str]:
    r = client.get(link)
    assert r.status_code == 200, r.text
    return [line for line in r.text.splitlines() if line.startswith("http")]


def revoke_site_tokens(client: TestClient, admin: dict[str, str], site_id: int) -> None:
    for token in client.get("/api/v1/tokens", headers=admin).json():
        if token.get("site_id") == site_id and token.get("revoked_at") is None:
            assert client.delete(f"/api/v1/tokens/{token['id']}", headers=admin).status_code == 200


def assert_retired(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 401, (url, r.status_code, r.text)
    assert r.json()["code"] == "accounts.playback_link_retired"
    assert "吊销" in r.json()["message"]  # in the users' language, from the catalogue


def test_revoking_a_sites_token_stops_its_channel_lists_links_at_once(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    publish_programme(client, producer, admin, ready_asset(producer, "video"))
    make_token(db, Role.SITE, "box")
    box_id, other_id = site_id_of(client, admin, "box"), site_id_of(client, admin, "xitang-village")
    box = player_urls(client, channel_entries(client, box_link(client, admin, box_id))[0])
    other = player_urls(client, channel_entries(client, box_link(client, admin, other_id))[0])
    for url in box + other:  # playlists and a segment, as a box fetches them: no header
        assert client.get(url).status_code == 200, url
    assert client.get(EDGE, headers={"X-Original-URI": box[-1]}).status_code == 204

    revoke_site_tokens(client, admin, box_id)
    for url in box:
        assert_retired(client, url)
    r = client.get(EDGE, headers={"X-Original-URI": box[-1]})  # what nginx asks before a cache hit
    assert r.status_code == 401 and r.json()["code"] == "accounts.playback_link_retired"
    for url in other:  # another site's links are not touched
        assert client.get(url).status_code == 200, url

    # The site's new link gives a list whose links play (not the one made before, kept for the hour).
    fresh = player_urls(client, channel_entries(client, box_link(client, admin, box_id))[0])
    assert fresh[0] != box[0]
    assert [client.get(url).status_code for url in fresh] == [200] * len(fresh)


def test_the_playback_links_a_site_is_given_stop_with_its_token(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    asset = ready_asset(producer)
    publish_programme(client, producer, admin, asset)
    paths = paths_of(client, admin, asset)
    box = make_token(db, Role.SITE, "box")
    site_id = site_id_of(client, admin, "box")
    with db.session_scope() as session:  # the agent's token beside the box's
        _, agent = service.create_token(session, actor=ACTOR, name="agent", site_id=site_id)
        box_token = session.scalar(select(ApiToken.id).where(ApiToken.name == "box"))
    prefix = link_prefix(client, box, asset)
    people = link_prefix(client, admin, asset)
    assert client.get(prefix + paths.segment).status_code == 200
    assert client.delete(f"/api/v1/tokens/{box_token}", headers=admin).status_code == 200
    assert_retired(client, prefix + paths.segment)
    assert client.get(people + paths.segment).status_code == 200  # people's links: not a site's
    renewed = link_prefix(client, {"Authorization": f"Bearer {agent}"}, asset)
    assert client.get(renewed + paths.segment).status_code == 200


def test_another_api_process_refuses_a_revoked_sites_links_at_its_next_epoch_read(
    client: TestClient,
    settings: Settings,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    """A second API process on the same database checks a site's links from memory (no query per
    segment), and sees the revocation with its next re-read of the epochs: one query then, at most."""
    asset = ready_asset(producer)
    publish_programme(client, producer, admin, asset)
    paths = paths_of(client, admin, asset)
    box = make_token(db, Role.SITE, "box")
    box_link_prefix, other_link_prefix = link_prefix(client, box, asset), link_prefix(client, site, asset)
    with TestClient(create_app(settings)) as other:
        for prefix in (box_link_prefix, other_link_prefix):
            assert other.get(prefix + paths.segment).status_code == 200  # learns the generations, once
        with no_queries(other.app):
            assert other.get(box_link_prefix + paths.segment).status_code == 200
            assert (
                other.get(EDGE, headers={"X-Original-URI": box_link_prefix + paths.segment}).status_code
                == 204
            )
        revoke_site_tokens(client, admin, site_id_of(client, admin, "box"))
        other.app.state.epochs.refresh()  # type: ignore[attr-defined]  # what its next second brings
        with statements(other.app) as said:
            assert_retired(other, box_link_prefix + paths.segment)
            assert_retired(other, box_link_prefix + paths.media)
            assert (
                other.get(EDGE, headers={"X-Original-URI": box_link_prefix + paths.segment}).status_code
                == 401
            )
        assert len(said) <= 1, said  # the site's generation, read once
        assert other.get(other_link_prefix + paths.segment).status_code == 200


def _earlier_form(key: bytes, site_id: int, asset_id: str, expires: int) -> str:
    """A site's link as the server made them before they named a generation."""
    subject = f"site-{site_id}"
    mac = hmac.new(key, f"{subject}.{expires}.{asset_id}".encode(), hashlib.sha256).digest()[:18]
    return f"{subject}.{expires}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def test_links_of_the_earlier_form_play_until_they_expire(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    """Boxes hold lists made before the upgrade: refusing their links would stop every box at once."""
    asset = ready_asset(producer)
    publish_programme(client, producer, admin, asset)
    paths = paths_of(client, admin, asset)
    make_token(db, Role.SITE, "box")
    site_id = site_id_of(client, admin, "box")
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    held = _earlier_form(key, site_id, asset, int(time.time()) + 3600)
    assert (
        client.get(f"/s/{held}/hls/{asset}{paths.segment.removeprefix(f'/hls/{asset}')}").status_code == 200
    )
    expired = _earlier_form(key, site_id, asset, int(time.time()) - 1)
    r = client.get(f"/s/{expired}/hls/{asset}{paths.segment.removeprefix(f'/hls/{asset}')}")
    assert r.status_code == 401 and r.json()["code"] == "accounts.playback_link_expired"
