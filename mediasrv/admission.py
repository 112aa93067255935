"""What the server decides before it reads a byte of a request's body, and the headers of every answer.

FastAPI reads and parses a body before it resolves a route's dependencies, so a route's access check
(`auth.allow`) comes too late to stop a stranger's 45 MiB of JSON (parsed in memory) or 40 MiB form
(spooled to a temporary file). `Admission` sits below FastAPI and answers first:

- it finds the route the request will reach in the app's route table, with the route's access
  declaration (`public`, `allow(*roles)`, `signed_playback`) and its body cap (`CAPS`, else
  `JSON_CAP`; a route anyone may call never more than `PUBLIC_CAP`);
- a Content-Length over the cap gets 413 at once;
- a body sent to a route that needs credentials gets 401 or 403, unread, unless the caller
  (`auth.current_caller` itself: bearer token through the cache, or session cookie and CSRF header)
  has one of the route's roles;
- what is then read is counted: a chunked body, or one longer than it said, is cut off with 413.

A request without a body (nearly all: polls, playback, pages) costs only the two headers every
answer carries: X-Content-Type-Options: nosniff, and a Content-Security-Policy.

Part of the app (beside app.py), not of kit: it reads the app's route table, the settings and
accounts' caller lookup, where kit's modules import no domain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasrv.accounts.auth import admit, current_caller
from mediasrv.config import Settings
from mediasrv.kit.caller import Role
from mediasrv.kit.errors import MediaError, RequestTooLarge, UploadTooLarge
from mediasrv.kit.http import requested_method
from mediasrv.kit.i18n import Text, choose_lang
from mediasrv.protocol.sizes import human_size

KiB = 1024
MiB = 1024 * KiB
MULTIPART_OVERHEAD = 64 * KiB  # boundaries, part headers and the small fields beside a file


@dataclass(frozen=True)
class Cap:
    """A body limit: `size` of the settings (what a person is told), plus `overhead` for the form
    around a file, and what the sender can do when over it."""

    size: Callable[[Settings], int]
    advice: str  # a catalogue key
    overhead: int = 0
    upload: bool = False  # a file: refused as upload_too_large, as the routes' own checks refuse it

    def limit(self, settings: Settings) -> int:
        return self.size(settings) + self.overhead


def _fixed(n: int) -> Callable[[Settings], int]:
    return lambda _settings: n


JSON_CAP = Cap(_fixed(64 * KiB), "kit.advice.json")
# Whoever may call a route without credentials (login, signed playback) sends at most this. It also
# keeps a login form in memory: Starlette spools a form's file parts to disk only past 1 MiB.
PUBLIC_CAP = 8 * KiB
_LONG_TEXT = Cap(_fixed(MiB), "kit.advice.long_text")
_UPLOAD_ADVICE = "kit.advice.upload"
UPLOAD_CAP = Cap(lambda s: s.max_upload_bytes, _UPLOAD_ADVICE, overhead=MULTIPART_OVERHEAD, upload=True)
TUS_CAP = Cap(lambda s: s.max_upload_bytes, _UPLOAD_ADVICE, upload=True)  # bare bytes, no form
PHOTO_CAP = Cap(
    lambda s: s.photo_max_bytes,
    "kit.advice.photo",
    overhead=MULTIPART_OVERHEAD,
    upload=True,
)
# 25,000 sites (a province): ~140 bytes a row with a Chinese name and a five-level region, so room
# to spare (test_admission.py sends such a file).
CSV_CAP = Cap(_fixed(5 * MiB), "kit.advice.csv", upload=True)
# A caption file (captions.service.MAX_CAPTION_BYTES: a three-hour film's SRT is ~300 KB).
CAPTION_CAP = Cap(_fixed(5 * MiB), "kit.advice.caption", overhead=MULTIPART_OVERHEAD, upload=True)

# Routes whose bodies may be larger (or must be smaller) than JSON_CAP, by method and path template
# (test_admission.py checks that each still names a route). Texts: a programme's description (20,000
# characters), a study list's regions and programmes, a session's notes (10,000); an agent's viewing
# batch.
CAPS: dict[tuple[str, str], Cap] = {
    ("POST", "/api/v1/assets"): UPLOAD_CAP,
    ("PATCH", "/api/v1/uploads/{upload_id}"): TUS_CAP,
    ("PUT", "/api/v1/assets/{asset_id}/audio-tracks/{language}"): UPLOAD_CAP,
    ("POST", "/api/v1/sites/{site_id}/sessions/{session_id}/photos"): PHOTO_CAP,
    ("POST", "/api/v1/sites/import"): CSV_CAP,
    ("POST", "/api/v1/programmes/{programme_id}/captions"): CAPTION_CAP,
    ("POST", "/api/v1/programmes"): _LONG_TEXT,
    ("PATCH", "/api/v1/programmes/{programme_id}"): _LONG_TEXT,
    ("POST", "/api/v1/study-lists"): _LONG_TEXT,
    ("PATCH", "/api/v1/study-lists/{study_list_id}"): _LONG_TEXT,
    ("POST", "/api/v1/sites/{site_id}/sessions"): _LONG_TEXT,
    ("POST", "/api/v1/sites/{site_id}/viewing"): _LONG_TEXT,
    # Smaller than JSON_CAP: a site's fault report is a kind, a time and a note of 2,000 characters
    # (12 KB as JSON escapes); a site token lives on a village PC, so what it may send stays small.
    ("POST", "/api/v1/sites/{site_id}/fault-reports"): Cap(_fixed(16 * KiB), "kit.advice.json"),
}

_PUBLIC = Cap(_fixed(PUBLIC_CAP), "kit.advice.json")


@dataclass(frozen=True)
class Route:
    """What admission knows of a route: `path` is its template (what logs and metrics name it by)."""

    path: str | None  # None: no route (404/405, documentation, static files)
    method: str
    roles: tuple[Role, ...] | None  # None: anyone may call it (public, or a signed link it checks)
    cap: Cap

    def limit(self, settings: Settings) -> int:
        return self.cap.limit(settings)


_NOWHERE = Route(path=None, method="", roles=None, cap=_PUBLIC)


def declared_access(dependant: Dependant) -> tuple[Role, ...] | str | None:
    """The route's access declaration (the `access_roles` of public, allow(...) or signed_playback)."""
    declared: tuple[Role, ...] | str | None = getattr(dependant.call, "access_roles", None)
    if declared is not None:
        return declared
    for sub in dependant.dependencies:
        if (found_below := declared_access(sub)) is not None:
            return found_below
    return None


def routes(app: FastAPI) -> list[tuple[re.Pattern[str], Route]]:
    """Every API route and method with its access rule and cap, in the order the router tries them
    (the first full match wins there too)."""
    table = []
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute) or ctx.path is None:
            continue  # documentation and static files: no bodies, anyone: _NOWHERE's rule
        access = declared_access(ctx.dependant)
        regex = compile_path(ctx.path)[0]
        for method in sorted(ctx.methods or ()):
            if isinstance(access, tuple) and access:
                route = Route(ctx.path, method, access, CAPS.get((method, ctx.path), JSON_CAP))
            else:  # public, or a signed link: anyone may send it something, so only a little
                route = Route(ctx.path, method, None, _PUBLIC)
            table.append((regex, route))
    return table


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body goes past its cap; the middleware answers 413 itself,
    whatever the route or FastAPI makes of the exception."""

    def __init__(self, refusal: UploadTooLarge | RequestTooLarge) -> None:
        super().__init__(413, refusal.message)
        self.refusal = refusal


def too_large(route: Route, settings: Settings, length: int | None) -> BodyTooLarge:
    """The refusal of a body of `length` bytes (None: a chunked one, found too long as it came)."""
    facts: dict[str, Any] = {"limit": human_size(route.cap.size(settings)), "advice": Text(route.cap.advice)}
    if length is not None:
        facts["sent"] = human_size(length)
    if route.cap.upload:
        key = "kit.upload_too_large" if length is not None else "kit.upload_too_large_streamed"
        return BodyTooLarge(UploadTooLarge(key, **facts))
    where = f"{route.method} {route.path}" if route.path else Text("kit.this_request")
    key = "kit.body_too_large" if length is not None else "kit.body_too_large_streamed"
    return BodyTooLarge(RequestTooLarge(key, where=where, **facts))


# --- security headers ---------------------------------------------------------------------------

# The pages load their own scripts and styles only; hls.js plays from blob: media in a blob: worker.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Everything else (JSON, playlists, segments, photos, files) is data: it may load nothing. A PDF is
# shown through the browser's viewer plugin, which its own object-src must admit.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
PDF_POLICY = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"
# FastAPI's /docs and /redoc: Swagger UI and ReDoc from their CDN, started by an inline script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
)
_CSP = b"content-security-policy"
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_POLICIES = {
    "page": (_CSP, PAGE_POLICY.encode()),
    "data": (_CSP, DATA_POLICY.encode()),
    "pdf": (_CSP, PDF_POLICY.encode()),
    "docs": (_CSP, DOCS_POLICY.encode()),
}


def _policy(headers: list[tuple[bytes, bytes]], docs: bool) -> tuple[bytes, bytes] | None:
    """The CSP header for a response with these headers; None when it has one already."""
    kind = "data"
    for name, value in headers:
        lowered = name.lower()
        if lowered == _CSP:
            return None
        if lowered == b"content-type":
            media = value.partition(b";")[0].strip().lower()
            if media == b"text/html":
                kind = "docs" if docs else "page"
            elif media == b"application/pdf":
                kind = "pdf"
    return _POLICIES[kind]


def _secured(send: Send, docs: bool) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            policy = _policy(headers, docs)
            if policy is not None:
                headers.append(policy)
            if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                headers.append(_NOSNIFF)
            message["headers"] = headers
        await send(message)

    return secured


# --- the middleware -------------------------------------------------------------------------------


def _declared_body(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """Whether the request has a body, and its Content-Length when it states one (None: chunked)."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:  # the HTTP server refuses these; count what comes if one does not
                chunked = True
        elif name == b"transfer-encoding":
            chunked = True
    if chunked:
        return True, None
    return bool(length), length


async def _refuse(scope: Scope, send: Send, refusal: MediaError) -> None:
    """Answer as app.py's handler does, in the caller's language."""
    request = Request(scope)
    lang = choose_lang(request.headers, request.cookies, request.query_params)
    body = json.dumps(refusal.body(lang), ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Admission:
    """Pure ASGI (a BaseHTTPMiddleware would buffer and slow every poll): see the module's text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: dict[str, list[tuple[re.Pattern[str], Route]]] | None = None
        self._docs: frozenset[str] = frozenset()

    def _routes(self, app: FastAPI) -> dict[str, list[tuple[re.Pattern[str], Route]]]:
        if self._table is None:  # the first request: every router is included by then
            table: dict[str, list[tuple[re.Pattern[str], Route]]] = {}
            for regex, route in routes(app):
                table.setdefault(route.method, []).append((regex, route))
            self._docs = frozenset(
                p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p
            )
            self._table = table
        return self._table

    def match(self, scope: Scope) -> Route:
        """The route the router will pick for this request (the first full match), or _NOWHERE."""
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        # The method the request means: a POST with X-HTTP-Method-Override is admitted under the rule
        # of the method it names (the tus router honours it; any other route answers it 405 anyway).
        for regex, route in self._routes(scope["app"]).get(requested_method(scope), ()):
            if regex.match(path):
                return route
        return _NOWHERE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        self._routes(app)
        send = _secured(send, scope["path"] in self._docs)
        has_body, length = _declared_body(scope["headers"])
        if not has_body:
            await self.app(scope, receive, send)
            return
        route = self.match(scope)
        settings: Settings = app.state.settings
        if length is not None and length > route.limit(settings):
            await self._answer(scope, send, route, too_large(route, settings, length).refusal)
            return
        if route.roles is not None:
            try:
                admit(await current_caller(Request(scope)), route.roles)
            except MediaError as exc:  # 401 without (valid) credentials, 403 for another role
                await self._answer(scope, send, route, exc)
                return
        await self._counted(scope, receive, send, route, settings)

    @staticmethod
    async def _answer(scope: Scope, send: Send, route: Route, refusal: MediaError) -> None:
        if route.path is not None:
            scope["route"] = route  # what the access log and request counter name the answer by
        await _refuse(scope, send, refusal)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, route: Route, settings: Settings
    ) -> None:
        limit = route.limit(settings)
        received = 0
        refusal: BodyTooLarge | None = None
        started = False

        async def counted() -> Message:
            nonlocal received, refusal
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refusal = too_large(route, settings, None)
                    raise refusal
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if refusal is not None:  # whatever the route made of the cut-off body: say why instead
                if not started:
                    started = True
                    await _refuse(scope, send, refusal.refusal)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, answer)
        except BodyTooLarge as exc:
            if started:
                raise
            await _refuse(scope, send, exc.refusal)


def document(schema: dict[str, Any], app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document with the 413 that each operation taking a body may answer, and its cap."""
    for _, route in routes(app):
        operation = schema.get("paths", {}).get(route.path, {}).get(route.method.lower())
        if operation is None or "requestBody" not in operation:
            continue
        refusal = operation["responses"].setdefault(
            "413",
            {
                "description": "The body is over this request's limit",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
            },
        )
        refusal["description"] += f" (here {human_size(route.limit(settings))})"
    return schema
