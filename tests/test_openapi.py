"""Schemathesis against the app's own OpenAPI document, as each role and anonymously.

Every generated request must get an answer the document declares: never a 5xx, a documented status
code and content type, and a body that matches the declared schema.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import serialize_binary

from mediasrv.admission import declared_access
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.kit.caller import Role
from tests.e2e.stack import Stack
from tests.fixtures import make_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/offset+octet-stream")  # tus PATCH bodies: bytes as they are
def _tus_bytes(_ctx: object, value: object) -> bytes:
    return serialize_binary(value)  # type: ignore[arg-type]


# The document only (create_app does no I/O); the requests go to each test's own `app` fixture.
# Not schemathesis.pytest.from_fixture: its lazy loader sets Node._nodeid, which pytest 9.2 lacks.
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())


@pytest.fixture
def served(app: FastAPI) -> Iterator[FastAPI]:
    """The app with its lifespan run by schemathesis's in-process ASGI transport, which serves it."""
    with asgi.get_client(app) as client:  # starts the lifespan, which lasts until shut down below
        assert client.get("/healthz").status_code == 200
    yield app
    asgi.shutdown_lifespans()


# Anonymous callers are not generated here: tests/test_access.py probes every route without
# credentials (401, or the login redirect of a page), which is all an anonymous example can meet.
@pytest.fixture(params=[Role.PRODUCER, Role.ADMIN, Role.SITE], ids=lambda r: r.value)
def role(request: pytest.FixtureRequest) -> Role:
    r: Role = request.param
    return r


@schema.parametrize()
@settings(
    max_examples=12,  # x 3 roles x every operation: the suite's budget is 20 minutes on 2 cores
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, role: Role, served: FastAPI) -> None:
    # A fresh account and token for every example: generated cases revoke tokens, disable users and
    # change roles, which must not lock the later examples out (or turn them into another role).
    headers = make_token(served.state.db, role)
    case.call_and_validate(headers=headers, checks=CHECKS, app=served)


# --- what schemathesis found, pinned down -----------------------------------------------------


def test_malformed_multipart_is_a_client_error(client: TestClient, producer: dict[str, str]) -> None:
    boundary = "bc204e640782dd3ded3480cd829a07ea"
    response = client.post(
        "/api/v1/assets",
        headers={**producer, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=f"--{boundary}\r\n[]--{boundary}--\r\n".encode(),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "ingest.malformed_multipart"


def test_ids_beyond_64_bits_are_invalid_not_a_crash(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch(f"/api/v1/users/{2**63}", headers=admin, json={})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert [p["field"] for p in response.json()["problems"]] == ["user_id"]
    assert client.get(f"/api/v1/audit?offset={2**63}", headers=admin).status_code == 422


# --- the fuzz pass: oversized and malformed bodies, without credentials, to the real server --------

MIB = 1024 * 1024
_BIG = b"x" * (45 * MIB)  # sent a slice at a time, only until the server answers
_BOUNDARY = "fuzz-boundary-7c1e"


class _ApiOnly(Stack):
    """The end-to-end stack's API process (`mediasrv serve` on loopback) without its worker."""

    def start_worker(self) -> None:
        pass


@dataclass(frozen=True)
class _Probe:
    name: str
    headers: dict[str, str]
    body: bytes | memoryview = b""
    chunked: bool = False


def _probes() -> list[_Probe]:
    json_body = memoryview(b'{"title":"' + _BIG[: 45 * MIB - 12] + b'"}')
    form_head = (
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    form = memoryview(form_head + _BIG[: 40 * MIB] + f"\r\n--{_BOUNDARY}--\r\n".encode())
    multipart = {"Content-Type": f"multipart/form-data; boundary={_BOUNDARY}"}
    json_type = {"Content-Type": "application/json"}
    return [
        _Probe("45 MiB of JSON", json_type, json_body),
        _Probe("40 MiB form with a file", multipart, form),
        _Probe("45 MiB chunked, no Content-Length", json_type, json_body, chunked=True),
        _Probe("40 MiB form, chunked", multipart, form, chunked=True),
        _Probe(
            "Content-Length smaller than the body", {**json_type, "Content-Length": "10"}, json_body[:MIB]
        ),
        _Probe("absurd Content-Length", {**json_type, "Content-Length": str(2**70)}, json_body[:MIB]),
        _Probe("truncated JSON", json_type, b'{"title": "x", "description": "'),
        _Probe("garbage JSON", json_type, b"\xff\xfe{[\x00]}"),
        _Probe("JSON as a form", multipart, b'{"title": "x"}'),
        _Probe("XML", {"Content-Type": "text/xml"}, b"<programme><title>x</title></programme>"),
        _Probe("no content type", {}, b"username=a&password=b"),
        _Probe("1 MiB header", {"X-Filler": "a" * MIB}),
    ]


def _exchange(port: int, method: str, path: str, probe: _Probe) -> int | None:
    """Send the probe and its body until the server answers: the status it gave (None: it closed
    the connection without an answer). The body is not sent to its end unless the server reads it."""
    headers = {"Host": f"127.0.0.1:{port}", "Connection": "close", **probe.headers}
    if probe.chunked:
        headers["Transfer-Encoding"] = "chunked"
    elif probe.body:
        headers.setdefault("Content-Length", str(len(probe.body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    pieces: list[bytes | memoryview] = [head.encode()]
    step = 256 * 1024
    for at in range(0, len(probe.body), step):
        piece = probe.body[at : at + step]
        pieces += [f"{len(piece):x}\r\n".encode(), piece, b"\r\n"] if probe.chunked else [piece]
    if probe.chunked:
        pieces.append(b"0\r\n\r\n")
    answer = b""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as sock,
        selectors.DefaultSelector() as sel,
    ):
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-head
            sock.sendall(pieces[0])
        sock.setblocking(False)
        # A server that refuses from the head alone answers now: no need to push megabytes at it
        # first. One that waits for the body gets all of it next (and the test sees what it costs).
        sel.register(sock, selectors.EVENT_READ)
        if not sel.select(timeout=0.25):
            sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        pending = iter(pieces[1:])
        following = next(pending, None)
        current: memoryview | None = None if following is None else memoryview(following)
        if current is None:
            sel.modify(sock, selectors.EVENT_READ)
        while b"\r\n" not in answer:
            events = sel.select(timeout=30)
            assert events, f"{method} {path} ({probe.name}): no answer in 30 s"
            _, mask = events[0]
            if mask & selectors.EVENT_READ:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    return None
                answer += data
            elif current is not None:
                try:
                    current = current[sock.send(current) :]
                except (BrokenPipeError, ConnectionResetError):  # the server answered and closed
                    current = None
                while current is not None and not current:
                    following = next(pending, None)
                    current = None if following is None else memoryview(following)
                if current is None:
                    sel.modify(sock, selectors.EVENT_READ)
    return int(answer.split(b" ", 2)[1])


def _proc(pid: int, name: str, field: str) -> int:
    """A number from /proc/<pid>/<name> ("VmRSS:  123 kB", "wchar: 456"): in bytes."""
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == field:
            number, _, unit = value.strip().partition(" ")
            return int(number) * (1024 if unit == "kB" else 1)
    raise AssertionError(f"no {field} in /proc/{pid}/{name}")


def test_oversized_and_malformed_bodies_to_every_route_cost_the_server_nothing(tmp_path: Path) -> None:
    """Every route of the route table and every method, without credentials, gets each probe: no
    answer is a 5xx, every route that needs credentials refuses it (4xx), and the API process
    neither grows (peak RSS within 50 MiB of its start) nor writes a body anywhere (no temporary
    file, no spool: the bytes it writes stay those of its log)."""
    app = create_app(Settings(data_dir=Path("unused")))
    targets: list[tuple[str, str, bool]] = []  # method, concrete path, anyone may call it
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        if not isinstance(ctx.original_route, APIRoute):  # documentation and static files: public
            targets += [("GET", path + ("/app.js" if path == "/static" else ""), True)]
            continue
        access = declared_access(ctx.dependant)
        concrete = re.sub(r"\{[^}]+\}", "999999", path.replace("{path:path}", "a/b.ts"))
        targets += [(method, concrete, access in ((), "signed")) for method in sorted(ctx.methods or ())]
    assert len(targets) > 100
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    stack = _ApiOnly(tmp_path / "var")
    stack.env["TMPDIR"] = str(tmpdir)
    stack.start()
    try:
        assert stack.server is not None
        pid = stack.server.pid
        for method, path, _ in targets[:20]:  # warm up: imports, caches, first connections
            _exchange(stack.port, method, path, _Probe("warm-up", {}))
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS starts again from here
        start_rss, start_written = _proc(pid, "status", "VmRSS"), _proc(pid, "io", "wchar")
        probes = _probes()
        for method, path, anyone in targets:
            for probe in probes:
                status = _exchange(stack.port, method, path, probe)
                what = f"{method} {path} with {probe.name}: {status}"
                assert status is not None and status < 500, what + "\n" + stack.log_tail("server")
                assert anyone or 400 <= status < 500, what
        grown = _proc(pid, "status", "VmHWM") - start_rss
        written = _proc(pid, "io", "wchar") - start_written
        assert stack.server.poll() is None, stack.log_tail("server")
    finally:
        stack.stop()
    assert grown < 50 * MIB, f"the API process grew by {grown / MIB:.0f} MiB"
    assert written < 4 * MIB, f"the API process wrote {written / MIB:.1f} MiB: a body was spooled"
    assert list(tmpdir.iterdir()) == [], "temporary files left in the API process's TMPDIR"
