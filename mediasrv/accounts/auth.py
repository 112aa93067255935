"""Who may call what: the request side of access. Every route declares its access with exactly one
of `public`, `allow(*roles)` or `signed_playback`, and this module enforces it.

Callers authenticate with `Authorization: Bearer <token>` (API clients, site agents), a session
cookie from a web login (people; unsafe methods also need the X-CSRF-Token header given at login),
or, for playback by set-top boxes that cannot send headers, a signed path prefix
`/s/<subject>.<expires>.<mac>/hls/<asset>/...` (mediasrv.accounts.signing) that relative URLs in
playlists inherit. A site's signed links (and its channel-list key) stop when one of its tokens is
revoked (`SiteLinks`), in every API process within a second, as its tokens do (`CallerCache`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from mediasrv import epochs
from mediasrv.accounts import service
from mediasrv.accounts.signing import verify_playback
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Forbidden, Unauthorized
from mediasrv.kit.i18n import Text
from mediasrv.kit.params import RegionQuery
from mediasrv.kit.regions import Scope

SESSION_COOKIE = "mediasrv_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = ["Caller", "Role"]


class CallerCache:
    """Bearer tokens already checked, so that a poll costs no query. An entry is trusted while the
    accounts epoch stands still (a revocation or user change reaches every API process within a
    second) and for at most a minute (when the token's last use is written down again)."""

    def __init__(self, watch: epochs.EpochWatch, *, ttl: float = 60.0, limit: int = 100_000) -> None:
        self._watch = watch
        self._ttl = ttl
        self._limit = limit
        self._entries: dict[str, tuple[int, float, Caller]] = {}

    def epoch(self) -> int:
        return self._watch.get(epochs.ACCOUNTS)

    def get(self, token: str) -> Caller | None:
        """The caller of a token checked before, while still trusted; never queries."""
        entry = self._entries.get(service.hash_secret(token))
        if entry is None or entry[0] != self._watch.peek(epochs.ACCOUNTS):
            return None
        if time.monotonic() - entry[1] > self._ttl:
            return None
        return entry[2]

    def put(self, token: str, caller: Caller, *, epoch: int) -> None:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[service.hash_secret(token)] = (epoch, time.monotonic(), caller)


class SiteLinks:
    """Sites' link generations (service.site_link_generation), kept while the accounts epoch (which
    every revocation moves) stands still, so that a channel-list fetch or a segment played from a
    site's signed link costs no query."""

    def __init__(self, db: Database, watch: epochs.EpochWatch, *, limit: int = 100_000) -> None:
        self._db = db
        self._watch = watch
        self._limit = limit
        self._entries: dict[int, tuple[int, int]] = {}  # site -> (accounts epoch, generation)

    def peek(self, site_id: int) -> int | None:
        """The site's generation when memory knows it is current; never queries."""
        entry = self._entries.get(site_id)
        if entry is None or entry[0] != self._watch.peek(epochs.ACCOUNTS):
            return None
        return entry[1]

    def generation(self, site_id: int) -> int:
        """The site's generation, from the database when memory cannot tell. Blocking."""
        epoch = self._watch.get(epochs.ACCOUNTS)  # before the query: a later revocation moves it on
        entry = self._entries.get(site_id)
        if entry is not None and entry[0] == epoch:
            return entry[1]
        with self._db.session_scope() as session:
            generation = service.site_link_generation(session, site_id)
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[site_id] = (epoch, generation)
        return generation


async def site_generation(request: Request, site_id: int) -> int:
    """The site's current link generation: from memory, a query only when the epoch moved."""
    links: SiteLinks = request.app.state.site_links
    current = links.peek(site_id)
    if current is None:
        current = await run_in_threadpool(links.generation, site_id)
    return current


def _from_bearer(db: Database, cache: CallerCache, token: str) -> Caller:
    epoch = cache.epoch()  # before the lookup: a revocation after it moves the epoch on
    with db.session_scope() as session:
        caller = service.caller_from_bearer(session, token)
    cache.put(token, caller, epoch=epoch)
    return caller


def _from_cookie(db: Database, cookie: str, method: str, csrf: str | None) -> Caller:
    with db.session_scope() as session:
        web = service.session_for_cookie(session, cookie)
        if method not in SAFE_METHODS and not service.csrf_matches(web, csrf):
            raise Forbidden("accounts.csrf_missing", header=CSRF_HEADER)
        return service.caller_from_session(web)


async def current_caller(request: Request) -> Caller:
    """Resolve the caller from a bearer token or a web session; 401 when there is neither.

    Async, and for a known bearer token without any query: site agents poll every few minutes.
    """
    state = request.app.state
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("accounts.authorization_malformed")
        cache: CallerCache = state.callers
        caller = cache.get(token)
        if caller is None:
            caller = await run_in_threadpool(_from_bearer, state.db, cache, token)
        return caller
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await run_in_threadpool(
            _from_cookie, state.db, cookie, request.method, request.headers.get(CSRF_HEADER)
        )
    raise Unauthorized("accounts.login_required")


def check_same_origin(request: Request) -> None:
    """Refuse a form post that a browser sent from another site (login CSRF: no session protects it yet).

    Browsers send Origin on cross-site posts; API clients send none and are not affected. Behind a
    proxy, the proxy must pass the original Host header on.
    """
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("accounts.foreign_form")


def admit(caller: Caller, roles: tuple[Role, ...]) -> Caller:
    """`caller` when its role is one of `roles`, else 403: the check of `allow`, also made by
    mediasrv.admission before a request's body is read."""
    if caller.role not in roles:
        raise Forbidden(
            "accounts.role_needed",
            wanted=tuple(Text(f"accounts.role_name.{r.value}") for r in roles),
            name=caller.name,
            role=Text(f"accounts.role_name.{caller.role.value}"),
        )
    return caller


def allow(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers with one of `roles`: 401 without valid credentials, 403 otherwise."""

    async def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        return admit(caller, roles)

    check.access_roles = roles  # type: ignore[attr-defined]  # read by the route-walking test
    return check


def public() -> None:
    """Declares a route open to anyone (health checks, documentation, login)."""


public.access_roles = ()  # type: ignore[attr-defined]


# --- signed playback URLs (the links themselves: mediasrv.accounts.signing) ----------------------


async def signed_playback(request: Request, signature: str, asset_id: str) -> Caller:
    """Access by a signed path prefix; no database query, so it costs nothing per segment. A site's
    link holds while its generation is the site's (none of its tokens revoked since): 401 after."""
    key: bytes = request.app.state.signing_key
    link = verify_playback(key, signature, asset_id)
    site_id = link.caller.site_id
    if link.generation is None or site_id is None:  # a person's link, or a site's of the earlier form
        return link.caller
    if link.generation != await site_generation(request, site_id):
        raise Unauthorized("accounts.playback_link_retired")
    return link.caller


signed_playback.access_roles = "signed"  # type: ignore[attr-defined]

# --- an administrator's scope: the region it administers (kit.regions) -----------------------------
# Dependencies beside the route's one access declaration (they take the caller it admitted, cached
# for the request): a route reads the scope, or its region filter already narrowed to it, from here
# rather than checking regions itself.


async def caller_scope(caller: Annotated[Caller, Depends(current_caller)]) -> Scope:
    """The caller's scope: an administrator's region ('' the whole network); others are held by their
    own rules (a department, a site's own records), not by a region."""
    return Scope.of(caller)


async def scoped_region(scope: Annotated[Scope, Depends(caller_scope)], region: RegionQuery = "") -> str:
    """The `region` filter as the caller may apply it (Scope.narrow): inside the scope as given, the
    scope itself when wider or absent, 404 when outside."""
    return scope.narrow(region)


ScopeDep = Annotated[Scope, Depends(caller_scope)]
ScopedRegion = Annotated[str, Depends(scoped_region)]

ProducerDep = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN))]
AdminDep = Annotated[Caller, Depends(allow(Role.ADMIN))]
ViewerDep = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN, Role.SITE))]
SiteDep = Annotated[Caller, Depends(allow(Role.SITE))]  # a site's own token: what only its agent sends
SiteOrAdminDep = Annotated[Caller, Depends(allow(Role.SITE, Role.ADMIN))]  # a site's own records, or any
