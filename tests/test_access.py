"""Every route declares who may call it, and the declaration is enforced."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from mediasrv.auth import Role

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # FastAPI's own, public by design


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]
    roles: tuple[Role, ...]


def _declarations(dependant: Dependant) -> list[tuple[Role, ...]]:
    found = [dependant.call.access_roles] if hasattr(dependant.call, "access_roles") else []
    return found + [d for sub in dependant.dependencies for d in _declarations(sub)]


def endpoints(client: TestClient) -> list[Endpoint]:
    """Every API route with the roles of its single access declaration (`public` declares none)."""
    found = []
    for ctx in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(ctx.original_route, APIRoute):
            assert ctx.path in DOCS, f"{ctx.path} is not an API route and not documentation"
            continue
        declarations = _declarations(ctx.dependant)
        assert len(declarations) == 1, f"{ctx.path} declares access {len(declarations)} times"
        found.append(Endpoint(ctx.path or "", frozenset(ctx.methods or ()), declarations[0]))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path.replace("{path:path}", "a/b.ts"))


def test_every_route_declares_access(client: TestClient) -> None:
    paths = {(e.path, m): e.roles for e in endpoints(client) for m in e.methods}
    assert paths["/healthz", "GET"] == ()
    assert paths["/hls/{asset_id}/{generation}/{path:path}", "GET"] == ()
    assert set(paths["/api/v1/assets", "POST"]) == {Role.PRODUCER, Role.ADMIN}
    assert set(paths["/api/v1/assets/{asset_id}/retry", "POST"]) == {Role.ADMIN}


def test_declarations_are_enforced(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str]
) -> None:
    tokens = {Role.PRODUCER: producer, Role.ADMIN: admin, Role.SITE: site}
    for endpoint in endpoints(client):
        roles = endpoint.roles
        for method in endpoint.methods:
            url = concrete(endpoint.path)
            anonymous = client.request(method, url)
            if not roles:
                assert anonymous.status_code not in (401, 403), f"{method} {endpoint.path} is public"
                continue
            assert anonymous.status_code == 401, f"{method} {endpoint.path} without credentials"
            assert "Bearer" in anonymous.json()["message"]
            for role, headers in tokens.items():
                status = client.request(method, url, headers=headers).status_code
                if role in roles:
                    assert status not in (401, 403), f"{method} {endpoint.path} refused {role}"
                else:
                    assert status == 403, f"{method} {endpoint.path} let {role} in"


def test_revoked_token_is_refused(client: TestClient, db: object) -> None:
    from mediasrv.auth import create_token, revoke_token
    from mediasrv.db import Database

    assert isinstance(db, Database)
    with db.session_scope() as s:
        row, plain = create_token(s, name="old", role=Role.ADMIN)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    with db.session_scope() as s:
        revoke_token(s, token_id=row.id)
    r = client.get("/api/v1/assets", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    assert client.get("/api/v1/assets", headers={"Authorization": "Basic abc"}).status_code == 401
