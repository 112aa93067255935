"""API shapes of the catalog."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mediasrv.accounts.models import Caller
from mediasrv.catalog.models import Programme, ProgrammeStatus, StudyKind, StudyList, StudyListStatus
from mediasrv.ingest.models import AssetKind, AssetStatus


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str


class ProgrammeIn(BaseModel):
    title: str = Field(min_length=1, max_length=255, examples=["党员教育 第1集：初心"])
    category: str = Field(examples=["party-history"])
    description: str = Field(default="", max_length=20000)
    tags: list[str] = Field(default_factory=list, max_length=20, examples=[["乡村振兴", "党课"]])
    language: str = Field(default="zh", max_length=16)
    asset_id: str | None = Field(default=None, description="the film or audio lecture")
    attachment_ids: list[str] = Field(default_factory=list, max_length=50, description="PDF handouts")


class ProgrammePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    category: str | None = None
    description: str | None = Field(default=None, max_length=20000)
    tags: list[str] | None = Field(default=None, max_length=20)
    language: str | None = Field(default=None, max_length=16)
    asset_id: str | None = None
    attachment_ids: list[str] | None = Field(default=None, max_length=50)


class WithdrawIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class AttachmentOut(BaseModel):
    asset_id: str
    filename: str
    status: AssetStatus


class ProgrammeOut(BaseModel):
    id: str
    title: str
    description: str
    category: CategoryOut
    tags: list[str]
    language: str
    org_unit_id: int | None
    status: ProgrammeStatus
    asset_id: str | None
    asset_status: AssetStatus | None
    kind: AssetKind | None
    duration_seconds: float | None
    attachments: list[AttachmentOut]
    published_at: datetime | None
    withdrawn_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Programme) -> ProgrammeOut:
        return cls(
            id=p.id,
            title=p.title,
            description=p.description,
            category=CategoryOut.model_validate(p.category),
            tags=p.tags,
            language=p.language,
            org_unit_id=p.org_unit_id,
            status=p.status,
            asset_id=p.asset_id,
            asset_status=p.asset.status if p.asset else None,
            kind=p.asset.kind if p.asset else None,
            duration_seconds=p.duration_seconds,
            attachments=[
                AttachmentOut(asset_id=a.asset_id, filename=a.asset.filename, status=a.asset.status)
                for a in p.attachment_rows
            ],
            published_at=p.published_at,
            withdrawn_at=p.withdrawn_at,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class StudyListIn(BaseModel):
    title: str = Field(min_length=1, max_length=255, examples=["2026年12月必学清单"])
    kind: StudyKind = StudyKind.REQUIRED
    starts_on: date
    ends_on: date
    expected_hours: float = Field(default=0.0, ge=0, le=1000)
    regions: list[str] = Field(default_factory=list, max_length=500, examples=[["河北省/邢台市"]])
    programme_ids: list[str] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _period(self) -> StudyListIn:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class StudyListPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    starts_on: date | None = None
    ends_on: date | None = None
    expected_hours: float | None = Field(default=None, ge=0, le=1000)
    regions: list[str] | None = Field(default=None, max_length=500)
    programme_ids: list[str] | None = Field(
        default=None, max_length=1000, description="the whole list, in order"
    )


class StudyListItemOut(BaseModel):
    position: int
    programme_id: str
    title: str
    status: ProgrammeStatus


class StudyListOut(BaseModel):
    id: int
    title: str
    kind: StudyKind
    status: StudyListStatus
    starts_on: date
    ends_on: date
    expected_hours: float
    regions: list[str]
    items: list[StudyListItemOut]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, s: StudyList, caller: Caller) -> StudyListOut:
        """The list as `caller` may see it: programmes since withdrawn only for their department."""
        return cls(
            id=s.id,
            title=s.title,
            kind=s.kind,
            status=s.status,
            starts_on=s.starts_on,
            ends_on=s.ends_on,
            expected_hours=s.expected_hours,
            regions=s.regions,
            items=[
                StudyListItemOut(
                    position=i.position,
                    programme_id=i.programme_id,
                    title=i.programme.title,
                    status=i.programme.status,
                )
                for i in s.items
                if i.programme.visible_to(caller)
            ],
            created_at=s.created_at,
            updated_at=s.updated_at,
            published_at=s.published_at,
        )


class RequiredForSite(BaseModel):
    """What a site must study on a day: the lists in force there and their programmes, in order."""

    site_id: int
    site_code: str
    on: date
    expected_hours: float
    lists: list[StudyListOut]
    programmes: list[ProgrammeOut]


class SearchHitOut(BaseModel):
    programme: ProgrammeOut
    score: float
    title_html: str = Field(description="the title, HTML-escaped, matches in <mark>")
    snippet_html: str = Field(description="a matching fragment of the description, HTML-escaped, or ''")
    required: bool = Field(description="on a required-study list in force today (a badge for the catalog)")


class SearchResults(BaseModel):
    hits: list[SearchHitOut]
    total: int
    page: int
    per_page: int


class SearchHealth(BaseModel):
    """Database and index fingerprints: (published programmes, checksum) and (documents, checksum)."""

    database_count: int
    index_count: int
    in_sync: bool
