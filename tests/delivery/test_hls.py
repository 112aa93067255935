"""Serving a published asset: master playlists per presentation, immutable files, Range, gzip, 304."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediasrv.accounts.signing import sign_playback
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Caller, Role
from tests.fixtures import RecordingDispatcher, make_token, migrated, publish_programme, statements
from tests.mediafactory import make_media
from workers import pipeline


@dataclass
class Published:
    client: TestClient
    asset_id: str
    generation: str


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    tmp = tmp_path_factory.mktemp("hls")
    settings = Settings(data_dir=migrated(tmp / "var"))
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as client:
        state = client.app.state  # type: ignore[attr-defined]
        headers = make_token(state.db, Role.PRODUCER)
        film = make_media(tmp / "film.mp4", seconds=8, width=640, height=360)
        with film.open("rb") as f:
            asset_id = client.post("/api/v1/assets", headers=headers, files={"file": (film.name, f)}).json()[
                "id"
            ]
        ctx = pipeline.Context(db=state.db, store=state.store, settings=settings)
        pipeline.process_asset(ctx, asset_id)
        publish_programme(client, headers, make_token(state.db, Role.ADMIN), asset_id)  # sites play it
        with state.db.session_scope() as s:
            generation = s.get_one(Asset, asset_id).published_generation
        client.headers.update(make_token(state.db, Role.SITE, "hls-test-site"))  # a set-top box reads it
        yield Published(client, asset_id, generation)


def test_master_playlists_per_presentation(published: Published) -> None:
    c, a, g = published.client, published.asset_id, published.generation
    mobile = c.get(f"/hls/{a}/master.m3u8")
    assert mobile.status_code == 200
    assert mobile.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert mobile.headers["cache-control"] == "private, max-age=10"
    text = mobile.text
    assert text.startswith("#EXTM3U") and "#EXT-X-INDEPENDENT-SEGMENTS" in text
    assert f"{g}/mobile-360p/index.m3u8" in text and "iptv" not in text
    iptv = c.get(f"/hls/{a}/iptv.m3u8").text
    assert f"{g}/iptv/index.m3u8" in iptv and "mobile" not in iptv and "iptv-sd" not in iptv
    assert f"{g}/iptv-sd/index.m3u8" in c.get(f"/hls/{a}/iptv-sd.m3u8").text
    assert c.get(f"/hls/{a}/other.m3u8").status_code == 404


def test_playlists_are_gzipped_and_revalidated(published: Published) -> None:
    c, a = published.client, published.asset_id
    raw = c.get(f"/hls/{a}/master.m3u8", headers={"Accept-Encoding": "gzip"}, extensions={})
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert raw.text.startswith("#EXTM3U")  # httpx decoded it
    etag = raw.headers["etag"]
    assert c.get(f"/hls/{a}/master.m3u8", headers={"If-None-Match": etag}).status_code == 304
    plain = c.get(f"/hls/{a}/master.m3u8", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


def test_segments_are_immutable_with_range(published: Published) -> None:
    c, a, g = published.client, published.asset_id, published.generation
    media = c.get(f"/hls/{a}/{g}/iptv/index.m3u8")
    assert media.status_code == 200 and "immutable" in media.headers["cache-control"]
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media.text and "#EXT-X-ENDLIST" in media.text
    first = next(line for line in media.text.splitlines() if line.endswith(".ts"))
    url = f"/hls/{a}/{g}/iptv/{first}"
    whole = c.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp2t"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in whole.headers  # video is never gzipped
    part = c.get(url, headers={"Range": "bytes=188-375"})
    assert part.status_code == 206 and part.content == whole.content[188:376]
    assert part.headers["content-range"] == f"bytes 188-375/{len(whole.content)}"
    tail = c.get(url, headers={"Range": "bytes=-188"})
    assert tail.status_code == 206 and tail.content == whole.content[-188:]
    assert c.get(url, headers={"Range": f"bytes={len(whole.content)}-"}).status_code == 416
    head = c.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole.content)
    assert c.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304


def test_only_the_published_generation_and_real_paths_are_served(published: Published) -> None:
    c, a, g = published.client, published.asset_id, published.generation
    stale = c.get(f"/hls/{a}/0123456789ab/iptv/index.m3u8")
    assert stale.status_code == 404 and "请重新加载主播放列表" in stale.json()["message"]
    stale_segment = c.get(f"/hls/{a}/0123456789ab/iptv/seg_00000.ts")
    assert stale_segment.status_code == 404 and stale_segment.json()["code"] == "delivery.stale_file"
    assert c.get(f"/hls/{a}/{g}/../../sources/x").status_code == 404
    assert c.get(f"/hls/{a}/{g}/iptv/..%2F..%2Fx").status_code == 404
    assert c.get("/hls/nonexistent/master.m3u8").status_code == 404


def test_poster(published: Published) -> None:
    r = published.client.get(f"/hls/{published.asset_id}/poster.jpg")
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "image/jpeg"
        and r.content[:3] == b"\xff\xd8\xff"
    )


def test_not_ready_asset_is_not_served(client: TestClient, producer: dict[str, str], tmp_path: Path) -> None:
    film = make_media(tmp_path / "f.mp4", seconds=1)
    with film.open("rb") as f:
        asset_id = client.post("/api/v1/assets", headers=producer, files={"file": (film.name, f)}).json()[
            "id"
        ]
    r = client.get(f"/hls/{asset_id}/master.m3u8", headers=producer)
    assert r.status_code == 404 and r.json()["code"] == "delivery.not_ready"
    r = client.get(f"/api/v1/assets/{asset_id}/playback", headers=producer)
    assert r.status_code == 404 and r.json()["code"] == "delivery.nothing_to_play"


def test_hls_needs_credentials(published: Published) -> None:
    r = published.client.get(f"/hls/{published.asset_id}/master.m3u8", headers={"Authorization": ""})
    assert r.status_code == 401


def test_signed_links_play_without_headers_and_without_database(published: Published) -> None:
    c, a = published.client, published.asset_id
    links = c.get(f"/api/v1/assets/{a}/playback").json()
    assert links["master"].startswith("/s/site-") and links["master"].endswith(f"/hls/{a}/master.m3u8")
    with TestClient(c.app) as bare:  # no Authorization header at all, like a set-top box
        master = bare.get(links["iptv"])
        assert master.status_code == 200
        media_uri = next(line for line in master.text.splitlines() if line.endswith(".m3u8"))
        base = links["iptv"].rsplit("/", 1)[0]
        media = bare.get(f"{base}/{media_uri}")  # relative resolution keeps the signed prefix
        assert media.status_code == 200
        segment = next(line for line in media.text.splitlines() if line.endswith(".ts"))
        with statements(c.app) as said:  # type: ignore[arg-type]
            r = bare.get(f"{base}/{media_uri.rsplit('/', 1)[0]}/{segment}")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"
        assert said == [], "a segment request touched the database"


def test_bad_signed_links_are_refused_with_reasons(published: Published) -> None:
    c, a = published.client, published.asset_id
    key: bytes = c.app.state.signing_key  # type: ignore[attr-defined]
    caller = Caller(role=Role.SITE, name="s", via="signed", site_id=1)
    expired = sign_playback(key, caller=caller, asset_id=a, expires=int(time.time()) - 1, generation=0)
    other = sign_playback(
        key, caller=caller, asset_id="another-asset", expires=int(time.time()) + 60, generation=0
    )
    valid = sign_playback(key, caller=caller, asset_id=a, expires=int(time.time()) + 60, generation=0)
    tampered = valid.replace("site-1.", "site-2.")
    with TestClient(c.app) as bare:
        assert bare.get(f"/s/{valid}/hls/{a}/master.m3u8").status_code == 200
        for signature, reason in (
            (expired, "accounts.playback_link_expired"),
            (other, "accounts.playback_link_wrong"),
            (tampered, "accounts.playback_link_wrong"),
            ("garbage", "accounts.playback_link_malformed"),
        ):
            r = bare.get(f"/s/{signature}/hls/{a}/master.m3u8")
            assert r.status_code == 401 and r.json()["code"] == reason, (signature, r.text)
