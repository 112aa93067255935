"""mediasrv.admission: credentials and size caps before any body is read; security headers on every
answer. The app is called as an HTTP server calls it, with a `receive` that hands the body over as
the app asks for it and counts what it took: "nothing was read" is measured, not assumed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Response
from fastapi.testclient import TestClient
from starlette.formparsers import MultiPartParser
from starlette.types import Message

from mediasrv import admission
from mediasrv.accounts.auth import public
from mediasrv.admission import (
    CAPS,
    DATA_POLICY,
    DOCS_POLICY,
    PAGE_POLICY,
    PDF_POLICY,
    PUBLIC_CAP,
    Admission,
)
from mediasrv.config import Settings
from tests.fixtures import ReadyAsset, migrated
from tests.test_access import concrete, endpoints

MIB = 1024 * 1024
CHUNK = 64 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Small upload limits, so that going over them is quick."""
    return Settings(data_dir=migrated(tmp_path / "var"), max_upload_bytes=2 * MIB, photo_max_bytes=MIB)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    read: int  # body bytes the app took from the server
    scope: dict[str, Any] = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    client: TestClient,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> Answer:
    """One request to the app (inside its running lifespan), the body fed in 64 KiB chunks on demand,
    with a Content-Length unless `chunked`."""
    sent = {k.lower(): v for k, v in (headers or {}).items()}
    if body and not chunked:
        sent["content-length"] = str(len(body))
    elif chunked:
        sent["transfer-encoding"] = "chunked"
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "extensions": {},
    }
    read = 0
    messages: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if read >= len(body) and (read or not body):
            return {"type": "http.disconnect"}
        chunk = body[read : read + CHUNK]
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": read < len(body)}

    async def send(message: Message) -> None:
        messages.append(message)

    async def run() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(run)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    names = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], names, content, read, scope)


def _multipart(size: int, field: str = "file") -> tuple[bytes, dict[str, str]]:
    boundary = "admission-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\xff" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


JSON = {"Content-Type": "application/json"}


def _big_json(size: int) -> bytes:
    """About `size` bytes of a programme's JSON."""
    body = {"title": "x", "category": "party-spirit", "description": "党" * (size // 3)}
    return json.dumps(body, ensure_ascii=False).encode()


# --- credentials before the body ---------------------------------------------------------------


def test_a_stranger_cannot_make_the_server_read_a_body(client: TestClient) -> None:
    """Today's defect: FastAPI parsed (or spooled) the whole body, then answered 401. Each body is
    within its route's cap: only the missing credentials refuse it."""
    form, form_type = _multipart(900 * 1024)
    cases = [
        ("POST", "/api/v1/programmes", _big_json(900 * 1024), JSON),  # JSON, parsed in memory
        ("POST", "/api/v1/sites/1/sessions/s1/photos", form, form_type),  # a form, spooled to /tmp
        ("POST", "/api/v1/assets", form, form_type),
        ("PATCH", "/api/v1/uploads/" + "0" * 32, form, {"Content-Type": "application/offset+octet-stream"}),
    ]
    for method, path, body, headers in cases:
        for chunked in (False, True):
            for credentials in ({}, {"Authorization": "Bearer msv_not-a-token"}):
                r = call(client, method, path, body=body, headers={**headers, **credentials}, chunked=chunked)
                assert (r.status, r.read) == (401, 0), (method, path, chunked, credentials, r.body)
                assert r.json()["error"] == "unauthorized"


def test_a_caller_of_another_role_is_refused_before_the_body(
    client: TestClient, site: dict[str, str], producer: dict[str, str]
) -> None:
    body = _big_json(512 * 1024)
    r = call(client, "POST", "/api/v1/programmes", body=body, headers={**site, **JSON})
    assert (r.status, r.read) == (403, 0), r.body
    assert "编导、管理员" in r.json()["message"]  # the roles it needs
    # The caller's own role gets its body read, and judged by the route as ever.
    r = call(client, "POST", "/api/v1/programmes", body=body, headers={**producer, **JSON})
    assert (r.status, r.read) == (422, len(body)), r.body
    assert "最多 20000 个字" in r.json()["message"]


def test_a_session_cookie_needs_its_csrf_header_before_the_body(
    client: TestClient, admin: dict[str, str]
) -> None:
    person = {"username": "li.admin", "role": "admin", "password": "长城-Great-Wall-2026"}
    assert client.post("/api/v1/users", headers=admin, json=person).status_code == 201
    login = client.post("/auth/login", data={"username": "li.admin", "password": person["password"]})
    assert login.status_code == 200, login.text
    cookie = {"Cookie": f"mediasrv_session={login.cookies['mediasrv_session']}", **JSON}
    body = json.dumps({"code": "hb-001", "name": "西塘村", "region": "河北省"}).encode() + b" " * 20_000
    r = call(client, "POST", "/api/v1/sites", body=body, headers=cookie)
    assert (r.status, r.read) == (403, 0), r.body
    assert "X-CSRF-Token" in r.json()["message"]
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    r = call(client, "POST", "/api/v1/sites", body=body, headers={**cookie, **csrf})
    assert (r.status, r.read) == (201, len(body)), r.body


# --- size caps ------------------------------------------------------------------------------------


def test_a_declared_length_over_the_cap_is_refused_at_once(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str]
) -> None:
    cases = [  # (caller, method, path, body, headers, what the message names)
        (
            producer,
            "POST",
            "/api/v1/tokens",
            _big_json(100 * 1024),
            JSON,
            "POST /api/v1/tokens 可接受的 64.0 KiB",
        ),
        (producer, "POST", "/api/v1/programmes", _big_json(2 * MIB), JSON, "可接受的 1.0 MiB"),
        (admin, "POST", "/api/v1/sites/import", b"code,name\n" * 600_000, {}, "超过了 5.0 MiB 的上限"),
        (producer, "POST", "/api/v1/assets", *_multipart(3 * MIB), "超过了 2.0 MiB 的上限"),
        (site, "POST", "/api/v1/sites/1/sessions/s1/photos", *_multipart(2 * MIB), "超过了 1.0 MiB 的上限"),
    ]
    for caller, method, path, body, headers, names in cases:
        r = call(client, method, path, body=body, headers={**caller, **headers})
        assert (r.status, r.read) == (413, 0), (path, r.body)
        assert names in r.json()["message"], r.json()
        upload = "上限" in names  # files: the code the routes' own size checks use
        assert r.json()["error"] == ("upload_too_large" if upload else "body_too_large")


def test_a_chunked_or_lying_body_is_cut_off_at_the_cap(client: TestClient, producer: dict[str, str]) -> None:
    """No Content-Length (chunked), so the cap is enforced on what is read."""
    for method, path, body, headers, said in [
        (
            "POST",
            "/api/v1/tokens",
            _big_json(3 * MIB),
            JSON,
            "请求内容超过了 POST /api/v1/tokens 可接受的 64.0 KiB",
        ),
        (
            "POST",
            "/api/v1/programmes",
            _big_json(3 * MIB),
            JSON,
            "请求内容超过了 POST /api/v1/programmes 可接受的 1.0 MiB",
        ),
        ("POST", "/api/v1/assets", *_multipart(3 * MIB), "2.0 MiB"),  # the route streams it (its own words)
    ]:
        r = call(client, method, path, body=body, headers={**producer, **headers}, chunked=True)
        assert r.status == 413, (path, r.body)
        assert r.json()["error"] in ("body_too_large", "upload_too_large")
        assert said in r.json()["message"], r.json()
        assert r.read < 2 * MIB + 64 * 1024 + CHUNK, path  # the cap and one chunk at most


def test_a_chunked_csv_is_cut_off_at_its_cap(client: TestClient, admin: dict[str, str]) -> None:
    """The site import reads its body whole: admission's count is the only bound on it."""
    r = call(
        client, "POST", "/api/v1/sites/import", body=b"code,name\n" * 600_000, headers=admin, chunked=True
    )
    assert (r.status, r.json()["error"]) == (413, "upload_too_large"), r.body
    assert "上传的文件超过了 5.0 MiB 的上限" in r.json()["message"]
    assert r.read <= 5 * MIB + CHUNK  # the cap and one chunk at most


def test_login_takes_only_a_small_form_and_never_spools_it(client: TestClient) -> None:
    """/auth/login is public: a stranger may send it a form, but only a few kilobytes of it."""
    form, headers = _multipart(40 * MIB, field="username")
    r = call(client, "POST", "/auth/login", body=form, headers=headers)
    assert (r.status, r.read) == (413, 0), r.body
    assert "超过了 POST /auth/login 可接受的 8.0 KiB" in r.json()["message"]
    r = call(client, "POST", "/auth/login", body=form, headers=headers, chunked=True)
    assert r.status == 413 and r.read <= PUBLIC_CAP + CHUNK
    # Below Starlette's threshold for spooling a form's file part to disk: it stays in memory.
    assert MultiPartParser.spool_max_size > PUBLIC_CAP
    wrong = call(client, "POST", "/auth/login", body=b"username=x&password=y", headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert wrong.status == 401, wrong.body  # a small form is read and judged as ever


def test_uploads_up_to_their_limits_still_pass(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> None:
    from tests.mediafactory import make_media

    film = make_media(tmp_path / "a.mp4", seconds=1, width=160, height=90)
    with film.open("rb") as f:
        assert (
            client.post("/api/v1/assets", headers=producer, files={"file": (film.name, f)}).status_code == 201
        )
    # A province's sites at once: 25,000 rows with full Chinese names and five-level regions, all
    # read (a header the import refuses at once keeps the test quick: the rows are what weighs).
    rows = [
        f"js-{n:06d},第{n}村党员群众服务中心活动室,江苏省/苏州市/张家港市/凤凰镇/第{n}村,iptv-legacy,500,01:00-05:00,4000"
        for n in range(25_000)
    ]
    csv = "\n".join(
        ["编号,name,region,device_profile,quota_gb,download_window,bandwidth_kbps", *rows]
    ).encode()
    r = call(client, "POST", "/api/v1/sites/import", body=csv, headers=admin)
    assert (r.status, r.read) == (400, len(csv)), r.body
    assert "code" in r.json()["message"]


# --- the route table --------------------------------------------------------------------------


def test_admission_finds_the_route_the_router_picks(client: TestClient) -> None:
    """Every route and method, as the router matches it: the same route, and its access rule."""
    table = Admission(client.app)
    by_route = {(r.method, r.path): r for _, r in admission.routes(client.app)}  # type: ignore[arg-type]
    for endpoint in endpoints(client):
        for method in endpoint.methods:
            r = call(client, method, concrete(endpoint.path))
            route = table.match(r.scope)
            assert route.path == endpoint.path == getattr(r.scope.get("route"), "path", None), method
            public = endpoint.access in ((), "signed")
            assert route.roles == (None if public else endpoint.access), (method, endpoint.path)
    assert set(CAPS) <= set(by_route), "a cap names no route: was the route renamed?"
    assert table.match({**r.scope, "path": "/no/such/route", "method": "POST"}).path is None


def test_the_document_says_which_bodies_may_be_refused_as_too_large(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = [op for item in paths.values() for op in item.values() if "requestBody" in op]
    assert operations and all("413" in op["responses"] for op in operations)
    assert "2.1 MiB" in paths["/api/v1/assets"]["post"]["responses"]["413"]["description"]
    assert "8.0 KiB" in paths["/auth/login"]["post"]["responses"]["413"]["description"]


# --- headers on every answer --------------------------------------------------------------------


def test_every_answer_is_nosniff_with_a_content_security_policy(
    client: TestClient, producer: dict[str, str], site: dict[str, str], ready_asset: ReadyAsset
) -> None:
    asset = ready_asset(producer)
    poster = f"/hls/{asset}/poster.jpg"
    manifest = f"/api/v1/sites/{client.get('/auth/session', headers=site).json()['site_id']}/manifest"
    etag = client.get(manifest, headers=site).headers["etag"]
    answers = {
        "JSON": (client.get("/healthz"), DATA_POLICY),
        "refusal by the route": (client.get("/api/v1/assets"), DATA_POLICY),
        "refusal before the body": (client.post("/api/v1/programmes", json={}), DATA_POLICY),
        "not found": (client.get("/nowhere"), DATA_POLICY),
        "page": (client.get("/login"), PAGE_POLICY),
        "script": (client.get("/static/app.js"), DATA_POLICY),
        "HLS playlist": (client.get(f"/hls/{asset}/master.m3u8", headers=producer), DATA_POLICY),
        "poster": (client.get(poster, headers=producer), DATA_POLICY),
        "API documentation": (client.get("/docs"), DOCS_POLICY),
        "manifest poll, 304 before routing": (
            client.get(manifest, headers={**site, "If-None-Match": etag}),
            DATA_POLICY,
        ),
    }
    for what, (response, policy) in answers.items():
        assert response.headers.get("x-content-type-options") == "nosniff", what
        assert response.headers.get("content-security-policy") == policy, what
    assert answers["manifest poll, 304 before routing"][0].status_code == 304
    assert answers["refusal before the body"][0].status_code == 401


def test_a_pdf_may_be_shown_by_the_browsers_viewer(settings: Settings) -> None:
    """Stores that keep a content type (S3) serve PDFs as application/pdf: the viewer is a plugin."""
    app = FastAPI()
    app.add_middleware(Admission)
    app.state.settings = settings

    @app.get("/handout.pdf", dependencies=[Depends(public)])
    def handout() -> Response:
        return Response(b"%PDF-1.4\n%%EOF\n", media_type="application/pdf")

    with TestClient(app) as c:
        assert c.get("/handout.pdf").headers["content-security-policy"] == PDF_POLICY
