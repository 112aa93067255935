"""Who can call mediasrv: organisation units, users, tokens, web sessions, login throttling (a request's
Caller and its Role are kit.caller's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mediasrv.db import Base, utcnow
from mediasrv.kit.caller import Role
from mediasrv.kit.regions import prefix_index
from mediasrv.sites import models as _sites  # noqa: F401  # the table api_tokens.site_id names


class OrgUnit(Base):
    """A producing department: a county education centre, a partner department (中央厨房)."""

    __tablename__ = "org_units"
    __table_args__ = (prefix_index("org_units"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Where it sits (kit.regions); its producers belong there, its administrators' scope holds it.
    region: Mapped[str] = mapped_column(String(500), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        prefix_index("users"),
        CheckConstraint("role <> 'site'", name="users_not_site"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), default=None)
    # An administrator's scope ('' the whole network); a producer's is its department's region, kept
    # here too so that one condition finds the accounts of a scope (departments do not move).
    region: Mapped[str] = mapped_column(String(500), default="", server_default="", index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)  # None: API tokens only
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    org_unit: Mapped[OrgUnit | None] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored. It belongs to a user or to a site."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (site_id IS NULL)", name="api_tokens_one_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User | None] = relationship(lazy="joined")


class WebSession(Base):
    """A browser login; the cookie holds a random id whose SHA-256 is the key here."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """Failed logins counted per account name and per client address, in a sliding window."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)


class ServerSecret(Base):
    """A secret every server process must hold alike (accounts.signing's key when MEDIASRV_SECRET_KEY
    is not set): kept here, so that API processes on separate machines share it without being told."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
