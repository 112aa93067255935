"""The request middleware: request id, one access log line and the request counter per request."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasrv.ops.logs import REQUEST_ID, loggable_path
from mediasrv.ops.metrics import HTTP_REQUESTS

access_log = logging.getLogger("mediasrv.access")

_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "<unmatched>"  # one label for every path no route knows (scanners must not add series)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else os.urandom(8).hex()
    return os.urandom(8).hex()


class RequestMiddleware:
    """Request id (from X-Request-ID when sane, else new; echoed in the response), one access log line
    and the request counter. Pure ASGI: site agents poll at high rates and every microsecond shows."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}  # bound children: labels() takes a lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The id is left set: the server logs this exception next, in this request's own task
            # (so its own context), and that line should carry the id too.
            self._done(scope, status, time.perf_counter() - start)
            raise
        self._done(scope, status, time.perf_counter() - start)
        REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or _UNMATCHED
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = HTTP_REQUESTS.labels(method, route, str(status))
        counter.inc()
        # 304s are agents' polls that found nothing new: the bulk of the traffic and of no interest.
        level = logging.DEBUG if status == 304 else logging.INFO
        if access_log.isEnabledFor(level):
            path = loggable_path(scope["path"])
            ms = round(seconds * 1000, 2)
            client = scope.get("client")
            access_log.log(
                level,
                "%s %s %d %.1f ms",
                method,
                path,
                status,
                ms,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": ms,
                    "client": client[0] if client else None,
                },
            )
