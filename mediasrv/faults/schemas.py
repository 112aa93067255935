"""API shapes of faults, contacts, limits and the fault register."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from mediasrv.faults.models import ContactKind, FaultKind
from mediasrv.faults.register import RegisterRow
from mediasrv.faults.service import ContactRow, FaultRow
from mediasrv.faults.texts import what
from mediasrv.kit.params import MAX_INT64
from mediasrv.sites.schemas import Printable, Region

# What people type: no control characters (an XLSX, a mail or a PostgreSQL text cannot hold some).
Note = Annotated[str, Field(max_length=2000), Printable]


class FaultIn(BaseModel):
    """A fault a person reported (a phone call): which site, what, and what they said."""

    site_id: int = Field(ge=1, le=MAX_INT64)
    kind: FaultKind = Field(description="tv_broken, box_lost, line_down or other (the others are detected)")
    note: Note = ""


class SiteFaultIn(BaseModel):
    """A fault a site reported from its site view, as its agent delivers it (mediasrv.agent.faults)."""

    id: str = Field(pattern="^[0-9a-f]{32}$", description="the site view form's id: sent again, kept once")
    kind: FaultKind = Field(description="tv_broken, box_lost, line_down or other")
    note: Note = ""
    reported_at: datetime = Field(description="when the member reported it, by the site PC's clock")


class SiteFaultAck(BaseModel):
    fault_id: int
    kind: FaultKind
    opened_at: datetime
    closed_at: datetime | None
    received_at: datetime = Field(description="when the centre received this report (its first delivery)")
    first: bool = Field(description="false: this report had been received already (a resend)")


class FaultCloseIn(BaseModel):
    note: Annotated[Note, Field(min_length=1, description="what was done")]


class FaultOut(BaseModel):
    id: int
    site_id: int
    site_code: str
    site_name: str
    region: str
    kind: FaultKind
    reported: bool = Field(description="reported by a person (closed by a person), else detected")
    summary: str = Field(description="what is wrong, in the caller's language")
    opened_at: datetime
    last_seen_at: datetime
    closed_at: datetime | None
    repair_seconds: int | None
    evidence: dict[str, Any]
    note: str
    closed_note: str
    notified_at: datetime | None
    escalated_at: datetime | None

    @staticmethod
    def of(row: FaultRow, lang: str = "zh") -> FaultOut:
        f = row.fault
        return FaultOut(
            id=f.id,
            site_id=f.site_id,
            site_code=row.site_code,
            site_name=row.site_name,
            region=row.region,
            kind=f.kind,
            reported=f.kind.reported,
            summary=what(f.kind, f.evidence, lang="en" if lang == "en" else "zh"),
            opened_at=f.opened_at,
            last_seen_at=f.last_seen_at,
            closed_at=f.closed_at,
            repair_seconds=f.repair_seconds,
            evidence=f.evidence,
            note=f.note,
            closed_note=f.closed_note,
            notified_at=f.notified_at,
            escalated_at=f.escalated_at,
        )


class ContactIn(BaseModel):
    """One contact: an email address or a webhook URL (WeCom or DingTalk robot, or any JSON webhook)."""

    region: Region = Field(default="", description="default: the caller's scope")
    email: Annotated[str, Printable] | None = Field(default=None, max_length=320)
    webhook: Annotated[str, Printable] | None = Field(default=None, max_length=1000)
    name: Annotated[str, Printable] = Field(
        default="", max_length=200, description="e.g. 县委组织部, the maintenance company"
    )


class ContactOut(BaseModel):
    id: int
    region: str
    kind: ContactKind
    target: str
    name: str
    created_at: datetime
    pending: int = Field(description="notices not yet delivered to it (retried)")
    last_error: str = Field(description="why the latest attempt failed; '' when none failed")

    @staticmethod
    def of(row: ContactRow) -> ContactOut:
        c = row.contact
        return ContactOut(
            id=c.id, region=c.region, kind=c.kind, target=c.target, name=c.name, created_at=c.created_at,
            pending=row.pending, last_error=row.last_error,
        )  # fmt: skip


class LimitsIn(BaseModel):
    region: Region = Field(default="", description="default: the caller's scope")
    silent_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    escalate_hours: int | None = Field(default=None, ge=1, le=24 * 366)


class LimitsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region: str
    silent_hours: int | None
    escalate_hours: int | None


class RegisterRowOut(BaseModel):
    region: str
    sites: int
    faulty_sites: int
    fault_percent: float | None = Field(description="faulty_sites / sites in percent, one decimal")
    opened: int
    closed: int
    open: int = Field(description="open at the month's end (now, within the month)")
    mean_repair_hours: float | None
    p90_repair_hours: float | None

    @staticmethod
    def of(r: RegisterRow) -> RegisterRowOut:
        return RegisterRowOut(
            region=r.region, sites=r.sites, faulty_sites=r.faulty_sites, fault_percent=r.fault_percent,
            opened=r.opened, closed=r.closed, open=r.open, mean_repair_hours=r.mean_repair_hours,
            p90_repair_hours=r.p90_repair_hours,
        )  # fmt: skip


class RegisterOut(BaseModel):
    month: str
    region: str
    level: int
    totals: RegisterRowOut
    regions: list[RegisterRowOut]
