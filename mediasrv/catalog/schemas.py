"""API shapes of the catalog."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.ingest.models import AssetKind, AssetStatus


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str


class ProgrammeIn(BaseModel):
    title: str = Field(min_length=1, max_length=255, examples=["党员教育 第1集：初心"])
    category: str = Field(
        description="a category code or its Chinese name", examples=["party-history", "党史教育"]
    )
    description: str = Field(default="", max_length=20000)
    tags: list[str] = Field(default_factory=list, max_length=20, examples=[["乡村振兴", "党课"]])
    language: str = Field(default="zh", max_length=16)
    asset_id: str | None = Field(default=None, description="the film or audio lecture")
    attachment_ids: list[str] = Field(default_factory=list, max_length=50, description="PDF handouts")
    region: str = Field(
        default="",
        max_length=500,
        description="the region it is made for ('': your department's, or your scope); "
        "publishing may change it",
        examples=["河北省/邢台市/信都区"],
    )


class ProgrammePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    category: str | None = Field(default=None, description="a category code or its Chinese name")
    description: str | None = Field(default=None, max_length=20000)
    tags: list[str] | None = Field(default=None, max_length=20)
    language: str | None = Field(default=None, max_length=16)
    asset_id: str | None = None
    attachment_ids: list[str] | None = Field(default=None, max_length=50)
    region: str | None = Field(default=None, max_length=500)


class PublishIn(BaseModel):
    region: str | None = Field(
        default=None,
        max_length=500,
        description="publish to this region's sites only ('' the whole network; absent: the region it "
        "was made for); inside your scope",
        examples=["河北省/邢台市/信都区"],
    )


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
    region: str
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
            region=p.region,
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
