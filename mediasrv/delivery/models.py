"""Terminal sites (终端站点): the places that play and cache programmes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    # province/city/county/township/village, '/'-separated, so a region is a path prefix
    region: Mapped[str] = mapped_column(String(500), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
