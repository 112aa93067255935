"""/auth (web login) and /api/v1 org-units, users and tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mediasrv.accounts import service
from mediasrv.accounts.auth import (
    SESSION_COOKIE,
    AdminDep,
    ProducerDep,
    ScopeDep,
    ViewerDep,
    check_same_origin,
    public,
)
from mediasrv.accounts.models import User
from mediasrv.accounts.schemas import (
    NewToken,
    OrgUnitIn,
    OrgUnitOut,
    SessionOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from mediasrv.deps import SessionDep, SettingsDep
from mediasrv.kit.errors import TooManyRequests, Unauthorized, error_responses
from mediasrv.kit.params import RowId

auth_router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(400, 401, 403, 422))
router = APIRouter(
    prefix="/api/v1", tags=["accounts"], responses=error_responses(400, 401, 403, 404, 409, 422)
)


def users_out(session: Session, users: list[User]) -> list[UserOut]:
    locks = service.locked_until(session, users)
    return [
        UserOut(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            org_unit_id=user.org_unit_id,
            region=user.region,
            is_active=user.is_active,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            locked_until=locks.get(user.id),
        )
        for user in users
    ]


@auth_router.post(
    "/login",
    dependencies=[Depends(public)],
    response_model=SessionOut,
    responses=error_responses(429),
)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    settings: SettingsDep,
) -> Response:
    """Log in with a password; sets the session cookie and returns the CSRF token for unsafe requests."""
    check_same_origin(request)
    client = request.client.host if request.client else "unknown"
    # No request session: the attempt is counted and committed before the password is checked.
    outcome = service.login(
        request.app.state.db,
        username=username,
        password=password,
        client=client,
        session_hours=settings.session_hours,
    )
    # Raised only now: service.login has committed the attempt's count (this route has no session).
    if outcome.retry_after is not None:
        raise TooManyRequests(
            "accounts.login_locked_account"
            if outcome.locked == "account"
            else "accounts.login_locked_client",
            retry_after=outcome.retry_after,
            minutes=-(-outcome.retry_after // 60),
        )
    if outcome.user is None or outcome.cookie is None:
        raise Unauthorized("accounts.bad_login")
    body = SessionOut(
        username=outcome.user.username,
        role=outcome.user.role,
        org_unit_id=outcome.user.org_unit_id,
        region=outcome.user.region,
        csrf_token=outcome.csrf_token,
    )
    response = JSONResponse(body.model_dump(mode="json"))
    response.set_cookie(
        SESSION_COOKIE,
        outcome.cookie,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    return response


@auth_router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, caller: ViewerDep, session: SessionDep) -> Response:
    """End this browser's login."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.logout(session, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@auth_router.get("/session", response_model=SessionOut)
def current_session(request: Request, caller: ViewerDep, session: SessionDep) -> SessionOut:
    """Who is calling; for a web login also its CSRF token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    csrf = (
        service.session_for_cookie(session, cookie).csrf_token if caller.via == "session" and cookie else None
    )
    return SessionOut(
        username=caller.name,
        role=caller.role,
        org_unit_id=caller.org_unit_id,
        region=caller.region,
        site_id=caller.site_id,
        csrf_token=csrf,
    )


@router.get("/org-units", response_model=list[OrgUnitOut], tags=["accounts"])
def list_org_units(caller: ProducerDep, scope: ScopeDep, session: SessionDep) -> list[OrgUnitOut]:
    """Producing departments (an administrator's: those in its scope)."""
    return [OrgUnitOut.model_validate(u) for u in service.list_org_units(session, scope=scope)]


@router.post("/org-units", status_code=201, response_model=OrgUnitOut)
def create_org_unit(body: OrgUnitIn, caller: AdminDep, session: SessionDep) -> OrgUnitOut:
    """A department in a region inside your scope."""
    unit = service.create_org_unit(session, actor=caller, name=body.name, region=body.region)
    return OrgUnitOut.model_validate(unit)


@router.get("/users", response_model=list[UserOut])
def list_users(caller: AdminDep, scope: ScopeDep, session: SessionDep) -> list[UserOut]:
    """The accounts of your scope."""
    return users_out(session, service.list_users(session, scope=scope))


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, caller: AdminDep, session: SessionDep) -> UserOut:
    """An account in your scope: an administrator's scope inside yours, a producer's department in it."""
    return users_out(session, [service.create_user(session, actor=caller, **body.model_dump())])[0]


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: RowId, body: UserPatch, caller: AdminDep, session: SessionDep) -> UserOut:
    """Change role, department, scope, name or password; disable or enable (disabling logs the user
    out). Any account of your scope; never to a scope wider than yours.

    A new password also lifts a lock from failed logins."""
    user = service.update_user(session, actor=caller, user_id=user_id, **body.model_dump())
    return users_out(session, [user])[0]


@router.post("/users/{user_id}/unlock", response_model=UserOut)
def unlock_user(user_id: RowId, caller: AdminDep, session: SessionDep) -> UserOut:
    """Let an account locked by failed logins log in again now (audited when it was locked)."""
    return users_out(session, [service.unlock_user(session, actor=caller, user_id=user_id)])[0]


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(caller: ProducerDep, session: SessionDep) -> list[TokenOut]:
    """Your tokens (administrators: every token). Values are never shown again."""
    return [TokenOut.model_validate(t) for t in service.list_tokens(session, actor=caller)]


@router.post("/tokens", status_code=201, response_model=NewToken)
def create_token(body: TokenIn, caller: ProducerDep, session: SessionDep) -> NewToken:
    """A new token for yourself, or (administrators) for a user or a site; the value is shown only now."""
    token, plain = service.create_token(session, actor=caller, **body.model_dump())
    return NewToken.model_validate({**TokenOut.model_validate(token).model_dump(), "token": plain})


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: RowId, caller: ProducerDep, session: SessionDep) -> TokenOut:
    return TokenOut.model_validate(service.revoke_token(session, actor=caller, token_id=token_id))
