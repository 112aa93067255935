"""A site's channel list as real players need it: an M3U served as audio/x-mpegurl (not the HLS type,
which VLC hands to its HLS module), opened from a link that needs no header (boxes and VLC send
none), retired with the site's tokens, and with links inside that outlast the day a box keeps it.
tests/e2e/test_vlc_e2e.py plays it with Debian's VLC."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol import china
from tests.fixtures import ReadyAsset, make_token, publish_programme

DAY = 24 * 3600


def site_id_of(client: TestClient, admin: dict[str, str], code: str) -> int:
    return int(next(s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code))


def box_link(client: TestClient, admin: dict[str, str], site_id: int) -> str:
    """The site's channel-list link as an administrator gets it, relative to the test server."""
    r = client.get(f"/api/v1/sites/{site_id}/channel-list", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["site_id"] == site_id
    url = urlsplit(r.json()["url"])
    assert (url.scheme, url.netloc, url.path) == (
        "http",
        "testserver",
        f"/api/v1/sites/{site_id}/playlist.m3u8",
    )
    return f"{url.path}?{url.query}"


def expiries(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"/s/site-\d+\.(\d+)\.", text)}


def test_the_channel_list_is_an_m3u_not_an_hls_playlist(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    asset = ready_asset(producer, "video")
    publish_programme(client, producer, admin, asset, title="党章学习")
    box = make_token(db, Role.SITE, "box")
    site_id = site_id_of(client, admin, "box")
    channel = client.get(f"/api/v1/sites/{site_id}/playlist.m3u8", headers=box)
    assert channel.status_code == 200
    assert channel.headers["content-type"] == "audio/x-mpegurl"
    lines = channel.text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert re.fullmatch(
        r'#EXTINF:-?\d+ tvg-id="[0-9a-f]+" group-title="选学"( tvg-logo="[^"]+")?,党章学习', lines[1]
    )
    # What it lists are HLS playlists, and they keep the HLS type.
    master = client.get(lines[2].removeprefix("http://testserver"))
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"


def test_a_box_opens_its_list_from_its_link_without_a_header(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    publish_programme(client, producer, admin, ready_asset(producer, "video"))
    make_token(db, Role.SITE, "box")
    site_id = site_id_of(client, admin, "box")
    bare = client.get(f"/api/v1/sites/{site_id}/playlist.m3u8")  # neither the link nor a header
    assert bare.status_code == 401 and f"/api/v1/sites/{site_id}/channel-list" in bare.json()["message"]
    # the reason it was refused, then what a box needs: one message in the caller's language
    assert bare.json()["message"].startswith("需要登录") and "频道列表链接" in bare.json()["message"]
    assert bare.json()["params"] == {"reason": "accounts.login_required", "site_id": site_id}
    link = box_link(client, admin, site_id)
    fetched_at = time.time()
    channel = client.get(link)  # no Authorization header, as VLC and boxes open it
    assert channel.status_code == 200 and channel.headers["content-type"] == "audio/x-mpegurl", channel.text
    entries = [line for line in channel.text.splitlines() if line.startswith("http")]
    assert entries
    # Its links hold at least a day from this fetch (a box keeps a list that long), rounded to the
    # hour so that the list's bytes and ETag hold within the hour.
    [expires] = expiries(channel.text)
    assert expires >= fetched_at + DAY and expires % 3600 == 0
    assert client.get(entries[0].removeprefix("http://testserver")).status_code == 200
    again = client.get(link, headers={"If-None-Match": channel.headers["etag"]})
    assert again.status_code == 304
    # The JSON playlist a box's own app reads signs the same day-long links.
    json_list = client.get(f"/api/v1/sites/{site_id}/playlist", headers=admin).json()
    assert {i["url"] for i in json_list["items"]} == set(entries)


def test_the_link_is_the_sites_alone_and_retired_with_its_tokens(
    client: TestClient, db: Database, admin: dict[str, str], site: dict[str, str]
) -> None:
    box = make_token(db, Role.SITE, "box")
    site_id = site_id_of(client, admin, "box")
    other_id = site_id_of(client, admin, "xitang-village")
    link = box_link(client, admin, site_id)
    key = link.partition("?key=")[2]
    assert client.get(link).status_code == 200
    # Another site's list with this key, a tampered key, garbage, an overlong one: refused.
    assert client.get(f"/api/v1/sites/{other_id}/playlist.m3u8?key={key}").status_code == 401
    generation, _, mac = key.partition(".")
    forged = f"{int(generation) + 1}.{mac}"
    for bad in (forged, key[:-2] + ("AA" if not key.endswith("AA") else "BB"), "garbage", "9" * 30 + ".x"):
        r = client.get(f"/api/v1/sites/{site_id}/playlist.m3u8?key={bad}")
        assert r.status_code == 401 and "频道列表密钥" in r.json()["message"], (bad, r.text)
    assert client.get(f"/api/v1/sites/{site_id}/playlist.m3u8?key={'A' * 65}").status_code == 422
    # Only administrators get a site's link.
    for headers in (box, site):
        assert client.get(f"/api/v1/sites/{site_id}/channel-list", headers=headers).status_code == 403
    assert client.get("/api/v1/sites/999999/channel-list", headers=admin).status_code == 404

    # Revoking the box's token retires the link; the new one works.
    token_id = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=admin).json() if t.get("site_id") == site_id
    )
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 200
    r = client.get(link)
    assert r.status_code == 401 and r.json()["code"] == "delivery.channel_list_link_retired"
    assert "吊销" in r.json()["message"]
    new_link = box_link(client, admin, site_id)
    assert new_link != link and client.get(new_link).status_code == 200
    # Another site's revocation leaves this one alone.
    other_token = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=admin).json() if t.get("site_id") == other_id
    )
    assert client.delete(f"/api/v1/tokens/{other_token}", headers=admin).status_code == 200
    assert client.get(new_link).status_code == 200


def test_token_create_for_a_site_prints_its_channel_list_link(
    settings: Settings, client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/api/v1/sites", headers=admin, json={"code": "hb-xt-0012", "name": "西塘村"})
    r = CliRunner().invoke(
        cli,
        ["token", "create", "--site", "hb-xt-0012", "--name", "set-top box", "--server", "http://testserver"],
        env={"MEDIASRV_DATA_DIR": str(settings.data_dir)},
    )
    assert r.exit_code == 0, r.output
    [url] = re.findall(r"http://testserver/\S+", r.output)
    site_id = site_id_of(client, admin, "hb-xt-0012")
    assert url == "http://testserver" + box_link(client, admin, site_id)
    assert client.get(url.removeprefix("http://testserver")).status_code == 200


def test_each_fetch_renews_the_links(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within the hour the same bytes (ETag, 304); two hours on, links two hours longer: a box that
    fetches its list each day never holds an expired link."""
    publish_programme(client, producer, admin, ready_asset(producer, "video"))
    make_token(db, Role.SITE, "box")
    link = box_link(client, admin, site_id_of(client, admin, "box"))
    first = client.get(link)
    [expires] = expiries(first.text)
    later = china.utc_now() + timedelta(hours=2)
    monkeypatch.setattr(china, "utc_now", lambda: later)
    second = client.get(link, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    assert expiries(second.text) == {expires + 2 * 3600}
    assert expires + 2 * 3600 >= later.timestamp() + DAY
