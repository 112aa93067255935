"""Schemathesis against the app's own OpenAPI document, as each role and anonymously.

Every generated request must get an answer the document declares: never a 5xx, a documented status
code and content type, and a body that matches the declared schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
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

from mediasrv.accounts.models import Role
from mediasrv.app import create_app
from mediasrv.config import Settings
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
    assert "malformed" in response.json()["message"]


def test_ids_beyond_64_bits_are_invalid_not_a_crash(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch(f"/api/v1/users/{2**63}", headers=admin, json={})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "path parameter user_id" in response.json()["message"]
    assert client.get(f"/api/v1/audit?offset={2**63}", headers=admin).status_code == 422
