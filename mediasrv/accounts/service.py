"""Organisation units, users, tokens and logins. Services flush; the caller's unit of work commits."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.accounts.models import ApiToken, LoginFailure, OrgUnit, User, WebSession
from mediasrv.audit.service import Action, record
from mediasrv.db import Database, insert_for, utcnow
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound, Unauthorized
from mediasrv.kit.regions import Scope, common_region, normalise_region
from mediasrv.sites.models import Site

TOKEN_PREFIX = "msv_"  # noqa: S105  # a visible prefix lets secret scanners spot leaked tokens
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[\w.@-]{2,64}$")  # \w admits Chinese names
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write on every request
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20


def hash_secret(value: str) -> str:
    """Tokens and session ids carry 256 random bits, so a fast hash is enough to store them."""
    return hashlib.sha256(value.encode()).hexdigest()


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against for unknown users, so that they cost the same time as a wrong password.
    return _hasher().hash(secrets.token_urlsafe(16))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise MediaError("accounts.password_too_short", min_length=MIN_PASSWORD)


# --- organisation units -----------------------------------------------------------------------


def create_org_unit(session: Session, *, actor: Caller, name: str, region: str = "") -> OrgUnit:
    """A department in `region`, inside the actor's scope (none given: the scope itself)."""
    name = name.strip()
    if not name:
        raise MediaError("accounts.unit_name_empty")
    region = Scope.of(actor).admit(region)
    if session.scalar(select(OrgUnit).where(OrgUnit.name == name)) is not None:
        raise Conflict("accounts.unit_name_taken", name=name)
    unit = OrgUnit(name=name, region=region)
    session.add(unit)
    session.flush()
    record(
        session,
        actor,
        Action.ORG_UNIT_CREATE,
        "org_unit",
        unit.id,
        in_region=region,
        name=name,
        region=region,
    )
    return unit


def org_unit_by_name(session: Session, name: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.name == name))
    if unit is None:
        raise NotFound("accounts.no_unit_named", name=name)
    return unit


def department_region(session: Session, org_unit_id: int | None) -> str:
    """Where a department's things (assets, programmes) lie, for the audit log; none: the network's."""
    unit = session.get(OrgUnit, org_unit_id) if org_unit_id is not None else None
    return unit.region if unit is not None else ""


def list_org_units(session: Session, *, scope: Scope) -> list[OrgUnit]:
    return list(session.scalars(select(OrgUnit).where(scope.where(OrgUnit.region)).order_by(OrgUnit.name)))


# --- users ------------------------------------------------------------------------------------


def _validate_role_unit(
    session: Session, scope: Scope, role: Role, org_unit_id: int | None
) -> OrgUnit | None:
    """The account's department, which must be in the actor's scope (outside it: as if none, 404)."""
    if role is Role.SITE:
        raise MediaError("accounts.people_not_sites")
    unit = session.get(OrgUnit, org_unit_id) if org_unit_id is not None else None
    if org_unit_id is not None and (unit is None or not scope.covers(unit.region)):
        raise NotFound("accounts.no_unit", org_unit_id=org_unit_id)
    if role is Role.PRODUCER and unit is None:
        raise MediaError("accounts.producer_needs_unit")
    return unit


def _account_region(scope: Scope, role: Role, unit: OrgUnit | None, region: str | None, kept: str) -> str:
    """A producer's region is its department's (none other may be given); an administrator's scope is
    `region` (None: `kept`), never wider than the actor's."""
    if role is Role.PRODUCER:
        assert unit is not None  # _validate_role_unit
        if region is not None and normalise_region(region) not in ("", unit.region):
            raise MediaError("accounts.producer_region_is_unit", unit=unit.name, region=unit.region)
        return unit.region
    return scope.admit(kept if region is None else region)


def create_user(
    session: Session,
    *,
    actor: Caller,
    username: str,
    display_name: str,
    role: Role,
    org_unit_id: int | None,
    password: str | None,
    region: str = "",
) -> User:
    """An account; an administrator's scope is `region` ('': the actor's own), never wider than the
    actor's; a producer's department must be in the actor's scope."""
    if not _USERNAME.match(username):
        raise MediaError("accounts.username_invalid")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict("accounts.username_taken", username=username)
    scope = Scope.of(actor)
    unit = _validate_role_unit(session, scope, role, org_unit_id)
    region = _account_region(scope, role, unit, region, scope.region)
    if password is not None:
        _check_password(password)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        org_unit_id=org_unit_id,
        region=region,
        password_hash=_hasher().hash(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        Action.USER_CREATE,
        "user",
        user.id,
        in_region=region,
        region=region,
        username=username,
        role=role.value,
        org_unit_id=org_unit_id,
    )
    return user


def _audited(user: User) -> dict[str, object]:
    return {
        "display_name": user.display_name,
        "role": user.role.value,
        "org_unit_id": user.org_unit_id,
        "region": user.region,
        "is_active": user.is_active,
    }


def update_user(
    session: Session,
    *,
    actor: Caller,
    user_id: int,
    display_name: str | None = None,
    role: Role | None = None,
    org_unit_id: int | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    region: str | None = None,
) -> User:
    """Change an account in the actor's scope (outside it: 404); its department and scope stay in
    the actor's."""
    scope = Scope.of(actor)
    user = get_user(session, user_id, scope=scope)
    before = _audited(user)
    if role is not None or org_unit_id is not None or region is not None:
        new_role, new_unit = role or user.role, org_unit_id if org_unit_id is not None else user.org_unit_id
        unit = _validate_role_unit(session, scope, new_role, new_unit)
        user.region = _account_region(scope, new_role, unit, region, user.region)
        user.role, user.org_unit_id = new_role, new_unit
    if display_name is not None:
        user.display_name = display_name.strip() or user.username
    if password is not None:
        _check_password(password)
        user.password_hash = _hasher().hash(password)
    unlocked = password is not None and _clear_failures(session, user)  # a new password lifts a lock
    if is_active is not None:
        if user.id == actor.user_id and not is_active:
            raise MediaError("accounts.cannot_disable_self")
        user.is_active = is_active
    if password is not None or is_active is False:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))  # log out everywhere
    session.flush()
    epochs.bump(session, epochs.ACCOUNTS)  # role, unit or access changed: re-check its tokens
    # {field: {before, after}} as site.update records it, so the audit page can show what changed.
    after = _audited(user)
    changes: dict[str, object] = {
        f: {"before": before[f], "after": v} for f, v in after.items() if before[f] != v
    }
    if password is not None:
        changes["password"] = "changed"  # noqa: S105  # the fact, never the value
    if unlocked:
        changes["locked"] = {"before": True, "after": False}
    # Under its new scope, and its old one too when it moved: both administrators see the move.
    where = common_region([str(before["region"]), user.region])
    record(session, actor, Action.USER_UPDATE, "user", user.id, in_region=where, **changes)
    return user


def get_user(session: Session, user_id: int, *, scope: Scope | None = None) -> User:
    """An account; with `scope`, only one in it (outside it, as if there were none: 404)."""
    user = session.get(User, user_id)
    if user is None or (scope is not None and not scope.covers(user.region)):
        raise NotFound("accounts.no_user", user_id=user_id)
    return user


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("accounts.no_user_named", username=username)
    return user


def list_users(session: Session, *, scope: Scope) -> list[User]:
    return list(session.scalars(select(User).where(scope.where(User.region)).order_by(User.username)))


# --- tokens -----------------------------------------------------------------------------------


def create_token(
    session: Session, *, actor: Caller, name: str, user_id: int | None = None, site_id: int | None = None
) -> tuple[ApiToken, str]:
    """A new token for a user (default: the actor) or a site; the plain value is returned once."""
    if user_id is None and site_id is None:
        if actor.user_id is None:
            raise MediaError("accounts.token_owner_missing")
        user_id = actor.user_id
    if user_id is not None and site_id is not None:
        raise MediaError("accounts.token_owner_both")
    if actor.role is not Role.ADMIN and (site_id is not None or user_id != actor.user_id):
        raise Forbidden("accounts.token_for_others_admin_only")
    # For an account or a site in the actor's scope only (outside it: 404, as if there were none).
    scope = Scope.of(actor)
    if user_id is not None:
        region = get_user(session, user_id, scope=scope).region
    else:
        assert site_id is not None
        site = session.get(Site, site_id)
        if site is None or not scope.covers(site.region):
            raise NotFound("sites.no_site", site_id=site_id)
        region = site.region
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name.strip() or "token", token_hash=hash_secret(plain), user_id=user_id, site_id=site_id
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor,
        Action.TOKEN_CREATE,
        "token",
        token.id,
        in_region=region,
        name=token.name,
        user_id=user_id,
        site_id=site_id,
    )
    return token, plain


def create_service_account(
    session: Session,
    *,
    actor: Caller,
    name: str,
    role: Role,
    org_unit_id: int | None = None,
    region: str = "",
) -> tuple[ApiToken, str]:
    """An account without a password, for a program, and its first token (an administrator's scope:
    `region`, as create_user takes it)."""
    user = create_user(
        session,
        actor=actor,
        username=name,
        display_name=name,
        role=role,
        org_unit_id=org_unit_id,
        password=None,
        region=region,
    )
    return create_token(session, actor=actor, name=name, user_id=user.id)


def _owner_region(session: Session, token: ApiToken) -> str:
    """Where a token's owner lies: its account's scope, or its site's region."""
    if token.user is not None:
        return token.user.region
    site = session.get(Site, token.site_id)
    assert site is not None  # the foreign key guarantees it
    return site.region


def revoke_token(session: Session, *, actor: Caller, token_id: int) -> ApiToken:
    """One's own token; an administrator any token of an account or site in its scope."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("accounts.no_token", token_id=token_id)
    region = _owner_region(session, token)
    mine = token.user_id is not None and token.user_id == actor.user_id
    if not (mine or (actor.role is Role.ADMIN and Scope.of(actor).covers(region))):
        raise NotFound("accounts.no_token", token_id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        epochs.bump(session, epochs.ACCOUNTS)  # API processes stop trusting it within a second
        record(session, actor, Action.TOKEN_REVOKE, "token", token.id, in_region=region, name=token.name)
    return token


def site_link_generation(session: Session, site_id: int) -> int:
    """The generation a site's channel-list key and playback links are made with: how many of its
    tokens were revoked. Revoking any of them retires its links (a box's token and its channel list
    go together), and no other state is needed (kept in memory: mediasrv.accounts.auth.SiteLinks)."""
    count = select(func.count()).where(ApiToken.site_id == site_id, ApiToken.revoked_at.is_not(None))
    return session.scalar(count) or 0


def list_tokens(session: Session, *, actor: Caller) -> list[ApiToken]:
    """One's own tokens; an administrator's: those of the accounts and sites in its scope."""
    query = select(ApiToken).order_by(ApiToken.id)
    if actor.role is not Role.ADMIN:
        query = query.where(ApiToken.user_id == actor.user_id)
    elif not (scope := Scope.of(actor)).whole:
        query = query.where(
            or_(
                ApiToken.user_id.in_(select(User.id).where(scope.where(User.region))),
                ApiToken.site_id.in_(select(Site.id).where(scope.where(Site.region))),
            )
        )
    return list(session.scalars(query))


def _user_caller(user: User, via: Literal["token", "session"], token_id: int | None = None) -> Caller:
    return Caller(
        role=user.role,
        name=user.username,
        via=via,
        user_id=user.id,
        org_unit_id=user.org_unit_id,
        token_id=token_id,
        region=user.region,
    )


def caller_from_bearer(session: Session, token: str) -> Caller:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token.strip())))
    if row is None:
        raise Unauthorized("accounts.token_unknown")
    if row.revoked_at is not None:
        raise Unauthorized("accounts.token_revoked")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    if row.site_id is not None:
        site = session.get(Site, row.site_id)
        assert site is not None  # the foreign key guarantees it
        return Caller(
            role=Role.SITE, name=Caller.site_name(site.code), via="token", site_id=site.id, token_id=row.id
        )
    assert row.user is not None
    if not row.user.is_active:
        raise Unauthorized("accounts.account_disabled", username=row.user.username)
    return _user_caller(row.user, "token", row.id)


# --- web logins -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginOutcome:
    """A login's result. Failures are returned, not raised, so that their counting commits."""

    user: User | None
    cookie: str | None = None
    csrf_token: str | None = None
    retry_after: int | None = None  # seconds until the attempt would be admitted again
    locked: Literal["account", "client"] | None = None  # which limit refused it


@dataclass(frozen=True)
class _Attempt:
    """One login attempt as counted against one key (an account name or a client address)."""

    key: str
    limit: int
    count: int  # the attempts in this key's window, this one included
    window_start: datetime

    @property
    def refused(self) -> bool:
        return self.count > self.limit


def _user_key(username: str) -> str:
    return f"user:{username.lower()}"


def _count_attempt(session: Session, key: str, limit: int, now: datetime) -> _Attempt:
    """Count an attempt atomically: one upsert that starts a new window when the old one is over and
    returns the count, so that concurrent attempts each get a different number."""
    expired = LoginFailure.window_start <= now - LOGIN_WINDOW
    insert = insert_for(session, LoginFailure).values(key=key, count=1, window_start=now)
    upsert = insert.on_conflict_do_update(
        index_elements=[LoginFailure.key],
        set_={
            "count": case((expired, 1), else_=LoginFailure.count + 1),
            "window_start": case(
                (expired, literal(now, LoginFailure.window_start.type)), else_=LoginFailure.window_start
            ),
        },
    )
    count, window_start = session.execute(
        upsert.returning(LoginFailure.count, LoginFailure.window_start)
    ).one()
    return _Attempt(key=key, limit=limit, count=count, window_start=window_start)


def _uncount(session: Session, attempt: _Attempt) -> None:
    """Take back an attempt that was refused or succeeded (its window only: a new one owes nothing)."""
    session.execute(
        update(LoginFailure)
        .where(
            LoginFailure.key == attempt.key,
            LoginFailure.window_start == attempt.window_start,
            LoginFailure.count > 0,
        )
        .values(count=LoginFailure.count - 1)
    )


def login(db: Database, *, username: str, password: str, client: str, session_hours: float) -> LoginOutcome:
    """Check a password; on success open a web session. Every failure looks and takes the same.

    The attempt is counted first, in its own committed transaction, and the password is checked
    only if the count is within the limits: concurrent guesses cannot all slip past the count, and
    no lock is held during the slow hash. A failed attempt stays counted; a refused or successful
    one is taken back (a refusal must not use up the other key: an office behind one address).
    """
    now = utcnow()
    with db.session_scope() as session:  # fixed order (account, then address): no deadlock
        attempts = [
            _count_attempt(session, _user_key(username), MAX_FAILURES_PER_USER, now),
            _count_attempt(session, f"client:{client}", MAX_FAILURES_PER_CLIENT, now),
        ]
    refused = [a for a in attempts if a.refused]
    if refused:
        with db.session_scope() as session:
            for attempt in attempts:
                _uncount(session, attempt)
        # Admitted again when every limit it is over has left its window.
        until = max(a.window_start for a in refused) + LOGIN_WINDOW
        return LoginOutcome(
            user=None,
            retry_after=max(1, math.ceil((until - utcnow()).total_seconds())),
            locked="account" if attempts[0].refused else "client",
        )
    with db.session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None and user.password_hash else None
        try:
            ok = _hasher().verify(stored or _dummy_hash(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or not user.is_active:
            record(
                session,
                None,
                Action.LOGIN_FAILED,
                "user",
                user.id if user else "-",
                in_region=user.region if user else "",
                username=username[:64],
                client=client,
            )
            return LoginOutcome(user=None)
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        session.add(
            WebSession(
                id_hash=hash_secret(cookie),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=session_hours),
            )
        )
        user.last_login_at = now
        record(
            session,
            _user_caller(user, "session"),
            Action.LOGIN,
            "user",
            user.id,
            in_region=user.region,
            client=client,
        )
        # After the user row (flushed by the delete), as update_user does: one lock order, no deadlock.
        session.execute(delete(LoginFailure).where(LoginFailure.key == attempts[0].key))
        _uncount(session, attempts[1])
        return LoginOutcome(user=user, cookie=cookie, csrf_token=csrf)


def locked_until(session: Session, users: list[User]) -> dict[int, datetime]:
    """When each locked account among `users` may log in again (accounts not locked are absent)."""
    rows = session.scalars(
        select(LoginFailure).where(
            LoginFailure.key.in_({_user_key(u.username) for u in users}),
            LoginFailure.count >= MAX_FAILURES_PER_USER,
            LoginFailure.window_start > utcnow() - LOGIN_WINDOW,
        )
    )
    until = {row.key: row.window_start + LOGIN_WINDOW for row in rows}
    return {u.id: until[_user_key(u.username)] for u in users if _user_key(u.username) in until}


def _clear_failures(session: Session, user: User) -> bool:
    """Forget the account's failed logins; True when that lifted a lock."""
    locked = bool(locked_until(session, [user]))
    session.execute(delete(LoginFailure).where(LoginFailure.key == _user_key(user.username)))
    return locked


def unlock_user(session: Session, *, actor: Caller, user_id: int) -> User:
    """Let a locked-out account of the actor's scope log in again at once (its client addresses keep
    their own limit)."""
    user = get_user(session, user_id, scope=Scope.of(actor))
    if _clear_failures(session, user):
        record(
            session,
            actor,
            Action.USER_UPDATE,
            "user",
            user.id,
            in_region=user.region,
            locked={"before": True, "after": False},
        )
    return user


def session_for_cookie(session: Session, cookie: str) -> WebSession:
    web = session.get(WebSession, hash_secret(cookie))
    if web is None or web.expires_at < utcnow():
        raise Unauthorized("accounts.login_expired")
    if not web.user.is_active:
        raise Unauthorized("accounts.account_disabled", username=web.user.username)
    return web


def caller_from_session(web: WebSession) -> Caller:
    return _user_caller(web.user, "session")


def csrf_matches(web: WebSession, presented: str | None) -> bool:
    # Compared as bytes: compare_digest raises on non-ASCII str, and a header may carry any byte.
    return presented is not None and hmac.compare_digest(web.csrf_token.encode(), presented.encode())


def logout(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == hash_secret(cookie)))
