"""/api/v1/audit: the change log, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from mediasrv.accounts.auth import AdminDep, ScopeDep
from mediasrv.audit import service
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Offset, Page, RowId

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=error_responses(401, 403, 422))


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_role: str
    actor_name: str
    actor_user_id: int | None
    actor_site_id: int | None
    action: str
    target_type: str
    target_id: str
    region: str
    details: dict[str, Any]


@router.get("", response_model=Page[AuditEventOut])
def list_events(
    caller: AdminDep,
    scope: ScopeDep,
    session: SessionDep,
    action: service.Action | None = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_user_id: RowId | None = None,
    since: datetime | None = None,
    until: Annotated[datetime | None, Query(description="only events before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> Page[AuditEventOut]:
    """Who changed what, newest first; filter by action, target, actor or a time range [since, until).
    An administrator reads the actions on objects in its scope."""
    rows, total = service.list_events(
        session,
        scope=scope,
        action=action.value if action else None,
        target_type=target_type,
        target_id=target_id,
        actor_user_id=actor_user_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
