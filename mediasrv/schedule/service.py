"""Administrators manage their regions' weekly blocks and what plays outside them; the centre works out
the week a site plays (its layers' blocks, layered: layering.layer) and the manifest's part of it.

Services flush; the caller's unit of work commits. Every change is audited in the block's region and
moves the manifest epoch (a site's manifest carries its schedule). An administrator changes the blocks
of its scope's regions; another region's block, a wider one included, does not exist for it (404): a
county's administrator reads the province's blocks in its sites' weeks, and cannot remove them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.audit.service import Action, record
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.catalog.service import published_ids, visible_programme
from mediasrv.db import utcnow
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, MediaError, NotFound
from mediasrv.kit.i18n import Text
from mediasrv.kit.regions import Scope, depth, holding
from mediasrv.protocol.taxonomy import category_code, category_names_zh
from mediasrv.schedule.layering import DAY_MINUTES, Override, Slot, clock, layer, minute_of
from mediasrv.schedule.models import BlockSource, Filler, ScheduleBlock, ScheduleSettings
from mediasrv.sites.models import Site
from mediasrv.study.lists import lists_in_force, region_matches, visible_study_list
from mediasrv.study.models import StudyKind, StudyList, StudyListItem, StudyListStatus

TIMEZONE = "Asia/Shanghai"  # the manifest's clock: the schedule's times are Beijing's
CATEGORY_LIMIT = 20  # a category block names at most this many programmes (newest first)
MAX_NAMED = 200


# --- validation ---------------------------------------------------------------------------------


def minutes(start: str, end: str) -> tuple[int, int]:
    """[start, end) in minutes of the day from 'HH:MM' texts; refused in the caller's language when
    either is not HH:MM (00:00 to 24:00) or the block does not end after it starts, the same day."""
    parsed = []
    for text in (start, end):
        value = minute_of(text.strip())
        if value is None:
            raise MediaError("schedule.time_malformed", value=text)
        parsed.append(value)
    first, last = parsed
    if last <= first or first >= DAY_MINUTES:
        raise MediaError("schedule.ends_before_start", start=clock(first), end=clock(last))
    return first, last


def _weekday(weekday: int) -> int:
    if not 1 <= weekday <= 7:
        raise MediaError("schedule.weekday_invalid", weekday=weekday)
    return weekday


def _weekday_text(weekday: int) -> Text:
    return Text(f"schedule.weekday.{weekday}")


def _overlapping(session: Session, region: str, weekday: int, start: int, end: int) -> ScheduleBlock | None:
    return session.scalars(
        select(ScheduleBlock)
        .where(
            ScheduleBlock.region == region,
            ScheduleBlock.weekday == weekday,
            ScheduleBlock.start_minute < end,
            ScheduleBlock.end_minute > start,
        )
        .order_by(ScheduleBlock.start_minute)
        .limit(1)
    ).first()


# --- blocks -------------------------------------------------------------------------------------


def create_block(
    session: Session,
    *,
    actor: Caller,
    weekday: int,
    start: str,
    end: str,
    title: str,
    source: BlockSource,
    region: str = "",
    study_list_id: int | None = None,
    category: str | None = None,
    programme_ids: Sequence[str] = (),
) -> ScheduleBlock:
    """A block of `region` (none: the actor's scope; never outside it). A study list must be one the
    actor sees; named programmes must be published. A block overlapping another of the same region
    is refused, naming it: the region's administrator moves or removes one of them first."""
    place = Scope.of(actor).admit(region)
    day = _weekday(weekday)
    first, last = minutes(start, end)
    name = title.strip()[:255]
    if not name:
        raise MediaError("schedule.title_required")
    block = ScheduleBlock(
        region=place,
        weekday=day,
        start_minute=first,
        end_minute=last,
        title=name,
        source=source,
        created_by_user_id=actor.user_id,
    )
    if source is BlockSource.LIST:
        if study_list_id is None:
            raise MediaError("schedule.list_required")
        block.study_list_id = visible_study_list(session, study_list_id, caller=actor).id
    elif source is BlockSource.CATEGORY:
        code = category_code(category or "")
        if code is None:
            raise MediaError("catalog.unknown_category", given=category or "", names=category_names_zh())
        block.category_code = code
    else:
        if not programme_ids:
            raise MediaError("schedule.programmes_required")
        if len(programme_ids) > MAX_NAMED:
            raise MediaError("schedule.programmes_too_many", limit=MAX_NAMED)
        block.programme_ids = published_ids(
            session, programme_ids, unpublished_key="schedule.programmes_unpublished"
        )
    other = _overlapping(session, place, day, first, last)
    if other is not None:
        raise Conflict(
            "schedule.block_overlaps",
            title=other.title,
            weekday=_weekday_text(other.weekday),
            start=clock(other.start_minute),
            end=clock(other.end_minute),
        )
    session.add(block)
    session.flush()
    epochs.bump(session, epochs.MANIFESTS)
    record(
        session,
        actor,
        Action.SCHEDULE_BLOCK_CREATE,
        "schedule_block",
        block.id,
        in_region=place,
        title=name,
        weekday=day,
        start=clock(first),
        end=clock(last),
        source=source.value,
        study_list_id=block.study_list_id,
        category=block.category_code,
        programmes=list(block.programme_ids),
    )
    return block


def get_block(session: Session, block_id: int, *, caller: Caller) -> ScheduleBlock:
    """A block of the caller's scope; any other, wider ones included, as if there were none."""
    block = session.get(ScheduleBlock, block_id)
    if block is None or not Scope.of(caller).covers(block.region):
        raise NotFound("schedule.no_block", block_id=block_id)
    return block


def delete_block(session: Session, *, actor: Caller, block_id: int) -> None:
    block = get_block(session, block_id, caller=actor)
    details = {
        "title": block.title,
        "weekday": block.weekday,
        "start": clock(block.start_minute),
        "end": clock(block.end_minute),
    }
    session.delete(block)
    session.flush()
    epochs.bump(session, epochs.MANIFESTS)
    record(
        session,
        actor,
        Action.SCHEDULE_BLOCK_DELETE,
        "schedule_block",
        block_id,
        in_region=block.region,
        **details,
    )


def list_blocks(
    session: Session, *, region: str, weekday: int | None = None, limit: int = 200, offset: int = 0
) -> tuple[list[ScheduleBlock], int]:
    """The blocks of `region` and the regions under it (already narrowed to the caller's scope), by
    region, weekday and time."""
    query = select(ScheduleBlock).where(Scope(region).where(ScheduleBlock.region))
    if weekday is not None:
        query = query.where(ScheduleBlock.weekday == weekday)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (ScheduleBlock.region, ScheduleBlock.weekday, ScheduleBlock.start_minute, ScheduleBlock.id)
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset))), total


# --- what plays outside the blocks ----------------------------------------------------------------


def set_settings(
    session: Session, *, actor: Caller, region: str, filler: Filler, card_programme_id: str | None
) -> ScheduleSettings:
    """Set a region's filler and card (the region: none is the actor's scope; never outside it)."""
    place = Scope.of(actor).admit(region)
    if card_programme_id is not None:
        card = visible_programme(session, card_programme_id, caller=actor)
        if card.status is not ProgrammeStatus.PUBLISHED:
            raise MediaError("schedule.programmes_unpublished", titles=card.title)
    row = session.get(ScheduleSettings, place)
    if row is None:
        row = ScheduleSettings(region=place)
        session.add(row)
    row.filler = filler
    row.card_programme_id = card_programme_id
    row.updated_by_user_id = actor.user_id
    row.updated_at = utcnow()
    session.flush()
    epochs.bump(session, epochs.MANIFESTS)
    record(
        session,
        actor,
        Action.SCHEDULE_SETTINGS,
        "schedule_settings",
        place,
        in_region=place,
        filler=filler.value,
        card=card_programme_id,
    )
    return row


def schedule_regions(session: Session) -> list[str]:
    """Every region with blocks or settings (few): sites alike in these share a manifest content."""
    query = union(select(ScheduleBlock.region).distinct(), select(ScheduleSettings.region))
    return sorted(set(session.scalars(query)))


# --- a site's week ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Playing:
    """One piece of a site's week: the block it comes from (whole or cut by nearer levels' blocks),
    and what it plays there."""

    id: str  # the block's id; a cut piece's is '<block id>@<HH:MM of its start>'
    block: ScheduleBlock
    start: int
    end: int
    whole: bool
    required: bool
    programmes: list[str]


@dataclass(frozen=True)
class Week:
    """The week a site plays from day `on`: what the manifest's "schedule" says, and what the
    centre tells an administrator about it (which blocks were overridden, by which)."""

    on: date
    blocks: list[Playing]
    overrides: list[Override]
    by_id: dict[int, ScheduleBlock]
    filler: list[str]
    card: str | None
    configured: bool  # some layer of the site has blocks or settings
    titles: dict[str, str] = field(default_factory=dict)  # programme id -> title, of those named

    def programme_ids(self) -> list[str]:
        """Programmes the schedule names, the card first, then blocks in the order they come from
        `on` (the manifest's chooser keeps what fits, nearest first)."""
        ahead = sorted(self.blocks, key=lambda p: ((p.block.weekday - self.on.isoweekday()) % 7, p.start))
        ids = [self.card] if self.card is not None else []
        ids += [i for p in ahead for i in p.programmes]
        return list(dict.fromkeys(ids))

    def document(self) -> dict[str, Any] | None:
        """The manifest's "schedule" (see delivery.manifest.build); None when no layer has any."""
        if not self.configured:
            return None
        return {
            "timezone": TIMEZONE,
            "blocks": [
                {
                    "id": p.id,
                    "weekday": p.block.weekday,
                    "start": clock(p.start),
                    "end": clock(p.end),
                    "title": p.block.title,
                    "required": p.required,
                    "programmes": p.programmes,
                    "region": p.block.region,
                }
                for p in self.blocks
            ],
            "filler": self.filler,
            "card": self.card,
        }


def _visible(site: Site) -> Any:
    return (Programme.status == ProgrammeStatus.PUBLISHED) & holding(Programme.region, site.region)


def _list_programmes(session: Session, site: Site, list_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in list_ids}
    if not found:
        return found
    for list_id, programme_id in session.execute(
        select(StudyListItem.study_list_id, StudyListItem.programme_id)
        .join(Programme, Programme.id == StudyListItem.programme_id)
        .where(StudyListItem.study_list_id.in_(found), _visible(site))
        .order_by(StudyListItem.study_list_id, StudyListItem.position)
    ):
        found[list_id].append(programme_id)
    return found


def _category_programmes(session: Session, site: Site, code: str, seconds: int) -> list[str]:
    """The newest published programmes of a category the site is given, as many as fill `seconds`
    (at most CATEGORY_LIMIT; one of unknown length counts as none)."""
    chosen: list[str] = []
    filled = 0.0
    for programme_id, duration in session.execute(
        select(Programme.id, Asset.duration_seconds)
        .outerjoin(Asset, Asset.id == Programme.asset_id)
        .where(Programme.category_code == code, _visible(site))
        .order_by(Programme.published_at.desc(), Programme.id)
        .limit(CATEGORY_LIMIT)
    ):
        chosen.append(programme_id)
        filled += duration or 0.0
        if filled >= seconds:
            break
    return chosen


def _in_force(study_list: StudyList, day: date) -> bool:
    return (
        study_list.status is StudyListStatus.PUBLISHED and study_list.starts_on <= day <= study_list.ends_on
    )


def site_week(session: Session, site: Site, *, on: date) -> Week:
    """The week `site` plays from day `on`: its layers' blocks layered (nearer level wins), each
    filled for its next day in that week. A list block plays its list's programmes in list order while
    the list is in force that day (required when the list is a required one for the site; otherwise
    the block is empty and the agent plays the filler); a category block its newest programmes; a
    named one its programmes. Only programmes published to the site's region or above it."""
    rows = list(session.scalars(select(ScheduleBlock).where(holding(ScheduleBlock.region, site.region))))
    settings = session.scalars(
        select(ScheduleSettings).where(holding(ScheduleSettings.region, site.region))
    ).all()
    if not rows and not settings:  # most sites: no layer has a channel (and no lists are read)
        return Week(on=on, blocks=[], overrides=[], by_id={}, filler=[], card=None, configured=False)
    nearest = max(settings, key=lambda s: depth(s.region), default=None)
    by_id = {b.id: b for b in rows}
    pieces, overrides = layer(
        [Slot(b.id, depth(b.region), b.weekday, b.start_minute, b.end_minute) for b in rows]
    )
    list_ids = sorted({b.study_list_id for b in rows if b.study_list_id is not None})
    lists = {s.id: s for s in session.scalars(select(StudyList).where(StudyList.id.in_(list_ids)))}
    items = _list_programmes(session, site, list_ids)
    visible = set(
        session.scalars(
            select(Programme.id).where(
                Programme.id.in_({i for b in rows for i in b.programme_ids}), _visible(site)
            )
        )
    )
    filled: dict[int, tuple[bool, list[str]]] = {}
    for block in rows:
        day = on + timedelta(days=(block.weekday - on.isoweekday()) % 7)
        if block.source is BlockSource.LIST:
            study_list = lists.get(block.study_list_id or 0)
            if study_list is None or not _in_force(study_list, day):
                filled[block.id] = (False, [])
            else:
                required = study_list.kind is StudyKind.REQUIRED and region_matches(
                    site.region, study_list.regions
                )
                filled[block.id] = (required, items[study_list.id])
        elif block.source is BlockSource.CATEGORY:
            seconds = (block.end_minute - block.start_minute) * 60
            filled[block.id] = (
                False,
                _category_programmes(session, site, block.category_code or "", seconds),
            )
        else:
            filled[block.id] = (False, [i for i in block.programme_ids if i in visible])
    playing = [
        Playing(
            str(p.block) if p.whole else f"{p.block}@{clock(p.start)}",
            by_id[p.block],
            p.start,
            p.end,
            p.whole,
            *filled[p.block],
        )
        for p in pieces
    ]
    filler: list[str] = []
    if nearest is None or nearest.filler is Filler.OPTIONAL:
        optional = lists_in_force(session, kind=StudyKind.OPTIONAL, on=on, region=site.region)
        by_list = _list_programmes(session, site, [s.id for s in optional])
        filler = list(dict.fromkeys(i for s in optional for i in by_list[s.id]))
    card = nearest.card_programme_id if nearest is not None else None
    if (
        card is not None
        and session.scalar(select(Programme.id).where(Programme.id == card, _visible(site))) is None
    ):
        card = None  # withdrawn, or not published to this site: the agent shows its own
    named = {i for p in playing for i in p.programmes} | set(filler) | ({card} if card else set())
    query = select(Programme.id, Programme.title).where(Programme.id.in_(named))
    titles = {str(i): str(t) for i, t in session.execute(query)} if named else {}
    return Week(
        on=on,
        blocks=playing,
        overrides=overrides,
        by_id=by_id,
        filler=filler,
        card=card,
        configured=bool(rows or settings),
        titles=titles,
    )
