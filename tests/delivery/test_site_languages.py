"""Sites choose their languages (issue 22 part 5): a site with Tibetan gets the Tibetan audio track and
captions and not the Uyghur ones, in its manifest's lists and on its disk; the quota counts them; the
master its agent serves names only what it holds; its channel lists name the Tibetan box variant."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import m3u8
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.agent.layout import AgentConfig, Layout
from mediasrv.agent.masters import held_master
from mediasrv.agent.serve import create_app
from mediasrv.agent.sync import Syncer
from mediasrv.captions import publish
from mediasrv.db import Database
from mediasrv.ingest.models import AssetStatus
from mediasrv.kit.caller import Role
from mediasrv.protocol.document import site_files
from mediasrv.storage import ObjectStore
from tests.agent.test_sync import Line
from tests.delivery.test_manifest import _lists, _manifest
from tests.fixtures import make_token
from tests.ingest.test_language_tracks import attach
from tests.ingest.test_pipeline import upload
from tests.mediafactory import hlscheck, make_dub, make_dubbed
from workers import pipeline

SRT = "1\n00:00:00,500 --> 00:00:02,000\n不忘初心\n"
TITLE = "扎西德勒"


@pytest.fixture
def film(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ctx: pipeline.Context,
    db: Database,
    store: ObjectStore,
    tmp_path: Path,
) -> tuple[str, str]:
    """(programme, asset): a published film in Mandarin with Tibetan (a stream of the upload) and
    Uyghur (a producer's dub) tracks, captioned in simplified Chinese, Tibetan and Uyghur."""
    asset = upload(client, producer, make_dubbed(tmp_path / "film.mp4", seconds=4, languages=("chi", "tib")))
    attach(db, store, asset, make_dub(tmp_path / "dub.m4a", seconds=3.5), "ug")
    assert pipeline.process_asset(ctx, asset) is AssetStatus.READY
    r = client.post(
        "/api/v1/programmes",
        headers=producer,
        json={"title": TITLE, "category": "party-spirit", "asset_id": asset},
    )
    pid = r.json()["id"]
    for lang in ("zh-Hans", "bo", "ug"):
        r = client.post(
            f"/api/v1/programmes/{pid}/captions",
            headers=producer,
            files={"file": ("a.srt", SRT.encode())},
            data={"language": lang},
        )
        assert r.status_code == 201, r.text
    assert publish.republish(ctx.db, ctx.store, asset, work_dir=tmp_path / "work") is True
    assert client.post(f"/api/v1/programmes/{pid}/publish", headers=admin).status_code == 200
    return pid, asset


def site_with(
    client: TestClient, db: Database, admin: dict[str, str], code: str, **settings: Any
) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    site = next(s for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    r = client.patch(f"/api/v1/sites/{site['id']}", headers=admin, json=settings)
    assert r.status_code == 200, r.text
    return site["id"], headers


def folders(files: list[dict[str, Any]]) -> set[str]:
    """The rendition folders of a site's files, a caption set's by its language (subs-<set>_bo: bo)."""
    return {f["path"].split("/")[-2].rpartition("_")[2] for f in files if f["path"].count("/") >= 3}


def test_a_tibetan_site_gets_tibetan_tracks_and_captions_and_pays_for_them(
    client: TestClient, db: Database, admin: dict[str, str], film: tuple[str, str]
) -> None:
    pid, asset = film
    bo_id, bo_h = site_with(client, db, admin, "bo-phone", device_profile="mobile", languages=["bo"])
    plain_id, plain_h = site_with(client, db, admin, "phone", device_profile="mobile")
    box_id, box_h = site_with(client, db, admin, "bo-box", device_profile="iptv", languages="藏语")
    sites = {s["id"]: s for s in client.get("/api/v1/sites", headers=admin).json()}
    assert (sites[box_id]["languages"], sites[plain_id]["languages"]) == (["bo"], [])

    tibetan, plain = _manifest(client, bo_id, bo_h), _manifest(client, plain_id, plain_h)
    [entry] = tibetan["programmes"]
    assert entry["languages"] == [{"language": "bo", "name": "藏语", "play": f"{asset}/master.m3u8"}]
    assert "languages" not in plain["programmes"][0]  # a site without languages: the entry it had
    own, track = entry["lists"]
    lists = _lists(client, tibetan, bo_h)
    assert lists[own["sha256"]]["presentation"] == "master"
    assert lists[track["sha256"]]["presentation"] == "master-bo"
    assert plain["programmes"][0]["lists"] == [own]  # the base list is one, shared

    # Tibetan audio and captions, never the Uyghur ones; the plain site: its own sound, Chinese captions.
    bo_files = site_files(tibetan, lists)
    plain_files = site_files(plain, _lists(client, plain, plain_h))
    held = folders(bo_files)
    assert {"mobile-audio", "mobile-audio-bo"} <= held and "mobile-audio-ug" not in held
    assert {"zh-Hans", "bo"} <= held and "ug" not in held
    assert folders(plain_files) == held - {"mobile-audio-bo", "bo"}

    # The quota counts them: what holds the plain film leaves the Tibetan one out.
    assert tibetan["bytes"] == sum(f["size"] for f in bo_files) == plain["bytes"] + track["bytes"]
    assert tibetan["file_count"] == len(bo_files) and track["bytes"] > 0
    for site_id in (bo_id, plain_id):
        r = client.patch(f"/api/v1/sites/{site_id}", headers=admin, json={"quota_bytes": plain["bytes"]})
        assert r.status_code == 200
    assert [d["id"] for d in _manifest(client, bo_id, bo_h)["dropped"]] == [pid]
    assert _manifest(client, plain_id, plain_h)["order"] == [pid]

    # A set-top box: the muxed Tibetan variant in a list of its own, and an entry in its channel list.
    box = _manifest(client, box_id, box_h)
    box_lists = _lists(client, box, box_h)
    assert [box_lists[x["sha256"]]["presentation"] for x in box["programmes"][0]["lists"]] == [
        "iptv",
        "iptv-bo",
    ]
    assert box["programmes"][0]["languages"][0]["play"] == f"{asset}/iptv-bo.m3u8"
    channels = client.get(f"/api/v1/sites/{box_id}/playlist.m3u8", headers=box_h).text
    lines = channels.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(f",《{TITLE}》藏语"))
    assert lines[at + 1].endswith(f"/hls/{asset}/iptv-bo.m3u8") and "iptv-ug" not in channels


def test_languages_are_validated_in_chinese(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    site_id, _ = site_with(client, db, admin, "lang-site", languages=["BO", "维吾尔语", "bo"])
    site = client.get("/api/v1/sites", headers=admin).json()
    assert next(s for s in site if s["id"] == site_id)["languages"] == ["bo", "ug"]
    r = client.patch(f"/api/v1/sites/{site_id}", headers=admin, json={"languages": ["火星语"]})
    assert r.status_code == 422 and "语言“火星语”无法识别" in r.text
    r = client.patch(f"/api/v1/sites/{site_id}", headers=admin, json={"languages": None})
    assert r.status_code == 200 and r.json()["languages"] == []

    csv = "站点编码,站点名称,语言\nz-1,一村,藏语、ug\nz-2,二村,火星语\n".encode()
    r = client.post("/api/v1/sites/import", headers={**admin, "Content-Type": "text/csv"}, content=csv)
    assert r.status_code == 200, r.text
    assert [s["languages"] for s in r.json()["created"]] == [["bo", "ug"]]
    [bad] = r.json()["errors"]
    assert bad["line"] == 3 and bad["problems"][0]["column"] == "语言"
    assert "火星语" in bad["message"] and "藏语" in bad["message"]


def agent_site(
    client: TestClient, db: Database, admin: dict[str, str], path: Path, code: str, **settings: Any
) -> Layout:
    """A site agent set up in `path` for a new site with `settings`, synced once through the app."""
    site_id, headers = site_with(client, db, admin, code, **settings)
    layout = Layout(path)
    key = client.get("/api/v1/sites/manifest-key").json()["public_key"]
    layout.save_config(
        AgentConfig(server="http://testserver", site_id=site_id, site_code=code, public_key=key)
    )
    layout.save_token(headers["Authorization"].removeprefix("Bearer "))
    agent = httpx.Client(transport=Line(client._transport), base_url="http://testserver", headers=headers)
    assert Syncer(layout, agent, backoff=0).sync(download=True, verify=False).complete
    return layout


def test_the_agent_downloads_serves_and_lists_only_the_sites_languages(
    client: TestClient, db: Database, admin: dict[str, str], film: tuple[str, str], tmp_path: Path
) -> None:
    _, asset = film
    phone = agent_site(
        client, db, admin, tmp_path / "phone", "bo-phone", device_profile="mobile", languages=["bo"]
    )
    on_disk = {p.relative_to(phone.files).as_posix() for p in phone.files.rglob("*") if p.is_file()}
    held = {path.split("/")[-2].rpartition("_")[2] for path in on_disk if path.count("/") >= 3}
    assert {"mobile-audio-bo", "bo", "zh-Hans"} <= held and not {"mobile-audio-ug", "ug"} & held
    stored = (phone.files / asset / "master.m3u8").read_bytes()
    assert sum(m.language == "ug" for m in m3u8.loads(stored.decode()).media) == 2  # the verified file

    with LocalClient(create_app(phone), base_url="http://192.168.1.20:8080") as lan:
        r = lan.get(f"/files/{asset}/master.m3u8")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        served = m3u8.loads(r.text)
        assert {(m.type, m.language) for m in served.media} == {
            ("AUDIO", "zh"),
            ("AUDIO", "bo"),
            ("SUBTITLES", "zh-Hans"),
            ("SUBTITLES", "bo"),
        }
        assert all(lan.get(f"/files/{asset}/{m.uri}").status_code == 200 for m in served.media)
        assert all(p.stream_info.audio == "aud" for p in served.playlists) and served.playlists
        # A copy beside the cached one, so that hlscheck follows its URIs into what the site holds.
        copy = phone.files / asset / "held.m3u8"
        copy.write_text(r.text, encoding="utf-8")
        hlscheck(copy)
        assert (
            hashlib.sha256(stored).hexdigest()
            == hashlib.sha256((phone.files / asset / "master.m3u8").read_bytes()).hexdigest()
        )

    box = agent_site(client, db, admin, tmp_path / "box", "bo-box", device_profile="iptv", languages=["bo"])
    with LocalClient(create_app(box), base_url="http://192.168.1.21:8080") as lan:
        channels = lan.get("/playlist.m3u8").text.splitlines()
        at = next(i for i, line in enumerate(channels) if line.endswith(f",《{TITLE}》藏语"))
        assert channels[at + 1] == f"http://192.168.1.21:8080/files/{asset}/iptv-bo.m3u8"
        assert lan.get(f"/files/{asset}/iptv-bo.m3u8").status_code == 200


def test_held_master_drops_what_the_site_lacks_and_keeps_everything_else() -> None:
    master = (
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",LANGUAGE="bo",NAME="藏语",DEFAULT=NO,URI="g/mobile-audio-bo/index.m3u8"\n'
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="ug",NAME="维吾尔文",DEFAULT=NO,URI="s/ug/index.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=100,CODECS="avc1.42c01e,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"\n'
        "g/low/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=200,CODECS="avc1.42c01e,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"\n'
        "g/high/index.m3u8\n"
    )
    assert held_master(master, lambda uri: True) is master
    served = held_master(master, lambda uri: "bo" in uri or "low" in uri)
    parsed = m3u8.loads(served)
    assert [m.language for m in parsed.media] == ["bo"] and [p.uri for p in parsed.playlists] == [
        "g/low/index.m3u8"
    ]
    assert (
        parsed.playlists[0].stream_info.subtitles is None and parsed.playlists[0].stream_info.audio == "aud"
    )
