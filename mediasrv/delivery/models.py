"""Terminal sites (终端站点): the places that play and cache programmes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow


class DeviceProfile(StrEnum):
    IPTV = "iptv"  # a set-top box: the IPTV rendition
    IPTV_LEGACY = "iptv-legacy"  # an old box: the SD rendition
    MOBILE = "mobile"  # phones: the adaptive ladder
    PC = "pc"  # a PC or projector: the adaptive ladder

    @property
    def presentation(self) -> str:
        """Which master playlist this kind of device plays."""
        return {"iptv": "iptv", "iptv-legacy": "iptv-sd"}.get(self.value, "master")


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    # province/city/county/township/village, '/'-separated, so a region is a path prefix
    region: Mapped[str] = mapped_column(String(500), default="", index=True)
    device_profile: Mapped[DeviceProfile] = mapped_column(
        Enum(DeviceProfile, native_enum=False, length=16), default=DeviceProfile.IPTV
    )
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)  # None: no limit
    # Local time window for downloads, "HH:MM" each (may wrap midnight); None: any time.
    window_start: Mapped[str | None] = mapped_column(String(5), default=None)
    window_end: Mapped[str | None] = mapped_column(String(5), default=None)
    bandwidth_kbps: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no cap
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def download_window(self) -> str | None:
        return f"{self.window_start}-{self.window_end}" if self.window_start and self.window_end else None
