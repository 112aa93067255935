"""Who may call what. Every route declares its access through exactly one of `public` or `allow(...)`.

API tokens are random, shown once, and stored only as a SHA-256 hash (they carry 256 bits of entropy,
so a slow password hash adds nothing). Accounts, web login and signed playback URLs build on this.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Enum, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.deps import SessionDep
from mediasrv.errors import Forbidden, NotFound, Unauthorized

TOKEN_PREFIX = "msv_"  # noqa: S105  # a visible prefix lets secret scanners spot leaked tokens
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write on every request


class Role(StrEnum):
    PRODUCER = "producer"
    ADMIN = "admin"
    SITE = "site"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


@dataclass(frozen=True)
class Caller:
    token_id: int
    name: str
    role: Role

    def can_manage(self, owner_token_id: int | None) -> bool:
        """Admins manage everything; a producer only what it uploaded."""
        return self.role is Role.ADMIN or owner_token_id == self.token_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: Role) -> tuple[ApiToken, str]:
    """A new token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, token_hash=hash_token(plain))
    session.add(row)
    session.flush()
    return row, plain


def revoke_token(session: Session, *, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"No token with id {token_id}.")
    row.revoked_at = row.revoked_at or utcnow()
    return row


def authenticate(session: Session, authorization: str | None) -> Caller:
    if not authorization:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <token>'.")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    if row is None:
        raise Unauthorized("Unknown API token: check that it was copied whole, or ask an administrator.")
    if row.revoked_at is not None:
        raise Unauthorized("This API token was revoked: ask an administrator for a new one.")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    return Caller(token_id=row.id, name=row.name, role=row.role)


AccessCheck = Callable[..., Caller | None]


def allow(*roles: Role) -> AccessCheck:
    """A dependency admitting callers with one of `roles`: 401 without valid credentials, 403 otherwise."""

    def check(request: Request, session: SessionDep) -> Caller:
        caller = authenticate(session, request.headers.get("authorization"))
        if caller.role not in roles:
            wanted = " or ".join(r.value for r in roles)
            raise Forbidden(
                f"This needs the {wanted} role; your token '{caller.name}' is {caller.role.value}."
            )
        return caller

    check.access_roles = roles  # type: ignore[attr-defined]  # read by the route-walking test
    return check


def public() -> None:
    """Declares a route open to anyone (health checks, HLS until signed URLs arrive)."""


public.access_roles = ()  # type: ignore[attr-defined]

Public = Depends(public)
ProducerDep = Annotated[Caller, Depends(allow(Role.PRODUCER, Role.ADMIN))]
AdminDep = Annotated[Caller, Depends(allow(Role.ADMIN))]
