"""Who may call what. Every route declares its access with exactly one of `public`, `allow(*roles)`
or `signed_playback`, and this module enforces it.

Callers authenticate with `Authorization: Bearer <token>` (API clients, site agents), a session
cookie from a web login (people; unsafe methods also need the X-CSRF-Token header given at login),
or, for playback by set-top boxes that cannot send headers, a signed path prefix
`/s/<subject>.<expires>.<mac>/hls/<asset>/...`: an HMAC over subject, expiry and asset that is
checked without touching the database, and that relative URLs in playlists inherit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from mediasrv import epochs
from mediasrv.accounts import service
from mediasrv.accounts.models import Caller, Role
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.errors import Forbidden, Unauthorized

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
            raise Forbidden(f"Missing or wrong {CSRF_HEADER} header: send the csrf_token given at login.")
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
            raise Unauthorized("Malformed Authorization header: expected 'Bearer <token>'.")
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
    raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>', or log in.")


def check_same_origin(request: Request) -> None:
    """Refuse a form post that a browser sent from another site (login CSRF: no session protects it yet).

    Browsers send Origin on cross-site posts; API clients send none and are not affected. Behind a
    proxy, the proxy must pass the original Host header on.
    """
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("This form is accepted from this server's own pages only.")


def admit(caller: Caller, roles: tuple[Role, ...]) -> Caller:
    """`caller` when its role is one of `roles`, else 403: the check of `allow`, also made by
    mediasrv.kit.admission before a request's body is read."""
    if caller.role not in roles:
        wanted = " or ".join(r.value for r in roles)
        raise Forbidden(f"This needs the {wanted} role; you are '{caller.name}' ({caller.role.value}).")
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


# --- signed playback URLs ---------------------------------------------------------------------


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: MEDIASRV_SECRET_KEY, or one generated once into DATA_DIR/secret-key (0600).

    Several API processes must share one key: set MEDIASRV_SECRET_KEY for them all.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path: Path = settings.data_dir / "secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its key
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


# Unix time in seconds fits 11 digits until the year 5138: anything longer is no link of ours (and
# int() of thousands of digits raises, which would be a 500).
_EXPIRY_DIGITS = 11


def _mac(key: bytes, subject: str, expires: int, asset_id: str) -> str:
    digest = hmac.new(key, f"{subject}.{expires}.{asset_id}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_playback(key: bytes, *, caller: Caller, asset_id: str, expires: int) -> str:
    """The path segment that grants `caller` playback of one asset until `expires` (Unix time).

    A producer's link names its department too: what a producer may play is its department's assets
    besides published ones (mediasrv.delivery.scope), and a link is checked without the database."""
    ident = caller.site_id if caller.role is Role.SITE else caller.user_id
    subject = f"{caller.role.value}-{ident}"
    if caller.role is Role.PRODUCER and caller.org_unit_id is not None:
        subject += f"-{caller.org_unit_id}"
    return f"{subject}.{expires}.{_mac(key, subject, expires, asset_id)}"


def verify_playback(key: bytes, signature: str, asset_id: str, *, now: float | None = None) -> Caller:
    """Who a signed link is for, when it is genuine and unexpired; 401 otherwise. Whether that caller
    may play the asset now (published, its department's) is the playback scope's question."""
    subject, _, rest = signature.partition(".")
    expires_text, _, mac = rest.partition(".")
    if not (
        subject
        and expires_text.isascii()
        and expires_text.isdigit()
        and len(expires_text) <= _EXPIRY_DIGITS
        and mac
    ):
        raise Unauthorized("Malformed playback link: ask for a new one.")
    # Compared as bytes: compare_digest refuses non-ASCII str, and links arrive from anywhere.
    if not hmac.compare_digest(mac.encode(), _mac(key, subject, int(expires_text), asset_id).encode()):
        raise Unauthorized("This playback link is not valid for this programme: ask for a new one.")
    if int(expires_text) < (now if now is not None else time.time()):
        raise Unauthorized("This playback link has expired: reload the playlist to get a fresh one.")
    role_text, _, idents = subject.partition("-")
    role = Role(role_text)  # cannot fail: the MAC proves we wrote this subject
    ident_id, _, unit = idents.partition("-")
    number = int(ident_id) if ident_id.isascii() and ident_id.isdigit() else None
    org_unit_id = int(unit) if unit.isascii() and unit.isdigit() else None
    site_id, user_id = (number, None) if role is Role.SITE else (None, number)
    return Caller(
        role=role, name=subject, via="signed", site_id=site_id, user_id=user_id, org_unit_id=org_unit_id
    )


def _list_mac(key: bytes, site_id: int, generation: int) -> str:
    # Its own prefix: no playback MAC (role-id.expires.asset) can pass for one of these.
    digest = hmac.new(key, f"channel-list:{site_id}.{generation}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_channel_list(key: bytes, *, site_id: int, generation: int) -> str:
    """The `key` that opens site `site_id`'s channel list without a header (boxes, VLC). It holds
    until the site's key generation moves, which revoking one of its tokens does
    (mediasrv.delivery.scope.site_link_generation)."""
    return f"{generation}.{_list_mac(key, site_id, generation)}"


def channel_list_generation(key: bytes, text: str, site_id: int) -> int:
    """The key generation a channel-list key was made with; 401 when it is not ours for this site.
    Checked without the database; the caller then compares the generation with the site's."""
    generation, _, mac = text.partition(".")
    if not (generation.isascii() and generation.isdigit() and len(generation) <= 9 and mac):
        raise Unauthorized("Malformed channel-list key: ask an administrator for the site's link.")
    if not hmac.compare_digest(mac.encode(), _list_mac(key, site_id, int(generation)).encode()):
        raise Unauthorized("This channel-list key is not this site's: ask an administrator for its link.")
    return int(generation)


async def signed_playback(request: Request, signature: str, asset_id: str) -> Caller:
    """Access by a signed path prefix; no database query, so it costs nothing per segment."""
    key: bytes = request.app.state.signing_key
    return verify_playback(key, signature, asset_id)


signed_playback.access_roles = "signed"  # type: ignore[attr-defined]

ProducerDep = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN))]
AdminDep = Annotated[Caller, Depends(allow(Role.ADMIN))]
ViewerDep = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN, Role.SITE))]
SiteDep = Annotated[Caller, Depends(allow(Role.SITE))]  # a site's own token: what only its agent sends
SiteOrAdminDep = Annotated[Caller, Depends(allow(Role.SITE, Role.ADMIN))]  # a site's own records, or any
