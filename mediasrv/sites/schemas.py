"""API shapes of sites: what may describe a site (the rules of POST and PATCH /api/v1/sites, which the
CSV import applies to each row too: one set of rules for every way a site is registered), what the
registry answers, what an agent's heartbeat says and what the fleet views show."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mediasrv.kit.errors import MediaError
from mediasrv.kit.params import MAX_INT64
from mediasrv.media import languages
from mediasrv.sites.models import MAX_FAILED_SAMPLE, MAX_REPLACED, RECEIPT_DAYS, DeviceProfile, State

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
                "sites.control_character",
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
# A language as a clerk writes it: its tag (bo) or its Chinese name (藏语); "普通话" is Mandarin.
_LANGUAGE_OF = {name: tag for tag, name in reversed(languages.NAMES.items())}
_LANGUAGE_SEPARATORS = re.compile(r"[\s,，、;；/]+")


def _languages(value: object) -> object:
    """A CSV cell or a form's text ("bo、维吾尔语") as the list the API takes; a list as it is."""
    if isinstance(value, str):
        return [part for part in _LANGUAGE_SEPARATORS.split(value) if part]
    return value


def _tags(value: list[str]) -> list[str]:
    tags: list[str] = []
    for given in value:
        try:
            tag = _LANGUAGE_OF.get(given.strip()) or languages.checked(given)
        except MediaError:
            accepted = "、".join(f"{t}（{n}）" for t, n in languages.NAMES.items())
            raise PydanticCustomError(
                "sites.language_unknown",
                "language {tag} is not one we carry: use one of {accepted}",
                {"tag": given[:32], "accepted": accepted},
            ) from None
        if tag not in tags:
            tags.append(tag)
    return tags


# The extra languages a site holds (audio tracks and captions), in the order given, each once.
Languages = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    BeforeValidator(_languages),
    AfterValidator(_tags),
    Field(
        max_length=len(languages.NAMES),
        examples=[["bo"]],
        description="media.languages tags or Chinese names; []: the film's own sound and Chinese captions",
    ),
]


class SiteIn(BaseModel):
    code: SiteCode
    name: SiteName
    region: Region = ""
    device_profile: DeviceProfile = DeviceProfile.IPTV
    quota_bytes: QuotaBytes | None = Field(default=None, description="none: no limit")
    download_window: Window | None = None
    bandwidth_kbps: Bandwidth | None = None
    languages: Languages = Field(default_factory=list)


class SitePatch(BaseModel):
    """Only the fields sent change; null clears quota, download window and bandwidth cap."""

    name: SiteName | None = None
    region: Region | None = None
    device_profile: DeviceProfile | None = None
    quota_bytes: QuotaBytes | None = None
    download_window: Window | None = None
    bandwidth_kbps: Bandwidth | None = None
    languages: Languages | None = Field(default=None, description="[] or null: none")


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


# --- the registry ---------------------------------------------------------------------------------


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    region: str
    device_profile: DeviceProfile
    quota_bytes: int | None
    download_window: str | None
    bandwidth_kbps: int | None
    languages: list[str]


class SiteLanguagesOut(SiteOut):
    """A site with the languages its manifest holds: its own, else its nearest region's."""

    effective_languages: list[str] = Field(description="its own languages, else its nearest region's")
    languages_from: str | None = Field(
        description="the region it inherits them from ('' the whole network); null: its own or none"
    )


class RegionLanguagesIn(BaseModel):
    """The languages a region's sites hold when they chose none themselves."""

    region: Region = Field(default="", description="inside your scope; empty: your scope")
    languages: Languages = Field(default_factory=list, description="[]: none here, inherit from above")


class RegionLanguagesOut(BaseModel):
    region: str
    languages: list[str] = Field(description="the region's own; [] when it set none")
    effective_languages: list[str] = Field(description="what its sites without their own hold")
    languages_from: str | None = Field(
        description="the region those come from (itself or one above, '' the whole network); null: none"
    )


class CellProblemOut(BaseModel):
    column: str = Field(
        description="the column as the file's first line names it; empty for the row as a whole"
    )
    message: str = Field(description="what is wrong and what to do, in the caller's language")
    code: str = Field(description="the message's stable key", examples=["sites.code_taken"])
    params: dict[str, str | int | float | bool | list[str] | None] = Field(
        default_factory=dict, description="the facts the message names (a nested text as its key)"
    )


class RowError(BaseModel):
    line: int = Field(description="the row as Excel numbers it: the first line (the column names) is 1")
    message: str = Field(description="every problem of the row, in the caller's language")
    problems: list[CellProblemOut]


class SiteImport(BaseModel):
    created: list[SiteOut]
    errors: list[RowError] = Field(
        description="each bad row with every problem it has; nothing of a bad row was imported, the good "
        "rows were"
    )


class ChannelListLink(BaseModel):
    site_id: int
    url: str = Field(
        description="the site's M3U channel list for its boxes and VLC: opens without a header; retired "
        "when one of the site's tokens is revoked (fetch the new one then)"
    )


# --- heartbeats and the fleet ---------------------------------------------------------------------

MAX_INT32 = 2**31 - 1  # INTEGER columns; larger numbers are refused (422), not left to overflow (500)
# Agents are machines; a control character in what they send is a bug, and it would end up in Excel.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
FailedPath = Annotated[str, Field(min_length=1, max_length=1024, pattern=_PRINTABLE)]


class ChannelReplacement(BaseModel):
    """A scheduled programme the site's channel could not play (not in its cache) and what it
    played instead (mediasrv.agent.channel)."""

    start: AwareDatetime = Field(description="when the scheduled slot began")
    block: str | None = Field(default=None, max_length=80, pattern=_PRINTABLE)
    programme_id: str = Field(min_length=1, max_length=64, pattern=_PRINTABLE)
    replacement_id: str | None = Field(default=None, max_length=64, pattern=_PRINTABLE)


class HeartbeatIn(BaseModel):
    """What the sync agent reports after each run. Unknown fields are ignored so that newer agents
    can report more without being refused by an older server."""

    manifest_version: int | None = Field(
        ge=0, le=MAX_INT32, description="the manifest version the site has applied; null: none yet"
    )
    bytes_missing: int = Field(ge=0, le=MAX_INT64, description="bytes the manifest lists that it lacks")
    files_missing: int = Field(ge=0, le=MAX_INT32)
    files_failed: int = Field(ge=0, le=MAX_INT32, description="files whose download or check failed")
    failed_paths: list[FailedPath] = Field(
        default_factory=list,
        max_length=MAX_FAILED_SAMPLE,
        description=f"a sample of the failing paths, at most {MAX_FAILED_SAMPLE}",
    )
    free_bytes: int | None = Field(default=None, ge=0, le=MAX_INT64, description="free space on the disk")
    used_bytes: int | None = Field(default=None, ge=0, le=MAX_INT64, description="space the cache takes")
    channel_replaced: list[ChannelReplacement] = Field(
        default_factory=list,
        max_length=MAX_REPLACED,
        description="scheduled programmes the site's channel replaced lately (not cached yet), newest first",
    )
    agent_version: str = Field(min_length=1, max_length=64, pattern=_PRINTABLE, examples=["1.4.2"])
    report_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="unique per report: a copy resent after a lost answer is acknowledged, not counted again",
    )
    observed_at: AwareDatetime | None = Field(
        default=None,
        description="when the agent made the report (default: on arrival); an older report never replaces "
        "a newer one",
    )

    @field_validator("observed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError("sites.observed_at_out_of_range", "is out of range", {}) from None


class SiteFaultOut(BaseModel):
    """A fault reported for the site (its site view, or a phone call), as the site is told of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="tv_broken, box_lost, line_down or other")
    opened_at: datetime
    closed_at: datetime | None
    closed_note: str = Field(description="what was done, when closed")


class HeartbeatAck(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: int
    current_version: int | None = Field(description="the site's current manifest version; null: none yet")
    in_sync: bool = Field(description="applied the current version and lacks nothing")
    server_time: datetime
    counted: bool = Field(
        description=f"false: a report id already received, or observed over {RECEIPT_DAYS} days ago"
    )
    # Carried back here, not in the manifest: the heartbeat goes every run and is answered at once,
    # while the manifest is signed, cached and versioned for what the site plays.
    faults: list[SiteFaultOut] = Field(
        default_factory=list,
        description="the site's reported faults: open ones, and those closed in the last 31 days",
    )


class CountsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sites: int
    online: int = Field(description="reported within the online window")
    stale: int = Field(description="reported, but not within the window")
    never_seen: int
    in_sync: int
    over_quota: int
    reachable_percent: float | None = Field(
        description="online / sites in percent, one decimal (畅通率); null: no sites"
    )
    sync_percent: float | None = Field(description="in_sync / sites in percent, one decimal; null: no sites")
    faulty: int = Field(default=0, description="sites with an open fault (GET /api/v1/faults)")
    fault_percent: float | None = Field(
        default=None, description="faulty / sites in percent, one decimal (故障率); null: no sites"
    )


class RegionOut(CountsOut):
    region: str = Field(description="region path cut to `level` parts; '' for sites without a region")


class FleetOut(BaseModel):
    at: datetime
    online_within_seconds: int
    region: str
    level: int
    totals: CountsOut
    regions: list[RegionOut]
    open_faults: dict[str, int] = Field(
        default_factory=dict, description="open faults under the region by kind (GET /api/v1/faults?kind=)"
    )


class FleetSiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: int
    code: str
    name: str
    region: str
    state: State
    last_seen_at: datetime | None
    current_version: int | None
    applied_version: int | None
    in_sync: bool
    over_quota: bool
    bytes_missing: int | None
    files_missing: int | None
    files_failed: int | None
    failed_paths: list[str]
    channel_replaced: list[dict[str, Any]] = Field(
        default_factory=list, description="the channel's latest replacements the site reported"
    )
    free_bytes: int | None
    used_bytes: int | None
    quota_bytes: int | None
    agent_version: str | None
    address: str | None
    observed_at: datetime | None = Field(description="when the agent made its latest report")
    heartbeats_today: int = Field(description="reports counted today (Beijing day)")
