"""Site registry, CSV bulk import, and the site playlist (JSON and M3U8 channel list)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.accounts.service import caller_from_bearer
from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role, caller_text
from mediasrv.kit.i18n import Text, render
from mediasrv.protocol.china import today_in_china
from mediasrv.sites.schemas import GB
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
    assert bad.status_code == 400 and bad.json()["code"] == "sites.window_malformed"
    assert bad.json()["message"] == "下载时段“1-5”的格式不对：请写成 01:00-05:00 这样的 24 小时制时间。"


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
        assert [(e["line"], [(p["column"], p["code"]) for p in e["problems"]]) for e in result["errors"]] == [
            (3, [("device_profile", "sites.row_device_unknown")]),
            (4, [("download_window", "sites.window_malformed")]),
            (5, [("code", "sites.row_code_repeated")]),
        ]
        assert result["errors"][2]["message"] == (
            "“code”列（填的是“hb-utf-0001”）：与第 2 行的站点编码重复：每个站点编码只能用一次"
            if encoding == "utf-8-sig"
            else "“code”列（填的是“hb-gb1-0001”）：与第 2 行的站点编码重复：每个站点编码只能用一次"
        )
        assert result["created"][0]["quota_bytes"] == 200 * 1024**3
    bad_header = client.post("/api/v1/sites/import", headers=admin, content=b"name,place\nx,y\n")
    assert bad_header.status_code == 400 and bad_header.json()["code"] == "sites.csv_columns_unknown"
    assert "place" in bad_header.json()["message"] and "站点编码,站点名称" in bad_header.json()["message"]
    no_code = client.post("/api/v1/sites/import", headers=admin, content=b"name,region\nx,y\n")
    assert no_code.json()["code"] == "sites.csv_columns_missing" and "站点编码" in no_code.json()["message"]


# The clerk's own spreadsheet: Chinese column names (one with a full-width unit, one the fleet
# export's), Chinese device names, an Excel row whose cell holds a line break, and rows with several
# problems each.
CHINESE = (
    "站点编码,站点名称 name,所属地区,设备类型,存储配额（GB）,下载时段,带宽上限\n"
    'hb-xt-0011,"西塘村\n党员活动室",河北省,,,,\n'  # row 2: one row in Excel, a line break in its name
    "hb-xt-0012,西塘村党员活动室,河北省/邢台市/信都区,机顶盒,200,01:00-05:00,4000\n"  # row 3
    "hb-xt-0013,,河北省,电视,-1,25:00-05:00,\n"  # row 4: no name, unknown device, bad quota, bad window
    "hb-xt-0014,东庄村,河北省,老式机顶盒（标清）,,,\n"  # row 5
    "\n"  # row 6: empty, as Excel shows it
    "hb-xt-0012,北关村,河北省,手机,0.5,,0\n"  # row 7: a repeated code and a zero bandwidth cap
    "hb-xt-0015,   ,河北省,电脑,,,\n"  # row 8: a name of spaces is no name
)


def test_csv_import_reads_chinese_and_reports_every_problem_of_every_row(
    client: TestClient, admin: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/sites/import",
        headers={**admin, "Content-Type": "text/csv"},
        content=CHINESE.encode("gb18030"),
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert [(s["code"], s["device_profile"]) for s in result["created"]] == [
        ("hb-xt-0012", "iptv"),
        ("hb-xt-0014", "iptv-legacy"),
    ]
    assert result["created"][0]["bandwidth_kbps"] == 4000 and result["created"][0]["quota_bytes"] == 200 * GB
    problems = {e["line"]: [(p["column"], p["code"]) for p in e["problems"]] for e in result["errors"]}
    assert problems == {
        2: [("站点名称 name", "sites.control_character")],
        4: [
            ("设备类型", "sites.row_device_unknown"),
            ("站点名称 name", "sites.row_required"),
            ("存储配额（GB）", "problem.greater_than"),
            ("下载时段", "sites.window_malformed"),
        ],
        7: [("带宽上限", "problem.greater_than_equal"), ("站点编码", "sites.row_code_repeated")],
        8: [("站点名称 name", "sites.row_required")],
    }
    row4 = next(e for e in result["errors"] if e["line"] == 4)
    assert row4["message"] == (
        "“设备类型”列（填的是“电视”）：只能填写 机顶盒、老式机顶盒、手机、电脑 之一；"
        "“站点名称 name”列：必须填写，不能为空；"
        "“存储配额（GB）”列（填的是“-1”）：应当大于 0；"
        "“下载时段”列（填的是“25:00-05:00”）："
        "下载时段“25:00-05:00”的格式不对：请写成 01:00-05:00 这样的 24 小时制时间"
    )
    assert row4["problems"][0]["params"] == {
        "names": ["sites.device.iptv", "sites.device.iptv-legacy", "sites.device.mobile", "sites.device.pc"]
    }
    # nothing of a bad row was imported, the good rows were
    assert [s["code"] for s in client.get("/api/v1/sites", headers=admin).json()] == [
        "hb-xt-0012",
        "hb-xt-0014",
    ]
    again = client.post(
        "/api/v1/sites/import",
        headers={**admin, "Content-Type": "text/csv", "Accept-Language": "en"},
        content=CHINESE.encode(),
    ).json()
    assert again["created"] == []
    assert next(e for e in again["errors"] if e["line"] == 3)["message"] == (
        "column '站点编码' ('hb-xt-0012'): A site with code 'hb-xt-0012' already exists"
    )
    assert (
        "column '设备类型' ('电视'): should be one of iptv, iptv-legacy, mobile, pc"
        in next(e for e in again["errors"] if e["line"] == 4)["message"]
    )


def test_csv_import_from_the_command_line(settings: Settings, client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(CSV, encoding="utf-8")
    r = CliRunner().invoke(
        cli, ["site", "import", str(path)], env={"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    )
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and "第 3 行： “device_profile”列" in said
    assert "登记了 2 个站点，3 行未通过" in said


def _site(
    client: TestClient, db: Database, admin: dict[str, str], code: str, profile: str
) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    site = next(s for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == code)
    with db.session_scope() as s:
        from mediasrv.sites.models import DeviceProfile, Site

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
    assert refused.status_code == 400 and refused.json()["code"] == "sites.csv_unreadable"
    assert refused.json()["params"] == {"row": 2}


# Each row is refused alone, by its line, for what the API would refuse: numbers a float or a
# 64-bit column cannot hold, control characters (an XLSX cannot hold a NUL), over-long text.
BAD_ROWS = (
    "code,name,region,quota_gb,bandwidth_kbps\n"
    "ok-1,西塘村,河北省,200,4000\n"  # line 2
    "nan-1,东庄村,河北省,nan,\n"
    "inf-1,南街村,河北省,inf,\n"
    "big-1,北关村,河北省,1e30,\n"
    "neg-1,前进村,河北省,-5,\n"
    "bw-1,后屯村,河北省,,9223372036854775808\n"
    "nul-1,西\x00塘,河北省,,\n"
    "esc-1,西塘,河北省\x1b[31m,,\n"
    "bad\x07code,西塘,河北省,,\n"
    "long-1," + "长" * 100_000 + ",河北省,,\n"  # line 11
    "ok-2,最后一村,河北省/邢台市,1.5,\n"
)


def test_csv_rows_get_the_apis_limits_each_refused_alone(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/sites/import", headers={**admin, "Content-Type": "text/csv"}, content=BAD_ROWS.encode()
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert [(s["code"], s["quota_bytes"]) for s in result["created"]] == [
        ("ok-1", 200 * 1024**3),
        ("ok-2", round(1.5 * 1024**3)),
    ]
    errors = {e["line"]: e["message"] for e in result["errors"]}
    problems = {e["line"]: [(p["column"], p["code"]) for p in e["problems"]] for e in result["errors"]}
    assert sorted(errors) == list(range(3, 12))
    for line in (3, 4, 5, 6):
        assert problems[line][0][0] == "quota_gb", errors[line]
    assert "有限的数字" in errors[3] and "有限的数字" in errors[4] and "4294967296" in errors[5]
    assert problems[7] == [("bandwidth_kbps", "problem.less_than_equal")] and "10000000" in errors[7]
    assert problems[8] == [("name", "sites.control_character")] and "U+0000" in errors[8]
    assert problems[9] == [("region", "sites.control_character")] and "U+001B" in errors[9]
    assert problems[10] == [("code", "sites.control_character")] and "U+0007" in errors[10]
    assert problems[11] == [("name", "problem.string_too_long")] and "最多 200 个字" in errors[11]
    assert len(errors[11]) < 300  # the message names the problem, it does not echo 100,000 characters
    assert "\x00" not in errors[8]  # shown, a control character would break the page and Excel
    sites = client.get("/api/v1/sites", headers=admin).json()
    assert [s["code"] for s in sites] == ["ok-1", "ok-2"]
    xlsx = client.get("/api/v1/compliance.xlsx", headers=admin)  # every admin's export still works
    assert xlsx.status_code == 200


def test_the_api_refuses_control_characters_in_site_text(client: TestClient, admin: dict[str, str]) -> None:
    body = {"code": "hb-1", "name": "西塘村", "region": "河北省"}
    for field, value in (("name", "西\x00塘"), ("region", "河北省\n邢台市"), ("code", "hb\x7f1")):
        r = client.post("/api/v1/sites", headers=admin, json={**body, field: value})
        assert r.status_code == 422 and "控制字符" in r.json()["message"]
        assert [p["field"] for p in r.json()["problems"]] == [field]
    site = client.post("/api/v1/sites", headers=admin, json=body).json()
    for field, value in (("name", "西塘\u0085村"), ("region", "河北省\t")):
        r = client.patch(f"/api/v1/sites/{site['id']}", headers=admin, json={field: value})
        assert r.status_code == 422 and [p["field"] for p in r.json()["problems"]] == [field], r.text
    assert client.get("/api/v1/sites", headers=admin).json()[0]["name"] == "西塘村"


def test_csv_import_from_the_command_line_reports_bad_numbers_by_line(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(BAD_ROWS, encoding="utf-8")
    r = CliRunner().invoke(
        cli, ["site", "import", str(path)], env={"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    )
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and r.exception is not None and isinstance(r.exception, SystemExit), r.output
    assert "第 3 行：" in said and "登记了 2 个站点，9 行未通过" in said


def test_a_site_caller_is_stored_as_such_and_read_in_the_reader_s_language(db: Database) -> None:
    """Audit rows and study records keep "site hb-xt-0012" (stored values do not change); a reader
    sees 站点 hb-xt-0012 (the pages: web/static/app.js callerName)."""
    box = make_token(db, Role.SITE, "hb-xt-0012")
    with db.session_scope() as s:
        caller = caller_from_bearer(s, box["Authorization"].removeprefix("Bearer "))
    assert caller.name == Caller.site_name("hb-xt-0012") == "site hb-xt-0012"
    said = caller_text(caller.name)
    assert isinstance(said, Text)
    assert (render(said.key, "zh", said.params), render(said.key, "en", said.params)) == (
        "站点 hb-xt-0012",
        "site hb-xt-0012",
    )
    assert caller_text("zhangwei") == "zhangwei"
