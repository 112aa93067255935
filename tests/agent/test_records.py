"""Study records at the site: members record sessions, photos, ratings and topic requests on the site
view (the agent's LAN origin); the agent keeps them in its outbox through line outages and restarts
and the sync run delivers each once; what the server refuses stays, with its reason, on the site view."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.agent import serve
from mediasrv.agent.layout import Layout
from mediasrv.agent.records import Kind, Outbox, RecordSender, State, new_demand, new_session
from mediasrv.agent.serve import create_app, lan_host
from mediasrv.db import Database
from mediasrv.kit.caller import Role
from mediasrv.protocol.china import CHINA
from tests.e2e.stack import free_port
from tests.fixtures import make_token

LAN = "http://192.168.1.20:8080"
SITE_VIEW = {"X-Site-View": "1", "Origin": LAN, "Sec-Fetch-Site": "same-origin"}
GPS = b"GPS-31.2304N-121.4737E"
# Sessions a few days ago (the site takes only the last 62 days), both in one Beijing month.
DAY = (datetime.now(CHINA) - timedelta(days=3)).date()
STARTED, LATER = f"{DAY.isoformat()}T19:30+08:00", f"{DAY.isoformat()}T20:30+08:00"


class Site:
    def __init__(self, client: TestClient, db: Database, admin: dict[str, str]) -> None:
        self.headers = make_token(db, Role.SITE, "xitang")
        self.id = next(
            s["id"] for s in client.get("/api/v1/sites", headers=admin).json() if s["code"] == "xitang"
        )
        self.client, self.admin = client, admin

    def sender(self, layout: Layout, client: httpx.Client | None = None) -> RecordSender:
        if client is None:
            self.client.headers.update(self.headers)
            client = self.client
        return RecordSender(layout, client, self.id)

    def sessions(self) -> list[dict[str, Any]]:
        r = self.client.get(
            f"/api/v1/sites/{self.id}/sessions", headers=self.admin, params={"month": DAY.strftime("%Y-%m")}
        )
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()
        return result


@pytest.fixture
def site(client: TestClient, db: Database, admin: dict[str, str]) -> Site:
    return Site(client, db, admin)


@pytest.fixture
def programme(client: TestClient, producer: dict[str, str]) -> str:
    """A programme the server knows (a draft: no film needed to be recorded or rated)."""
    r = client.post(
        "/api/v1/programmes", headers=producer, json={"title": "党史学习", "category": "party-history"}
    )
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    return pid


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "mediasrv-site")


@pytest.fixture
def local(layout: Layout) -> Iterator[LocalClient]:
    with LocalClient(create_app(layout), base_url=LAN) as c:
        yield c


def session(programme: str | None = None, **change: Any) -> dict[str, Any]:
    body = {
        "started_at": STARTED,
        "minutes": 90,
        "members_present": 12,
        "notes": "讨论：学用结合",
        "programmes": [programme] if programme else [],
        **change,
    }
    return body


def record(local: LocalClient, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    r = local.post(f"/records/{kind}", json=body, headers=SITE_VIEW)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def states(local: LocalClient) -> dict[str, tuple[str, str | None]]:
    return {r["id"]: (r["state"], r["message"]) for r in local.get("/records").json()["records"]}


def unreachable(site: Site) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", headers=site.headers)


def test_a_session_kept_through_an_outage_and_a_restart_is_delivered_once(
    layout: Layout, site: Site, programme: str
) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        kept = record(local, "sessions", session(programme))
    assert kept["state"] == "pending" and len(kept["id"]) == 32

    down = site.sender(layout, unreachable(site)).deliver()
    assert (down.sent, down.queued) == (0, 1) and down.error and "unreachable" in down.error
    busy = httpx.Client(
        base_url="http://central", transport=httpx.MockTransport(lambda _: httpx.Response(503))
    )
    assert site.sender(layout, busy).deliver().queued == 1  # a 5xx waits too

    # A crash in the middle of writing the next record leaves only its temporary file: ignored.
    (layout.root / "records" / f".{'f' * 32}.json.tmp").write_bytes(b'{"kind": "sess')

    with LocalClient(create_app(layout), base_url=LAN) as local:  # the agent restarted
        assert states(local) == {kept["id"]: ("pending", None)}
        assert "503" in local.get("/records").json()["delivery"]["error"]  # the site view says why
        up = site.sender(layout).deliver()
        assert (up.sent, up.refused, up.queued, up.error) == (1, 0, 0, None)
        assert states(local) == {kept["id"]: ("delivered", None)}
        assert local.get("/records").json()["delivery"]["error"] is None
        assert site.sender(layout).deliver().sent == 0  # nothing left to send
    [got] = site.sessions()
    assert (got["id"], got["day"], got["minutes"], got["members_present"]) == (
        kept["id"],
        DAY.isoformat(),
        90,
        12,
    )
    assert (
        got["programmes"] == [{"programme_id": programme, "minutes": None}]
        and got["notes"] == "讨论：学用结合"
    )


class LosesAnswers:
    """The central server's client, but every answer is lost on the way back (the request arrived)."""

    def __init__(self, client: TestClient) -> None:
        self.client, self.base_url = client, client.base_url

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.client.request(method, url, **kwargs)
        raise httpx.ReadError("connection reset by peer")


def test_a_replay_after_a_lost_answer_records_once(
    client: TestClient, layout: Layout, local: LocalClient, site: Site, programme: str
) -> None:
    kept = record(local, "sessions", session())
    record(local, "demands", {"topic": "果树冬季修剪", "members": 5})
    site.client.headers.update(site.headers)
    lossy = cast(httpx.Client, LosesAnswers(client))
    lost = site.sender(layout, lossy).deliver()
    assert (lost.sent, lost.queued) == (0, 2) and lost.error
    assert [s["id"] for s in site.sessions()] == [kept["id"]]  # it did arrive

    again = site.sender(layout).deliver()
    assert (again.sent, again.queued) == (2, 0)
    assert [s["id"] for s in site.sessions()] == [kept["id"]]
    [asked] = client.get("/api/v1/demands", headers=site.admin).json()
    assert (asked["topic"], asked["requests"], asked["members"]) == ("果树冬季修剪", 1, 5)
    assert set(states(local).values()) == {("delivered", None)}


def test_a_refused_record_is_kept_with_the_servers_reason(
    layout: Layout, local: LocalClient, site: Site, programme: str, tmp_path: Path
) -> None:
    bad = record(local, "sessions", session("no-such-programme"))
    photo = local.post(
        f"/records/sessions/{bad['id']}/photos",
        files={"photo": ("合影.jpg", jpeg(tmp_path))},
        headers=SITE_VIEW,
    )
    assert photo.status_code == 201, photo.text
    good = record(local, "sessions", session(programme, started_at=LATER))

    result = site.sender(layout).deliver()
    assert (result.sent, result.refused, result.queued) == (1, 2, 0)  # the refusal does not block the rest
    shown = states(local)
    assert shown[good["id"]] == ("delivered", None)
    state, message = shown[bad["id"]]
    assert (
        state == "refused" and message and "没有编号为 no-such-programme 的节目" in message
    )  # the server's words, in Chinese
    kept_bad = Outbox(layout).get(bad["id"])
    assert kept_bad is not None and kept_bad.status is not None and 400 <= kept_bad.status < 500
    assert shown[photo.json()[0]["id"]][0] == "refused"
    assert site.sender(layout).deliver().refused == 0  # not sent again
    late = local.post(
        f"/records/sessions/{bad['id']}/photos", files={"photo": ("b.jpg", jpeg(tmp_path))}, headers=SITE_VIEW
    )
    assert late.status_code == 409 and "重新记录" in late.json()["message"]
    assert [s["id"] for s in site.sessions()] == [good["id"]]
    assert not list((layout.root / "records" / "photos").iterdir())  # refused bytes are not kept


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example", "X-Site-View": "1"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "X-Site-View": "1"}, 403),
        ({"Origin": LAN}, 403),  # no custom header: a form elsewhere could have sent it
    ],
    ids=["other-origin", "cross-site", "no-header"],
)
def test_posts_from_elsewhere_are_refused(
    local: LocalClient, layout: Layout, headers: dict[str, str], status: int
) -> None:
    r = local.post("/records/demands", json={"topic": "乱写"}, headers=headers)
    assert r.status_code == status and "本站点页面" in r.json()["message"]
    form = local.post(
        "/records/demands", content=b"topic=x", headers={**SITE_VIEW, "Content-Type": "text/plain"}
    )  # a cross-origin "simple" request can send this without a preflight
    assert form.status_code == 403 and "JSON" in form.json()["message"]
    assert Outbox(layout).all() == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"minutes": 0}, "学习时长（分钟）应是 1 到 1440"),
        ({"members_present": -1}, "参学人数应是 0 到 100000"),
        ({"started_at": "2026-11-20T19:30"}, "缺少时区"),
        ({"started_at": "2999-01-01T19:30+08:00"}, "晚于现在"),
        ({"started_at": f"00{STARTED[2:]}"}, "请检查年份"),  # a mistyped year: 0026
        ({"started_at": "0001-01-01T00:00+08:00"}, "请检查年份"),
        ({"minutes": "９０"}, "学习时长（分钟）应是"),  # full-width digits
        ({"minutes": "²"}, "学习时长（分钟）应是"),  # isdigit() says True, int() raises
        ({"members_present": "1" * 5000}, "参学人数应是"),
        ({"notes": ["讨论"]}, "讨论记录应是文字"),
        ({"notes": {"a": 1}}, "讨论记录应是文字"),
        ({"id": "A" * 32}, "记录编号不对"),
        ({"id": "../" + "a" * 29}, "记录编号不对"),
        ({"id": 12}, "记录编号不对"),
    ],
    ids=[
        "minutes",
        "members",
        "no-offset",
        "future",
        "year-0026",
        "year-1",
        "full-width",
        "superscript",
        "huge-number",
        "notes-list",
        "notes-dict",
        "id-upper",
        "id-path",
        "id-number",
    ],
)
def test_a_mistake_is_said_at_the_site(
    local: LocalClient, layout: Layout, change: dict[str, Any], says: str
) -> None:
    r = local.post("/records/sessions", json=session(**change), headers=SITE_VIEW)
    assert r.status_code == 400 and says in r.json()["message"], r.text
    assert Outbox(layout).all() == []


def jpeg(tmp: Path) -> bytes:
    """A small JPEG with an EXIF block carrying a GPS mark, as a phone sends it."""
    path = tmp / "photo.jpg"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1"]
    subprocess.run([*cmd, str(path)], check=True)
    data = path.read_bytes()
    app1 = b"Exif\x00\x00" + GPS
    return data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:]


def test_photos_ratings_and_requests_arrive(
    client: TestClient, layout: Layout, local: LocalClient, site: Site, programme: str, tmp_path: Path
) -> None:
    kept = record(local, "sessions", session(programme))
    url = f"/records/sessions/{kept['id']}/photos"
    photo = jpeg(tmp_path)
    not_photo = local.post(url, files={"photo": ("讲话稿.pdf", b"%PDF-1.4\n")}, headers=SITE_VIEW)
    assert not_photo.status_code == 415 and "“讲话稿.pdf”不是 JPEG 或 PNG" in not_photo.json()["message"]
    added = local.post(url, files={"photo": ("学习.jpg", photo, "image/jpeg")}, headers=SITE_VIEW)
    assert added.status_code == 201, added.text
    assert (
        local.post(
            "/records/sessions/nope1234/photos", files={"photo": ("a.jpg", photo)}, headers=SITE_VIEW
        ).status_code
        == 404
    )
    record(local, "ratings", {"programme_id": programme, "rating": 4, "comment": " 很实用 "})
    record(
        local,
        "demands",
        {"topic": "果树  冬季修剪", "category": "agri-tech", "detail": "想看实操", "members": 7},
    )
    bad_category = local.post("/records/demands", json={"topic": "x", "category": "nope"}, headers=SITE_VIEW)
    assert bad_category.status_code == 400 and "类别" in bad_category.json()["message"]

    result = site.sender(layout).deliver()
    assert (result.sent, result.refused, result.queued, result.error) == (4, 0, 0, None)
    assert not list((layout.root / "records" / "photos").iterdir())  # delivered: not kept twice

    [got] = site.sessions()
    [kept_photo] = got["photos"]
    image = client.get(
        f"/api/v1/sites/{site.id}/sessions/{kept['id']}/photos/{kept_photo['id']}", headers=site.admin
    )
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8") and GPS not in image.content
    [rated] = client.get("/api/v1/ratings", headers=site.admin).json()
    assert (rated["programme_id"], rated["average"], rated["comments"]) == (programme, 4, ["很实用"])
    [asked] = client.get("/api/v1/demands", headers=site.admin).json()
    assert (asked["topic"], asked["category"], asked["members"]) == ("果树 冬季修剪", "agri-tech", 7)


def test_a_photo_over_the_limit_is_refused_by_name(
    local: LocalClient, layout: Layout, tmp_path: Path
) -> None:
    kept = record(local, "sessions", session())
    big = b"\xff\xd8\xff" + bytes(10 * 2**20)
    r = local.post(
        f"/records/sessions/{kept['id']}/photos", files={"photo": ("大照片.jpg", big)}, headers=SITE_VIEW
    )
    assert r.status_code == 413 and "“大照片.jpg”" in r.json()["message"] and "10 MB" in r.json()["message"]
    assert [x.kind for x in Outbox(layout).all()] == ["session"]


def test_a_post_by_a_name_that_rebinds_to_the_pc_is_refused(layout: Layout) -> None:
    """DNS rebinding: a page at evil.example whose name now resolves to the PC is "same origin" to the
    browser, so its Host header (not an address or the PC's name) is what gives it away."""
    with LocalClient(create_app(layout), base_url="http://evil.example:8080") as c:
        same = {**SITE_VIEW, "Origin": "http://evil.example:8080", "Sec-Fetch-Site": "same-origin"}
        r = c.post("/records/demands", json={"topic": "乱写"}, headers=same)
    assert r.status_code == 403 and "evil.example" in r.json()["message"]
    assert Outbox(layout).all() == []
    assert [lan_host(h) for h in ("192.168.1.20:8080", "[fe80::1]:8080", "localhost", "evil.example:80")] == [
        True, True, True, False,
    ]  # fmt: skip


def test_demand_fields_of_the_wrong_type_are_said_not_crashed_on(local: LocalClient, layout: Layout) -> None:
    for body, says in (
        ({"topic": "果树修剪", "category": ["agri-tech"]}, "类别应是文字"),
        ({"topic": "果树修剪", "category": {"a": 1}}, "类别应是文字"),
        ({"topic": ["果树修剪"]}, "需求主题应是文字"),
        ({"topic": "果树修剪", "members": "３"}, "提出需求的人数应是"),
    ):
        r = local.post("/records/demands", json=body, headers=SITE_VIEW)
        assert r.status_code == 400 and says in r.json()["message"], (body, r.text)
    assert Outbox(layout).all() == []


def test_a_json_body_over_the_cap_is_refused_with_413(local: LocalClient, layout: Layout) -> None:
    big = json.dumps({"topic": "果树修剪", "detail": "x" * (300 * 1024)}).encode()
    headers = {**SITE_VIEW, "Content-Type": "application/json"}
    said = local.post("/records/demands", content=big, headers=headers)  # with its Content-Length
    assert said.status_code == 413 and "256 KB" in said.json()["message"]
    chunked = local.post("/records/demands", content=iter([big[:100_000], big[100_000:]]), headers=headers)
    assert chunked.status_code == 413  # no Content-Length: counted while read
    assert Outbox(layout).all() == []


def test_a_form_sent_twice_with_its_id_is_kept_once(local: LocalClient, layout: Layout) -> None:
    """A second OK, or the retry after an answer lost on the LAN, sends the form's id again."""
    for kind, body in (
        ("sessions", session(id="a" * 32)),
        ("ratings", {"id": "b" * 32, "programme_id": "p-01", "rating": 4}),
        ("demands", {"id": "c" * 32, "topic": "果树修剪"}),
    ):
        first = local.post(f"/records/{kind}", json=body, headers=SITE_VIEW)
        again = local.post(f"/records/{kind}", json=body, headers=SITE_VIEW)
        assert (first.status_code, again.status_code) == (201, 200), again.text
        assert first.json() == again.json() and first.json()["id"] == body["id"]
    assert sorted(r.id for r in Outbox(layout).all()) == ["a" * 32, "b" * 32, "c" * 32]
    other = local.post("/records/demands", json={"id": "a" * 32, "topic": "别的"}, headers=SITE_VIEW)
    assert other.status_code == 409  # another kind's id: never taken for it
    assert len(Outbox(layout).all()) == 3


def apply_manifest(layout: Layout, programme_ids: list[str]) -> None:
    layout.ensure()
    programmes = [
        {"id": pid, "rank": n, "required": True, "title": pid, "category": None, "duration_seconds": 60,
         "play": f"a{n}/g1/master.m3u8", "poster": None, "attachments": []}
        for n, pid in enumerate(programme_ids)
    ]  # fmt: skip
    site = {"id": 7, "code": "xitang", "name": "西塘村", "download_window": None, "bandwidth_kbps": None}
    layout.adopt(
        {"site": site,
         "version": 1, "device_profile": "iptv", "programmes": programmes, "dropped": [], "bytes": 0,
         "files": []}
    )  # fmt: skip


def test_programmes_not_in_the_applied_manifest_are_said_at_the_site(
    local: LocalClient, layout: Layout
) -> None:
    apply_manifest(layout, ["p-01"])
    for kind, body in (
        ("sessions", session("p-01", programmes=["p-01", "gone?x=1"])),
        ("ratings", {"programme_id": "gone?x=1", "rating": 4}),
    ):
        r = local.post(f"/records/{kind}", json=body, headers=SITE_VIEW)
        assert r.status_code == 400 and "节目单中没有编号为“gone?x=1”的节目" in r.json()["message"], r.text
    assert Outbox(layout).all() == []
    record(local, "ratings", {"programme_id": "p-01", "rating": 5})
    record(local, "sessions", session("p-01"))


def central(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.Client(base_url="http://central", transport=httpx.MockTransport(handler))


def mediasrv_error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": "nope", "message": message})


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            httpx.Response(302, headers={"Location": "https://central/api/v1/sites"}),
            "302 redirect to https://central",
        ),
        (httpx.Response(200, html="<html><title>Welcome to FreeWiFi</title>login</html>"), "HTML page"),
        (
            httpx.Response(404, html="<html><title>404 Not Found</title><h1>nginx</h1></html>"),
            "404 an HTML page",
        ),
        (httpx.Response(404, json={"detail": "Not Found"}), "404"),  # not mediasrv's error
    ],
    ids=["redirect", "captive-200", "proxy-404", "older-server-404"],
)
def test_answers_that_are_not_the_servers_keep_records_pending(
    local: LocalClient, layout: Layout, tmp_path: Path, answer: httpx.Response, says: str
) -> None:
    kept = record(local, "sessions", session())
    photo = local.post(
        f"/records/sessions/{kept['id']}/photos",
        files={"photo": ("合影.jpg", jpeg(tmp_path))},
        headers=SITE_VIEW,
    )
    assert photo.status_code == 201
    seen: list[httpx.Request] = []
    result = RecordSender(layout, central(lambda _: answer, seen), 7).deliver()
    assert (result.sent, result.refused, result.queued) == (0, 0, 2)
    assert result.error and says in result.error and "<" not in result.error, result.error
    assert len(seen) == 1  # it says nothing about this record: the run stops
    assert {r.state for r in Outbox(layout).all()} == {State.PENDING}
    assert len(list((layout.root / "records" / "photos").iterdir())) == 1  # the photo's bytes are kept
    assert result.error in local.get("/records").json()["delivery"]["error"]


def test_a_real_mediasrv_refusal_refuses(local: LocalClient, layout: Layout) -> None:
    a = record(local, "sessions", session())
    b = record(local, "demands", {"topic": "果树修剪"})
    answers = {
        "/api/v1/sites/7/sessions": mediasrv_error(422, "The request does not match the API: minutes."),
        "/api/v1/sites/7/demands": mediasrv_error(404, "No site 7."),
    }
    result = RecordSender(layout, central(lambda r: answers[r.url.path], []), 7).deliver()
    assert (result.sent, result.refused, result.queued, result.error) == (0, 2, 0, None)
    shown = states(local)
    assert shown[a["id"]] == ("refused", "The request does not match the API: minutes.")
    assert shown[b["id"]] == ("refused", "No site 7.")


def test_a_record_the_server_fails_on_does_not_hold_back_the_others(
    local: LocalClient, layout: Layout, tmp_path: Path
) -> None:
    broken = record(local, "sessions", session())
    photo = local.post(
        f"/records/sessions/{broken['id']}/photos",
        files={"photo": ("a.jpg", jpeg(tmp_path))},
        headers=SITE_VIEW,
    ).json()[0]
    fine = record(local, "sessions", session(started_at=LATER))
    asked = record(local, "demands", {"topic": "果树修剪"})
    rated = record(local, "ratings", {"programme_id": "p/01?x#y", "rating": 3})

    def answer(request: httpx.Request) -> httpx.Response:
        if request.content and broken["id"].encode() in request.content:
            return httpx.Response(500, text="Internal Server Error")
        return httpx.Response(201, json={"ok": True})

    seen: list[httpx.Request] = []
    result = RecordSender(layout, central(answer, seen), 7).deliver()
    assert (result.sent, result.refused, result.queued) == (3, 0, 2)
    assert result.error and "500" in result.error
    shown = states(local)
    assert {k: v[0] for k, v in shown.items()} == {
        broken["id"]: "pending", photo["id"]: "pending", fine["id"]: "delivered",
        asked["id"]: "delivered", rated["id"]: "delivered",
    }  # fmt: skip
    assert not any(r.url.path.endswith("/photos") for r in seen)  # its photo waits with it
    assert b"/api/v1/sites/7/ratings/p%2F01%3Fx%23y" in [r.url.raw_path for r in seen]  # one path segment

    # A server that is down (503) stops the run: nothing else is tried.
    seen.clear()
    down = RecordSender(layout, central(lambda _: httpx.Response(503), seen), 7).deliver()
    assert (down.sent, down.queued, len(seen)) == (0, 2, 1)


def test_refused_and_delivered_records_are_forgotten_after_keep_days(layout: Layout, tmp_path: Path) -> None:
    outbox = Outbox(layout)
    old = datetime.now(UTC) - timedelta(days=70)
    refused = outbox.add(new_session(session(started_at=(old - timedelta(hours=1)).isoformat()), now=old))
    refused.state = State.REFUSED
    outbox.save(refused)
    pending = outbox.add(new_demand({"topic": "果树修剪"}, set(), now=old))
    recent = outbox.add(new_session(session()))
    recent.state = State.REFUSED
    outbox.save(recent)
    photos = outbox.photos
    photos.mkdir(parents=True, exist_ok=True)
    (photos / f"{'d' * 32}.jpg").write_bytes(b"left by a refused photo")
    outbox.prune()
    assert {r.id for r in outbox.all()} == {pending.id, recent.id}  # pending ones are kept, however old
    assert not list(photos.iterdir())
    assert [r.kind for r in outbox.all()] == [Kind.DEMAND, Kind.SESSION]


def test_the_site_view_is_told_the_pcs_time(local: LocalClient) -> None:
    before = datetime.now(UTC)
    said = datetime.fromisoformat(local.get("/records").json()["now"])
    assert said.tzinfo is not None and before <= said <= datetime.now(UTC)


# --- photos made again, a bounded outbox, the Host, the headers ------------------------------------------


def phone_photo(tmp: Path) -> bytes:
    """What a phone may send: EXIF with GPS, APP2-APP15 blocks, and a second image after the first
    (a preview or depth map, with its own GPS EXIF)."""
    first, second = jpeg(tmp), jpeg(tmp)
    apps = b"".join(bytes([0xFF, m]) + (len(GPS) + 2).to_bytes(2, "big") + GPS for m in range(0xE2, 0xF0))
    return first[:2] + apps + first[2:] + second


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_photo_is_queued_without_its_metadata_for_the_agents_user_alone(
    local: LocalClient, layout: Layout, tmp_path: Path
) -> None:
    kept = record(local, "sessions", session(notes="讨论：村务公开"))
    sent = phone_photo(tmp_path)
    assert sent.count(GPS) == 16
    r = local.post(
        f"/records/sessions/{kept['id']}/photos", files={"photo": ("合影.jpg", sent)}, headers=SITE_VIEW
    )
    assert r.status_code == 201, r.text
    [queued] = list((layout.root / "records" / "photos").iterdir())
    data = queued.read_bytes()
    assert GPS not in data and b"Exif" not in data and data.count(b"\xff\xd8") == 1
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    # Readable by the agent's user only: the photo, the records, their folders.
    records_dir = layout.root / "records"
    assert (mode(records_dir), mode(records_dir / "photos"), mode(queued)) == (0o700, 0o700, 0o600)
    assert {mode(p) for p in records_dir.glob("*.json")} == {0o600}

    damaged = local.post(
        f"/records/sessions/{kept['id']}/photos",
        files={"photo": ("坏照片.jpg", sent[: len(sent) // 4])},
        headers=SITE_VIEW,
    )
    assert damaged.status_code == 415 and "“坏照片.jpg”已损坏" in damaged.json()["message"]


def test_folders_made_before_are_made_private(layout: Layout) -> None:
    """An outbox made by an older agent (0755 folders) is closed at its next record."""
    (layout.root / "records" / "photos").mkdir(parents=True, mode=0o755)
    (layout.root / "records").chmod(0o755)
    Outbox(layout).add(new_demand({"topic": "果树修剪"}, set()))
    assert (mode(layout.root / "records"), mode(layout.root / "records" / "photos")) == (0o700, 0o700)


LAN_NAMES = ["192.168.1.20:8080", "[fe80::1]:8080", "localhost:8080", "jiaoxue:8080", "jiaoxue.lan:8080",
             "xitang-pc.local", "edu.county.example:8080"]  # fmt: skip
ROUTES = ["/", "/records", "/faults", "/playlist.json", "/playlist.m3u8", "/static/site.js", "/files/a/b.ts"]


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_answers_only_this_pcs_names(layout: Layout, route: str) -> None:
    """DNS rebinding: a page at evil.example whose name now resolves to the PC could read the
    records, the status page and the channel list; only names of the PC (addresses, one-label and
    local names, the PC's own, those given with --name) are answered, by every route."""
    apply_manifest(layout, ["p-01"])
    outbox = Outbox(layout)
    outbox.add(new_session(session(notes="讨论：村务公开")))
    app = create_app(layout, names=["edu.county.example"])
    with LocalClient(app, base_url="http://evil.example:8080") as c:
        refused = c.get(route)
        assert refused.status_code == 403 and "evil.example" in refused.json()["message"]
        assert "村务公开" not in refused.text
        for host in LAN_NAMES:
            assert c.get(route, headers={"Host": host}).status_code != 403, host
        assert c.get(route, headers={"Host": "edu.county.example.attacker.example"}).status_code == 403
    assert [lan_host(h) for h in ("jiaoxue.home.arpa", "intranet.example", "192.168.1.20.nip.io")] == [
        True, False, False,
    ]  # fmt: skip


@pytest.mark.parametrize("route", [*ROUTES, "/nothing-here"])
def test_every_answer_says_nosniff_and_what_it_may_run(
    local: LocalClient, layout: Layout, route: str
) -> None:
    apply_manifest(layout, ["p-01"])
    r = local.get(route)
    assert r.headers["x-content-type-options"] == "nosniff"
    policy = r.headers["content-security-policy"]
    if r.headers["content-type"].startswith("text/html"):
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    else:
        assert policy.startswith("default-src 'none'") and "script-src" not in policy
    refused = local.get(route, headers={"Host": "evil.example"})
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_outbox_is_bounded_and_says_so_in_chinese(layout: Layout, tmp_path: Path) -> None:
    bounded = Outbox(layout, max_pending=2)
    with LocalClient(create_app(layout, outbox=bounded), base_url=LAN) as local:
        first = record(local, "sessions", session())
        record(local, "demands", {"topic": "果树修剪"})
        full = local.post("/records/demands", json={"topic": "再一条"}, headers=SITE_VIEW)
        assert full.status_code == 507
        assert "待上传的记录已满（已有 2 条，最多 2 条），请先接通网络上传后再记录" in full.json()["message"]
        photo = local.post(
            f"/records/sessions/{first['id']}/photos",
            files={"photo": ("a.jpg", jpeg(tmp_path))},
            headers=SITE_VIEW,
        )
        assert photo.status_code == 507
        again = local.post("/records/sessions", json=session(id=first["id"]), headers=SITE_VIEW)
        assert again.status_code == 200  # a form sent again is no new record: still answered

        # Delivered, they no longer wait: there is room again.
        seen: list[httpx.Request] = []
        delivered = RecordSender(layout, central(lambda _: httpx.Response(201, json={}), seen), 7).deliver()
        assert delivered.sent == 2
        record(local, "demands", {"topic": "再一条"})
    assert len(Outbox(layout).all()) == 3 and not list((layout.root / "records" / "photos").iterdir())

    small = Outbox(layout, max_bytes=bounded.size() + 600)
    with LocalClient(create_app(layout, outbox=small), base_url=LAN) as local:
        full = local.post(
            "/records/demands", json={"topic": "果树修剪", "detail": "x" * 600}, headers=SITE_VIEW
        )
        assert full.status_code == 507 and "待上传的记录已满（已占用" in full.json()["message"]
    assert len(Outbox(layout).all()) == 3


def test_the_media_cache_keeps_its_room_on_the_disk(layout: Layout, tmp_path: Path) -> None:
    """A site whose quota the disk cannot hold yet: the films come first, records are refused."""
    apply_manifest(layout, ["p-01"])
    raw = layout.applied()
    assert raw is not None
    layout.adopt({**raw[1], "quota_bytes": 2**60})
    with LocalClient(create_app(layout), base_url=LAN) as local:
        r = local.post("/records/sessions", json=session("p-01"), headers=SITE_VIEW)
    assert (
        r.status_code == 507
        and "本机磁盘空间不足" in r.json()["message"]
        and "节目同步还需" in r.json()["message"]
    )
    assert Outbox(layout).all() == []


def test_posts_are_rate_limited_per_address(layout: Layout) -> None:
    now = [1000.0]
    app = create_app(layout, clock=lambda: now[0])
    with (
        LocalClient(app, base_url=LAN) as local,
        LocalClient(app, base_url=LAN, client=("192.168.1.77", 5000)) as other,
    ):
        for n in range(serve.POST_BURST):
            record(local, "demands", {"topic": f"主题{n}"})
        refused = local.post("/records/demands", json={"topic": "太快"}, headers=SITE_VIEW)
        assert refused.status_code == 429 and "提交太频繁" in refused.json()["message"]
        assert int(refused.headers["retry-after"]) >= 1
        record(other, "demands", {"topic": "另一台"})  # another box is not held back
        now[0] += serve.POST_EVERY
        record(local, "demands", {"topic": "过一会儿"})
    assert len(Outbox(layout).all()) == serve.POST_BURST + 2
