"""Site registry, CSV bulk import, and the site playlist (JSON and M3U8 channel list)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.accounts.models import Role
from mediasrv.china import today_in_china
from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database
from tests.fixtures import ReadyAsset, make_token, publish_programme

CSV = """code,name,region,device_profile,quota_gb,download_window,bandwidth_kbps
hb-xt-0001,西塘村党员活动室,河北省/邢台市/信都区/西黄村镇/西塘村,iptv,200,01:00-05:00,4000
hb-xt-0002,东庄村,河北省/邢台市/信都区,iptv-lagacy,,,
hb-xt-0003,南街社区,河北省/邢台市,mobile,50,25:00-05:00,
hb-xt-0001,重复的编号,河北省,iptv,,,
hb-xt-0004,北关村,河北省/邢台市/信都区/北关村,pc,1.5,22:00-06:00,
"""


def test_create_site_with_profile_quota_and_window(client: TestClient, admin: dict[str, str]) -> None:
    body = {
        "code": "hb-001",
        "name": "西塘村",
        "region": " 河北省 / 邢台市 ",
        "device_profile": "iptv-legacy",
        "quota_bytes": 10**11,
        "download_window": "01:00-05:00",
        "bandwidth_kbps": 2000,
    }
    site = client.post("/api/v1/sites", headers=admin, json=body).json()
    assert site["region"] == "河北省/邢台市" and site["device_profile"] == "iptv-legacy"
    assert site["download_window"] == "01:00-05:00" and site["quota_bytes"] == 10**11
    bad = client.post(
        "/api/v1/sites", headers=admin, json={**body, "code": "hb-002", "download_window": "1-5"}
    )
    assert bad.status_code == 400 and "01:00-05:00" in bad.json()["message"]


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(
    client: TestClient, admin: dict[str, str]
) -> None:
    for encoding in ("utf-8-sig", "gb18030"):  # what Excel saves, in China and elsewhere
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]
        r = client.post(
            "/api/v1/sites/import",
            headers={**admin, "Content-Type": "text/csv"},
            content=CSV.replace("hb-xt", f"hb-{encoding[:3]}").encode(encoding),
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert [s["name"] for s in result["created"]] == ["西塘村党员活动室", "北关村"]
        assert [(e["line"], e["message"].split(" ")[0]) for e in result["errors"]] == [
            (3, "device_profile"),
            (4, "Download"),
            (5, "A"),
        ]
        assert "already exists" in result["errors"][2]["message"]
        assert result["created"][0]["quota_bytes"] == 200 * 1024**3
    bad_header = client.post("/api/v1/sites/import", headers=admin, content=b"name,place\nx,y\n")
    assert bad_header.status_code == 400 and "code" in bad_header.json()["message"]


def test_csv_import_from_the_command_line(settings: Settings, client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(CSV, encoding="utf-8")
    r = CliRunner().invoke(
        cli, ["site", "import", str(path)], env={"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    )
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and "line 3:" in said and "2 sites registered, 3 rows refused" in said


def _site(
    client: TestClient, db: Database, admin: dict[str, str], code: str, profile: str
) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    site = next(s for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    with db.session_scope() as s:
        from mediasrv.delivery.models import DeviceProfile, Site

        s.get_one(Site, site["id"]).device_profile = DeviceProfile(profile)
    return site["id"], headers


def test_site_playlist_required_first_with_signed_links_for_its_device(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    ids = [
        publish_programme(
            client, producer, admin, ready_asset(producer, "video"), title=title, category="health"
        )
        for title in ("党章学习", "乡村振兴政策", "健康知识讲座")
    ]
    today = today_in_china().isoformat()
    sl = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "本月必学", "starts_on": today, "ends_on": today, "programme_ids": [ids[1], ids[0]]},
    ).json()
    client.post(f"/api/v1/study-lists/{sl['id']}/publish", headers=admin)
    box, box_h = _site(client, db, admin, "box", "iptv")
    old, _ = _site(client, db, admin, "old-box", "iptv-legacy")
    got = client.get(f"/api/v1/sites/{box}/playlist", headers=box_h).json()
    assert [(i["title"], i["required"]) for i in got["items"]] == [
        ("乡村振兴政策", True),
        ("党章学习", True),
        ("健康知识讲座", False),
    ]
    first = got["items"][0]["url"]
    assert first.startswith("http://testserver/s/site-") and first.endswith("/iptv.m3u8")
    with TestClient(client.app) as box_player:  # no credentials: the link carries them
        master = box_player.get(first.removeprefix("http://testserver"))
        assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    legacy = client.get(f"/api/v1/sites/{old}/playlist", headers=admin).json()
    assert all(i["url"].endswith("/iptv-sd.m3u8") for i in legacy["items"])
    channel = client.get(f"/api/v1/sites/{box}/playlist.m3u8", headers={**box_h, "Accept-Encoding": "gzip"})
    assert channel.headers["content-type"] == "audio/x-mpegurl"  # a list of programmes, not HLS
    assert channel.headers["content-encoding"] == "gzip"
    lines = channel.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#EXTINF:")
    assert 'group-title="必学"' in lines[1] and lines[1].endswith(",乡村振兴政策") and lines[2] == first
    again = client.get(
        f"/api/v1/sites/{box}/playlist.m3u8", headers={**box_h, "If-None-Match": channel.headers["etag"]}
    )
    assert again.status_code == 304  # the same state gives the same bytes within the hour
    assert client.get(f"/api/v1/sites/{old}/playlist", headers=box_h).status_code == 403
    assert client.get(f"/api/v1/sites/{box}/playlist", headers=producer).status_code == 403


def test_csv_that_cannot_be_parsed_is_refused_with_a_reason(
    client: TestClient, admin: dict[str, str]
) -> None:
    csv_headers = {**admin, "Content-Type": "text/csv"}
    # A lone CR (old Mac line ends) is a line break, as Excel reads it.
    r = client.post("/api/v1/sites/import", headers=csv_headers, content=b"code,name\nhb-2,a\rhb-3,b\n")
    assert r.status_code == 200 and [s["code"] for s in r.json()["created"]] == ["hb-2", "hb-3"]
    huge = b"code,name\nhb-4," + b"x" * 200_000 + b"\n"  # past the csv module's field limit
    refused = client.post("/api/v1/sites/import", headers=csv_headers, content=huge)
    assert refused.status_code == 400 and "cannot be read" in refused.json()["message"]
