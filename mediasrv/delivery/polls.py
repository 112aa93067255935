"""The commonest request of all, answered before routing: a site agent's manifest poll that finds
its manifest unchanged (GET /api/v1/sites/{id}/manifest with If-None-Match, no query string).

Thousands of sites poll every few minutes, and nearly every poll is a 304. Routing and dependency
resolution cost more than the answer, so this middleware answers from memory when everything it
needs is there: a bearer token the caller cache trusts, with the route's own rule (an admin, or the
site itself), and a manifest known to be current. Anything else — an unknown token, another site,
an epoch due a re-read, a changed manifest — goes on to the route, which decides as always.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from starlette.types import ASGIApp, Receive, Scope, Send

from mediasrv.accounts.auth import CallerCache
from mediasrv.delivery.manifest.store import ManifestService
from mediasrv.kit.caller import Role
from mediasrv.ops.metrics import MANIFEST_NOT_MODIFIED
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.http import etag_matches

_PATH = re.compile(r"/api/v1/sites/([1-9][0-9]{0,17})/manifest")
# What the access log and request counter label these answers with: the route they stand in for.
_ROUTE = SimpleNamespace(path="/api/v1/sites/{site_id}/manifest")


class ManifestPolls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.fullmatch(scope["path"])
            if match is not None and await self._not_modified(scope, int(match[1]), send):
                return
        await self.app(scope, receive, send)

    async def _not_modified(self, scope: Scope, site_id: int, send: Send) -> bool:
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value
        if authorization is None or if_none_match is None or authorization[:7].lower() != b"bearer ":
            return False
        state = scope["app"].state
        callers: CallerCache = state.callers
        caller = callers.get(authorization[7:].decode("latin-1").strip())
        if caller is None or not (
            caller.role is Role.ADMIN or (caller.role is Role.SITE and caller.site_id == site_id)
        ):
            return False
        manifests: ManifestService = state.manifests
        current = manifests.cached(site_id, today_in_china())
        if current is None or not etag_matches(if_none_match.decode("latin-1"), current.etag):
            return False
        scope["route"] = _ROUTE
        MANIFEST_NOT_MODIFIED.inc()
        headers = [
            (b"etag", current.etag.encode()),
            (b"x-manifest-version", str(current.version).encode()),
            (b"cache-control", b"private, no-cache"),
            (b"vary", b"Accept-Encoding"),
        ]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return True
