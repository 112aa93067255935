"""What may describe a site: the rules of POST and PATCH /api/v1/sites, which the CSV import applies to
each row too (one set of rules for every way a site is registered)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from mediasrv.sites.models import DeviceProfile

GB = 1024**3
MAX_QUOTA_BYTES = 2**62  # a BIGINT holds it, and no disk is near it
MAX_BANDWIDTH_KBPS = 10_000_000
# Characters no name means, that break what names end up in: an XLSX cannot hold a NUL or other C0
# control, an M3U channel list is cut by a line break, XML refuses lone surrogates and U+FFFE/U+FFFF.
_NOT_XML = frozenset("\ufffe\uffff")


def _printable(value: str) -> str:
    for at, char in enumerate(value, start=1):
        if char < " " or "\x7f" <= char <= "\x9f" or "\ud800" <= char <= "\udfff" or char in _NOT_XML:
            raise PydanticCustomError(
                "control_character",
                "contains a control character (U+{code}) at character {at}: remove it",
                {"code": f"{ord(char):04X}", "at": at},
            )
    return value


Printable = AfterValidator(_printable)
SiteCode = Annotated[str, Field(min_length=1, max_length=64, examples=["hb-xt-0012"]), Printable]
SiteName = Annotated[str, Field(min_length=1, max_length=200, examples=["西塘村党员活动室"]), Printable]
Region = Annotated[str, Field(max_length=500, examples=["河北省/邢台市/信都区/西黄村镇/西塘村"]), Printable]
QuotaBytes = Annotated[int, Field(ge=1, le=MAX_QUOTA_BYTES, description="storage for the cache")]
# The window's form (01:00-05:00, full-width colons and spaces allowed) is sites.parse_window's.
Window = Annotated[str, Field(max_length=32, examples=["01:00-05:00"]), Printable]
Bandwidth = Annotated[int, Field(ge=1, le=MAX_BANDWIDTH_KBPS, description="download cap")]


class SiteIn(BaseModel):
    code: SiteCode
    name: SiteName
    region: Region = ""
    device_profile: DeviceProfile = DeviceProfile.IPTV
    quota_bytes: QuotaBytes | None = Field(default=None, description="none: no limit")
    download_window: Window | None = None
    bandwidth_kbps: Bandwidth | None = None


class SitePatch(BaseModel):
    """Only the fields sent change; null clears quota, download window and bandwidth cap."""

    name: SiteName | None = None
    region: Region | None = None
    device_profile: DeviceProfile | None = None
    quota_bytes: QuotaBytes | None = None
    download_window: Window | None = None
    bandwidth_kbps: Bandwidth | None = None


class SiteRow(SiteIn):
    """A row of the CSV import: SiteIn's fields and rules, with the quota in GB as people write it."""

    quota_gb: float | None = Field(default=None, gt=0, le=MAX_QUOTA_BYTES // GB, allow_inf_nan=False)

    @model_validator(mode="after")
    def _quota_in_bytes(self) -> SiteRow:
        if self.quota_gb is not None:  # rounded up: any positive quota is at least a byte
            self.quota_bytes = math.ceil(self.quota_gb * GB)
        return self

    def site_fields(self) -> dict[str, Any]:
        """The arguments of sites.create_site."""
        return self.model_dump(exclude={"quota_gb"})
