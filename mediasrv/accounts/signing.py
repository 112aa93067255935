"""Signed links: HMACs that grant access without a header and are checked without the database.

A playback link's path prefix `/s/<subject>.<expires>.<mac>/hls/<asset>/...` is an HMAC over
subject, expiry and asset, for set-top boxes, VLC and ffplay; a site's link also names the site's
link generation, `/s/site-<id>.<expires>.<generation>.<mac>/...`, so that revoking one of its tokens
retires it (mediasrv.accounts.auth.SiteLinks). A channel-list key opens a site's M3U list. Pure
functions of the key: the server's routes (mediasrv.accounts.auth.signed_playback) and the links it
hands out (mediasrv.delivery.playlist) share them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from mediasrv.accounts.models import ServerSecret
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Unauthorized

SIGNING = "signing"


def signing_key(settings: Settings, db: Database) -> bytes:
    """The HMAC key (and the seed of the manifests' Ed25519 key): MEDIASRV_SECRET_KEY, else the one
    kept in the database, which every API process and command line then shares, on any machine.

    The first process to need it keeps DATA_DIR/secret-key there, where earlier versions generated
    the key (links already handed out and the key sites have pinned stay valid), or a new one.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    with db.session_scope() as session:
        kept = session.get(ServerSecret, SIGNING)
        if kept is not None:
            return kept.value.encode()
    path: Path = settings.data_dir / "secret-key"
    value = path.read_text().strip() if path.is_file() else secrets.token_hex(32)
    try:
        with db.session_scope() as session:
            session.add(ServerSecret(name=SIGNING, value=value))
    except IntegrityError:  # another process kept one first: that one is everybody's
        with db.session_scope() as session:
            kept = session.get(ServerSecret, SIGNING)
            assert kept is not None
            value = kept.value
    return value.encode()


# Unix time in seconds fits 11 digits until the year 5138: anything longer is no link of ours (and
# int() of thousands of digits raises, which would be a 500).
_EXPIRY_DIGITS = 11


def _mac(key: bytes, subject: str, expires: int, asset_id: str) -> str:
    digest = hmac.new(key, f"{subject}.{expires}.{asset_id}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


_GENERATION_DIGITS = 9  # a count of revoked tokens; as the channel-list key's


@lru_cache(maxsize=4)
def _site_key(key: bytes) -> bytes:
    # A key of its own for sites' links: no MAC of the other form can pass for one of these, whatever
    # a forger puts in the subject or the asset (both are read from the URL).
    return hmac.new(key, b"mediasrv site playback v2", hashlib.sha256).digest()


def _site_mac(key: bytes, site_id: str, generation: str, expires: str, asset_id: str) -> str:
    # Over the digits as written: a link with leading zeros added is not one we made.
    text = f"{site_id}.{generation}.{expires}.{asset_id}"
    digest = hmac.new(_site_key(key), text.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class SignedPlayback:
    """What a genuine, unexpired playback link says: who it is for and, for a site's link, the site's
    link generation it was made at (None: a person's link, or a site's from before generations)."""

    caller: Caller
    generation: int | None


def sign_playback(
    key: bytes, *, caller: Caller, asset_id: str, expires: int, generation: int | None = None
) -> str:
    """The path segment that grants `caller` playback of one asset until `expires` (Unix time).

    A producer's link names its department too: what a producer may play is its department's assets
    besides published ones (mediasrv.delivery.scope), and a link is checked without the database. A
    site's link names the site's link generation (`generation`, required for sites:
    mediasrv.accounts.service.site_link_generation), which revoking one of its tokens moves on."""
    if caller.role is Role.SITE:
        if generation is None or caller.site_id is None:
            raise ValueError("a site's playback link needs its site and link generation")
        mac = _site_mac(key, str(caller.site_id), str(generation), str(expires), asset_id)
        return f"site-{caller.site_id}.{expires}.{generation}.{mac}"
    subject = f"{caller.role.value}-{caller.user_id}"
    if caller.role is Role.PRODUCER and caller.org_unit_id is not None:
        subject += f"-{caller.org_unit_id}"
    return f"{subject}.{expires}.{_mac(key, subject, expires, asset_id)}"


def _digits(text: str, most: int) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= most


def verify_playback(key: bytes, signature: str, asset_id: str, *, now: float | None = None) -> SignedPlayback:
    """Who a signed link is for, when it is genuine and unexpired; 401 otherwise. Whether that caller
    may play the asset now (published, its department's) is the playback scope's question; whether a
    site's link generation is still the site's, mediasrv.accounts.auth.signed_playback's.

    A site's link of the earlier form (no generation: `site-<id>.<expires>.<mac>`) still plays until
    it expires: boxes hold channel lists made before generations, and refusing those links would stop
    every box at the upgrade until it fetched its list again. The server makes no more of them, so
    none is left once the longest lifetime (mediasrv.delivery.playlist.list_link_seconds: a day and
    an hour by default) has passed since the upgrade; this branch can go with the next release."""
    parts = signature.split(".")
    if len(parts) == 4:  # a site's link: site-<id>.<expires>.<generation>.<mac>
        subject, expires_text, generation_text, mac = parts
        site_text = subject.removeprefix("site-")
        if not (
            subject.startswith("site-")
            and _digits(site_text, _EXPIRY_DIGITS)
            and _digits(expires_text, _EXPIRY_DIGITS)
            and _digits(generation_text, _GENERATION_DIGITS)
            and mac
        ):
            raise Unauthorized("accounts.playback_link_malformed")
        wanted = _site_mac(key, site_text, generation_text, expires_text, asset_id)
        # Compared as bytes: compare_digest refuses non-ASCII str, and links arrive from anywhere.
        if not hmac.compare_digest(mac.encode(), wanted.encode()):
            raise Unauthorized("accounts.playback_link_wrong")
        if int(expires_text) < (now if now is not None else time.time()):
            raise Unauthorized("accounts.playback_link_expired")
        holder = Caller(role=Role.SITE, name=subject, via="signed", site_id=int(site_text))
        return SignedPlayback(holder, int(generation_text))
    if len(parts) != 3:
        raise Unauthorized("accounts.playback_link_malformed")
    subject, expires_text, mac = parts
    if not (subject and _digits(expires_text, _EXPIRY_DIGITS) and mac):
        raise Unauthorized("accounts.playback_link_malformed")
    if not hmac.compare_digest(mac.encode(), _mac(key, subject, int(expires_text), asset_id).encode()):
        raise Unauthorized("accounts.playback_link_wrong")
    if int(expires_text) < (now if now is not None else time.time()):
        raise Unauthorized("accounts.playback_link_expired")
    role_text, _, idents = subject.partition("-")
    role = Role(role_text)  # cannot fail: the MAC proves we wrote this subject
    ident_id, _, unit = idents.partition("-")
    number = int(ident_id) if ident_id.isascii() and ident_id.isdigit() else None
    org_unit_id = int(unit) if unit.isascii() and unit.isdigit() else None
    site_id, user_id = (number, None) if role is Role.SITE else (None, number)
    holder = Caller(
        role=role, name=subject, via="signed", site_id=site_id, user_id=user_id, org_unit_id=org_unit_id
    )
    return SignedPlayback(holder, None)


def _list_mac(key: bytes, site_id: int, generation: int) -> str:
    # Its own prefix: no playback MAC (role-id.expires.asset) can pass for one of these.
    digest = hmac.new(key, f"channel-list:{site_id}.{generation}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_channel_list(key: bytes, *, site_id: int, generation: int) -> str:
    """The `key` that opens site `site_id`'s channel list without a header (boxes, VLC). It holds
    until the site's key generation moves, which revoking one of its tokens does
    (mediasrv.accounts.service.site_link_generation)."""
    return f"{generation}.{_list_mac(key, site_id, generation)}"


def channel_list_generation(key: bytes, text: str, site_id: int) -> int:
    """The key generation a channel-list key was made with; 401 when it is not ours for this site.
    Checked without the database; the caller then compares the generation with the site's."""
    generation, _, mac = text.partition(".")
    if not (generation.isascii() and generation.isdigit() and len(generation) <= 9 and mac):
        raise Unauthorized("accounts.channel_key_malformed")
    if not hmac.compare_digest(mac.encode(), _list_mac(key, site_id, int(generation)).encode()):
        raise Unauthorized("accounts.channel_key_wrong")
    return int(generation)
