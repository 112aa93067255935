"""Terminal sites (终端站点): the places that play and cache programmes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mediasrv.db import Base, utcnow
from mediasrv.kit.regions import prefix_index


class DeviceProfile(StrEnum):
    IPTV = "iptv"  # a set-top box: the IPTV rendition
    IPTV_LEGACY = "iptv-legacy"  # an old box: the SD rendition
    MOBILE = "mobile"  # phones: the adaptive ladder
    PC = "pc"  # a PC or projector: the adaptive ladder

    @property
    def presentation(self) -> str:
        """Which master playlist this kind of device plays."""
        return {"iptv": "iptv", "iptv-legacy": "iptv-sd"}.get(self.value, "master")


class State(StrEnum):  # a site's presence: its latest heartbeat against the online window
    ONLINE = "online"  # reported within the window
    STALE = "stale"  # reported once, but not within the window
    NEVER = "never"  # never reported


MAX_FAILED_SAMPLE = 20  # failing paths a report keeps (SiteReport.failed_paths)
MAX_REPLACED = 20  # channel replacements a report keeps (SiteReport.channel_replaced)
# Report ids are remembered this long (by the report's observed_at); agents drop queued reports sooner
# (mediasrv.agent.reports.QUEUE_DAYS), so no copy of a forgotten report can still arrive.
RECEIPT_DAYS = 8


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (prefix_index("sites"),)

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
    # The extra languages its manifest holds (media.languages tags, audio tracks and captions); []:
    # the film's own sound and Chinese captions only.
    languages: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def download_window(self) -> str | None:
        return f"{self.window_start}-{self.window_end}" if self.window_start and self.window_end else None


class RegionLanguages(Base):
    """The languages a region's sites hold when they chose none themselves (Site.languages empty): the
    nearest region with a row decides (village, township, county, city, province, the whole network).
    No row with no languages: clearing a region's removes its row, and its sites inherit from above.
    Who set them is in the audit log."""

    __tablename__ = "region_languages"

    region: Mapped[str] = mapped_column(String(500), primary_key=True)  # '' the whole network
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)  # media.languages tags, in order
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SiteReport(Base):
    """A site's latest heartbeat, one row per site, overwritten by each report. No row per heartbeat:
    25,000 sites every few minutes would be millions of rows a day; SitePresence keeps the days."""

    __tablename__ = "site_reports"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    manifest_version: Mapped[int | None] = mapped_column(Integer, default=None)  # applied; None: none yet
    bytes_missing: Mapped[int] = mapped_column(BigInteger, default=0)
    files_missing: Mapped[int] = mapped_column(Integer, default=0)
    files_failed: Mapped[int] = mapped_column(Integer, default=0)
    failed_paths: Mapped[list[str]] = mapped_column(JSON, default=list)  # a sample, at most 20
    # Scheduled programmes the site's channel played something else for (not cached yet), latest
    # first, at most MAX_REPLACED: the schedule asked for what the cache does not hold.
    channel_replaced: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    free_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(45), default="")  # the client address (IPv6 fits in 45)
    # When the agent made this report (its clock); a report queued offline and delivered late never
    # replaces one observed after it. None: a report from before agents said so.
    observed_at: Mapped[datetime | None] = mapped_column(default=None)
    report_id: Mapped[str | None] = mapped_column(String(64), default=None)


class SiteReportReceipt(Base):
    """The report ids a site delivered within the last RECEIPT_DAYS (by observed_at): an agent resends a
    report whose answer it never got, and the primary key makes counting it a second time impossible,
    even when two API processes receive the copies at once. Older receipts are pruned; a report that
    old is acknowledged but not counted (the agent drops its queue at the same age)."""

    __tablename__ = "site_report_receipts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column()


class SitePresence(Base):
    """Heartbeats per site per day (China Standard Time): the ground for daily reachability (畅通率)."""

    __tablename__ = "site_presence"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    heartbeats: Mapped[int] = mapped_column(Integer, default=0)
    # Of them, those after which the site's cache was complete for its current manifest (the sync share
    # of the site assessment).
    complete_heartbeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
