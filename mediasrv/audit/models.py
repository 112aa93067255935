"""One row per change a person (or site) made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.kit.regions import prefix_index


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (prefix_index("audit_events"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    actor_site_id: Mapped[int | None] = mapped_column(Integer, default=None)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    # Where the object acted on lies (kit.regions): an administrator reads the rows of its scope.
    region: Mapped[str] = mapped_column(String(500), default="", server_default="", index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
