"""API shapes of accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediasrv.kit.caller import Role
from mediasrv.kit.params import RowId
from mediasrv.sites.schemas import Region  # the same rules as a site's region (length, printable)


class OrgUnitIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, examples=["县委组织部电教中心"])
    region: Region = Field(
        default="", description="the region it sits in, inside your scope; empty: your scope"
    )


class OrgUnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    region: str
    created_at: datetime


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64, examples=["zhangwei"])
    display_name: str = Field(default="", max_length=120, examples=["张伟"])
    role: Role
    org_unit_id: RowId | None = None
    password: str | None = Field(default=None, max_length=200, description="None: API tokens only")
    region: Region = Field(
        default="",
        description="an administrator's scope (a region path) inside yours, empty: yours; a producer's: its "
        "department's",
    )


class UserPatch(BaseModel):
    display_name: str | None = Field(default=None, max_length=120)
    role: Role | None = None
    org_unit_id: RowId | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=200)
    region: Region | None = Field(default=None, description="an administrator's scope, inside yours")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int | None
    region: str = Field(
        description="an administrator's scope ('' the whole network); a producer's department's region"
    )
    is_active: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None = Field(
        default=None, description="locked by failed logins until then; an administrator can unlock it"
    )


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, examples=["upload laptop"])
    user_id: RowId | None = Field(default=None, description="default: yourself")
    site_id: RowId | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    user_id: int | None
    site_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="shown only now; only its hash is stored")


class SessionOut(BaseModel):
    """Who is logged in, and the token to send as X-CSRF-Token on unsafe requests."""

    username: str
    role: Role
    org_unit_id: int | None
    region: str = Field(
        default="", description="an administrator's scope: what the pages show ('' the whole network)"
    )
    site_id: int | None = Field(default=None, description="for a site's token: which site (agents ask)")
    csrf_token: str | None
