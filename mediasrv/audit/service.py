"""Recording and reading the audit log. A change and its audit row commit together."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediasrv.audit.models import AuditEvent
from mediasrv.kit.caller import Caller
from mediasrv.kit.regions import Scope


class Action(StrEnum):
    ASSET_UPLOAD = "asset.upload"
    ASSET_RETRY = "asset.retry"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    ORG_UNIT_CREATE = "org_unit.create"
    TOKEN_CREATE = "token.create"  # noqa: S105
    TOKEN_REVOKE = "token.revoke"  # noqa: S105
    SITE_CREATE = "site.create"
    SITE_UPDATE = "site.update"
    PROGRAMME_CREATE = "programme.create"
    PROGRAMME_UPDATE = "programme.update"
    PROGRAMME_PUBLISH = "programme.publish"
    PROGRAMME_WITHDRAW = "programme.withdraw"
    PROGRAMME_DELETE = "programme.delete"
    STUDY_LIST_CREATE = "study_list.create"
    STUDY_LIST_UPDATE = "study_list.update"
    STUDY_LIST_PUBLISH = "study_list.publish"
    STUDY_LIST_ARCHIVE = "study_list.archive"
    SCHEDULE_BLOCK_CREATE = "schedule_block.create"
    SCHEDULE_BLOCK_DELETE = "schedule_block.delete"
    SCHEDULE_SETTINGS = "schedule_settings.update"
    REGION_LANGUAGES = "region_languages.update"
    FAULT_REPORT = "fault.report"
    FAULT_CLOSE = "fault.close"
    FAULT_LIMITS = "fault.limits"
    CONTACT_ADD = "fault_contact.add"
    CONTACT_REMOVE = "fault_contact.remove"
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"


def record(
    session: Session,
    actor: Caller | None,
    action: Action,
    target_type: str,
    target_id: object,
    *,
    in_region: str,
    **details: Any,
) -> AuditEvent:
    """Add an audit row to the current unit of work; actor None is an anonymous caller (a failed login).

    `in_region` is where the object acted on lies (a site's region, an account's or a department's
    scope; '' for what belongs to the whole network): the administrators whose scope holds it read
    the row."""
    event = AuditEvent(
        actor_role=actor.role.value if actor else "anonymous",
        actor_name=actor.name if actor else "anonymous",
        actor_user_id=actor.user_id if actor else None,
        actor_site_id=actor.site_id if actor else None,
        action=action.value,
        target_type=target_type,
        target_id=str(target_id),
        region=in_region,
        details=details,
    )
    session.add(event)
    return event


def _utc(moment: datetime) -> datetime:
    """A time without an offset is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def list_events(
    session: Session,
    *,
    scope: Scope,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent).where(scope.where(AuditEvent.region))
    for column, value in (
        (AuditEvent.action, action),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
        (AuditEvent.actor_user_id, actor_user_id),
    ):
        if value is not None:
            query = query.where(column == value)
    # In UTC, as stored: SQLite compares the text without the offset (a Beijing midnight is 8 h off).
    if since is not None:
        query = query.where(AuditEvent.at >= _utc(since))
    if until is not None:
        query = query.where(AuditEvent.at < _utc(until))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows), total
