"""API shapes of schedules: a region's blocks, its filler and card, and the week a site plays."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from mediasrv.kit.params import MAX_INT64
from mediasrv.schedule.layering import clock
from mediasrv.schedule.models import BlockSource, Filler, ScheduleBlock, ScheduleSettings
from mediasrv.schedule.service import MAX_NAMED, Week
from mediasrv.sites.schemas import Printable, Region

# The times are checked by the service (its refusal says what a time looks like, in Chinese).
Clock = Annotated[str, Field(max_length=20, examples=["19:30"], description='Beijing time, "HH:MM"')]
Weekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday: 1 Monday .. 7 Sunday")]


class BlockIn(BaseModel):
    """A weekly block of a region's channel."""

    weekday: Weekday
    start: Clock
    end: Clock = Field(description='after start, the same day ("24:00" the end of the day)')
    title: Annotated[str, Field(max_length=255, examples=["周三党员学习时段"]), Printable]
    source: BlockSource = Field(
        description="list: a study list's programmes in list order (study_list_id); category: the "
        "category's newest published programmes (category); programmes: named ones (programme_ids)"
    )
    study_list_id: int | None = Field(default=None, ge=1, le=MAX_INT64)
    category: str | None = Field(default=None, max_length=64, description="its code or its name")
    programme_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_NAMED, description="in play order"
    )
    region: Region = Field(
        default="", description="the region it is for, inside your scope; empty: your scope"
    )


class BlockOut(BaseModel):
    id: int
    region: str
    weekday: int
    start: str
    end: str
    title: str
    source: BlockSource
    study_list_id: int | None
    category: str | None
    programme_ids: list[str]
    created_at: datetime

    @staticmethod
    def of(block: ScheduleBlock) -> BlockOut:
        return BlockOut(
            id=block.id,
            region=block.region,
            weekday=block.weekday,
            start=clock(block.start_minute),
            end=clock(block.end_minute),
            title=block.title,
            source=block.source,
            study_list_id=block.study_list_id,
            category=block.category_code,
            programme_ids=list(block.programme_ids),
            created_at=block.created_at,
        )


class SettingsIn(BaseModel):
    """What a region's channel plays outside its blocks."""

    region: Region = Field(default="", description="inside your scope; empty: your scope")
    filler: Filler = Field(
        default=Filler.OPTIONAL,
        description="optional: the optional programmes of the site's lists, looped; none: only the card",
    )
    card_programme_id: str | None = Field(
        default=None, max_length=64, description="a published programme: the still card shown between"
    )


class SettingsOut(BaseModel):
    region: str
    filler: Filler
    card_programme_id: str | None
    updated_at: datetime

    @staticmethod
    def of(row: ScheduleSettings) -> SettingsOut:
        return SettingsOut(
            region=row.region,
            filler=row.filler,
            card_programme_id=row.card_programme_id,
            updated_at=row.updated_at,
        )


class ProgrammeRef(BaseModel):
    id: str
    title: str


class PlayingOut(BaseModel):
    """A block as the site plays it: whole, or the part nearer levels' blocks leave of it."""

    id: str = Field(description="the manifest's id: the block's, or \"<block>@<start>\" for a cut piece")
    block_id: int
    weekday: int
    start: str
    end: str
    whole: bool = Field(description="the block's own times; false: cut by a nearer level's block")
    title: str
    region: str = Field(description="the layer that set it")
    source: BlockSource
    study_list_id: int | None
    category: str | None
    required: bool
    programmes: list[ProgrammeRef]


class OverrideOut(BaseModel):
    """Block `block_id` does not play on `weekday` from `start` to `end`: the nearer `by_block_id` does."""

    block_id: int
    title: str
    region: str
    weekday: int
    start: str
    end: str
    by_block_id: int
    by_title: str
    by_region: str


class SiteWeekOut(BaseModel):
    site_id: int
    site_code: str
    region: str
    on: date
    timezone: str
    configured: bool = Field(description="some layer of the site's region has a schedule")
    blocks: list[PlayingOut]
    overridden: list[OverrideOut]
    filler: list[ProgrammeRef]
    card: ProgrammeRef | None

    @staticmethod
    def of(site_id: int, site_code: str, region: str, week: Week, timezone: str) -> SiteWeekOut:
        def ref(programme_id: str) -> ProgrammeRef:
            return ProgrammeRef(id=programme_id, title=week.titles.get(programme_id, ""))

        blocks = [
            PlayingOut(
                id=p.id,
                block_id=p.block.id,
                weekday=p.block.weekday,
                start=clock(p.start),
                end=clock(p.end),
                whole=p.whole,
                title=p.block.title,
                region=p.block.region,
                source=p.block.source,
                study_list_id=p.block.study_list_id,
                category=p.block.category_code,
                required=p.required,
                programmes=[ref(i) for i in p.programmes],
            )
            for p in week.blocks
        ]
        overridden = [
            OverrideOut(
                block_id=o.block,
                title=week.by_id[o.block].title,
                region=week.by_id[o.block].region,
                weekday=o.weekday,
                start=clock(o.start),
                end=clock(o.end),
                by_block_id=o.by,
                by_title=week.by_id[o.by].title,
                by_region=week.by_id[o.by].region,
            )
            for o in week.overrides
        ]
        return SiteWeekOut(
            site_id=site_id,
            site_code=site_code,
            region=region,
            on=week.on,
            timezone=timezone,
            configured=week.configured,
            blocks=blocks,
            overridden=overridden,
            filler=[ref(i) for i in week.filler],
            card=ref(week.card) if week.card is not None else None,
        )
