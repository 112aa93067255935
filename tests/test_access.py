"""Every route declares who may call it, exactly once, and the declaration is enforced."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from mediasrv.accounts.signing import sign_playback
from mediasrv.kit.caller import Caller, Role

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # FastAPI's own, public by design
STATIC = "/static"  # the pages' stylesheet and scripts (no data): public by design
MISSING = "999999"
Access = tuple[Role, ...] | str  # roles, () for public, "signed" for signed playback prefixes


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]
    access: Access
    page: bool  # an HTML page rather than an API answer


def _declarations(dependant: Dependant) -> list[Access]:
    found = [dependant.call.access_roles] if hasattr(dependant.call, "access_roles") else []
    return found + [d for sub in dependant.dependencies for d in _declarations(sub)]


def endpoints(client: TestClient) -> list[Endpoint]:
    """Every API route with its single access declaration."""
    found = []
    for ctx in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(ctx.original_route, APIRoute):
            assert ctx.path in DOCS or ctx.path == STATIC, f"{ctx.path} is neither a route nor documentation"
            continue
        declarations = _declarations(ctx.dependant)
        assert len(declarations) == 1, f"{ctx.path} declares access {len(declarations)} times"
        page = ctx.original_route.response_class is HTMLResponse
        found.append(Endpoint(ctx.path or "", frozenset(ctx.methods or ()), declarations[0], page))
    return found


def concrete(path: str, signature: str = "x") -> str:
    path = path.replace("{path:path}", "a/b.ts").replace("{signature}", signature)
    return re.sub(r"\{[^}]+\}", MISSING, path)  # ids nothing has: probing must not change real rows


def test_every_route_declares_access(client: TestClient) -> None:
    access = {(e.path, m): e.access for e in endpoints(client) for m in e.methods}
    assert access["/healthz", "GET"] == ()
    assert access["/auth/login", "POST"] == ()
    assert access["/s/{signature}/hls/{asset_id}/{generation}/{path:path}", "GET"] == "signed"
    assert set(access["/hls/{asset_id}/{generation}/{path:path}", "GET"]) == set(Role)
    assert set(access["/api/v1/assets", "POST"]) == {Role.PRODUCER, Role.ADMIN}
    assert set(access["/api/v1/assets/{asset_id}/retry", "POST"]) == {Role.ADMIN}
    assert set(access["/api/v1/audit", "GET"]) == {Role.ADMIN}
    assert set(access["/metrics", "GET"]) == {Role.ADMIN}  # unless MEDIASRV_METRICS_PUBLIC=true
    public = sorted(path for (path, _), a in access.items() if a == ())
    assert public == ["/api/v1/sites/manifest-key", "/auth/login", "/healthz", "/login", "/readyz"], (
        "a route became public"
    )


def test_declarations_are_enforced(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str]
) -> None:
    tokens = {Role.PRODUCER: producer, Role.ADMIN: admin, Role.SITE: site}
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    viewer = Caller(role=Role.SITE, name="s", via="signed", site_id=1)
    for endpoint in endpoints(client):
        for method in endpoint.methods:
            url = concrete(endpoint.path)
            anonymous = client.request(method, url, follow_redirects=False)
            if endpoint.access == ():
                assert anonymous.status_code not in (401, 403), f"{method} {endpoint.path} is public"
            elif endpoint.access == "signed":
                assert anonymous.status_code == 401, f"{method} {endpoint.path} with a bad signature"
                good = sign_playback(
                    key, caller=viewer, asset_id=MISSING, expires=int(time.time()) + 60, generation=0
                )
                status = client.request(method, concrete(endpoint.path, good)).status_code
                assert status not in (401, 403), f"{method} {endpoint.path} refused a good signature"
                other_asset = sign_playback(
                    key, caller=viewer, asset_id="999998", expires=int(time.time()) + 60, generation=0
                )
                assert client.request(method, concrete(endpoint.path, other_asset)).status_code == 401
            elif endpoint.page:  # a person without a login is sent to log in, and back afterwards
                assert anonymous.status_code == 303, f"{method} {endpoint.path} without a login"
                assert anonymous.headers["location"].startswith("/login?next=/")
            else:
                assert anonymous.status_code == 401, f"{method} {endpoint.path} without credentials"
                if method != "HEAD":
                    assert "Bearer" in anonymous.json()["message"]
                for role, headers in tokens.items():
                    status = client.request(method, url, headers=headers).status_code
                    if role in endpoint.access:
                        assert status not in (401, 403), f"{method} {endpoint.path} refused {role}"
                    else:
                        assert status == 403, f"{method} {endpoint.path} let {role} in"


def test_page_data_cannot_be_swallowed_by_a_crafted_path(client: TestClient, admin: dict[str, str]) -> None:
    """The page's JSON sits in a <script> element: "<!--<script" from the path must not reach it raw."""
    page = client.get("/ui/admin/sites/%3C!--%3Cscript%3E/study", headers=admin)
    assert page.status_code == 200, page.text
    data = page.text.split('id="page-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and json.loads(data)["params"]["site_id"] == "<!--<script>"
