"""Study lists (必学清单, 选学): curated programmes for a period and regions; what is required where and
when. Services flush; the caller's unit of work commits. Every change is audited, and the programmes
whose search entry it changes (their "required" flag) are noted with `catalog.service.touch`, so the
caller can enqueue their indexing.

Lists are layered (issue 19): each belongs to a region, the department that set it (its `region`; ''
the whole network), and targets only regions inside it. A site's lists in force are the union of every
layer above it, shallower layers first (省, 市, 县, 乡), then by period and id. An administrator changes
the lists of its scope's layers; a list of a layer above it that reaches its sites it reads but cannot
change (403 with the reason: it sees the list anyway, there is nothing to hide); any other list it
does not see (404, as every object outside a scope)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.audit.service import Action, record
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.catalog.service import published_ids, touch
from mediasrv.db import utcnow
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound
from mediasrv.kit.i18n import Text
from mediasrv.kit.regions import Scope, above, depth, within
from mediasrv.sites.models import Site
from mediasrv.sites.registry import get_site, normalise_region
from mediasrv.study.models import LISTED_STUDY, StudyKind, StudyList, StudyListItem, StudyListStatus


def _check_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise MediaError(
            "study.list_period_backwards", starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat()
        )


def _set_items(session: Session, study_list: StudyList, programme_ids: Sequence[str]) -> None:
    ids = list(dict.fromkeys(programme_ids))
    touch(session, [i.programme_id for i in study_list.items] + ids)
    published_ids(session, ids, unpublished_key="study.list_unpublished")
    study_list.items.clear()
    session.flush()  # the unique (list, programme) rows go before new ones are added
    study_list.items.extend(StudyListItem(programme_id=i, position=n) for n, i in enumerate(ids))


def create_study_list(
    session: Session,
    *,
    actor: Caller,
    title: str,
    kind: StudyKind,
    starts_on: date,
    ends_on: date,
    expected_hours: float = 0.0,
    regions: Sequence[str] = (),
    programme_ids: Sequence[str] = (),
    region: str = "",
) -> StudyList:
    """A draft list of the layer `region` (none: the actor's scope; never a wider one), for `regions`
    inside it (none: the whole layer)."""
    _check_period(starts_on, ends_on)
    if not title.strip():
        raise MediaError("study.list_title_required")
    layer = Scope.of(actor).admit(region)
    study_list = StudyList(
        title=title.strip()[:255],
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        expected_hours=expected_hours,
        regions=_targets(regions, layer),
        region=layer,
        created_by_user_id=actor.user_id,
    )
    session.add(study_list)
    _set_items(session, study_list, programme_ids)
    session.flush()
    epochs.bump(session, epochs.STUDY)  # kept compliance summaries count the lists as they stand
    record(
        session,
        actor,
        Action.STUDY_LIST_CREATE,
        "study_list",
        study_list.id,
        in_region=study_list.region,
        title=study_list.title,
        kind=kind.value,
        programmes=list(dict.fromkeys(programme_ids)),
    )
    return study_list


def _targets(regions: Sequence[str], layer: str) -> list[str]:
    """The regions a list of `layer` is for, each inside the layer; none given: the whole layer."""
    targets = sorted({r for r in (normalise_region(x) for x in regions) if r})
    outside = [t for t in targets if not within(t, layer)]
    if outside:
        raise Forbidden(
            "study.list_target_outside", regions="、".join(outside), layer=layer or Text("kit.whole_network")
        )
    return targets or ([layer] if layer else [])


def update_study_list(
    session: Session,
    *,
    actor: Caller,
    study_list_id: int,
    title: str | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    expected_hours: float | None = None,
    regions: Sequence[str] | None = None,
    programme_ids: Sequence[str] | None = None,
) -> StudyList:
    """Edit a list of the actor's layers; archived lists are history and stay as they were."""
    study_list = changeable_study_list(session, study_list_id, actor=actor)
    if study_list.status is StudyListStatus.ARCHIVED:
        raise Conflict("study.list_archived")
    changes: dict[str, object] = {}
    if title is not None:
        study_list.title = changes["title"] = title.strip()[:255] or study_list.title
    if starts_on is not None:
        study_list.starts_on = changes["starts_on"] = starts_on
    if ends_on is not None:
        study_list.ends_on = changes["ends_on"] = ends_on
    _check_period(study_list.starts_on, study_list.ends_on)
    if expected_hours is not None:
        study_list.expected_hours = changes["expected_hours"] = expected_hours
    if regions is not None:
        study_list.regions = changes["regions"] = _targets(regions, study_list.region)
    if starts_on is not None or ends_on is not None:  # the period decides whether items are required today
        touch(session, [i.programme_id for i in study_list.items])
    if programme_ids is not None:
        before = [i.programme_id for i in study_list.items]
        _set_items(session, study_list, programme_ids)
        changes["programmes"] = {"before": before, "after": list(dict.fromkeys(programme_ids))}
    session.flush()
    epochs.bump(session, epochs.STUDY)  # kept compliance summaries count the lists as they stand
    record(
        session,
        actor,
        Action.STUDY_LIST_UPDATE,
        "study_list",
        study_list.id,
        in_region=study_list.region,
        **{k: str(v) if isinstance(v, date) else v for k, v in changes.items()},
    )
    return study_list


def set_study_list_status(
    session: Session, *, actor: Caller, study_list_id: int, status: StudyListStatus
) -> StudyList:
    study_list = changeable_study_list(session, study_list_id, actor=actor)
    allowed = {
        StudyListStatus.DRAFT: {StudyListStatus.PUBLISHED, StudyListStatus.ARCHIVED},
        StudyListStatus.PUBLISHED: {StudyListStatus.ARCHIVED},
        StudyListStatus.ARCHIVED: set(),
    }
    if status not in allowed[study_list.status]:
        raise Conflict(
            "study.list_status_change",
            current=Text(f"study.list_status.{study_list.status.value}"),
            wanted=Text(f"study.list_status.{status.value}"),
        )
    study_list.status = status
    if study_list.kind is StudyKind.REQUIRED:
        touch(session, [i.programme_id for i in study_list.items])
    if status is StudyListStatus.PUBLISHED:
        study_list.published_at = utcnow()
    session.flush()
    action = Action.STUDY_LIST_PUBLISH if status is StudyListStatus.PUBLISHED else Action.STUDY_LIST_ARCHIVE
    epochs.bump(session, epochs.STUDY)  # kept compliance summaries count the lists as they stand
    record(
        session,
        actor,
        action,
        "study_list",
        study_list.id,
        in_region=study_list.region,
        title=study_list.title,
    )
    return study_list


def get_study_list(session: Session, study_list_id: int) -> StudyList:
    study_list = session.get(StudyList, study_list_id)
    if study_list is None:
        raise NotFound("study.no_list", study_list_id=study_list_id)
    return study_list


def _reaches(targets: Sequence[str], scope: Scope) -> bool:
    """Whether a list for `targets` applies to some site of `scope` (a target inside it, or holding it)."""
    return not targets or any(scope.covers(t) or within(scope.region, t) for t in targets)


def sees(caller: Caller, study_list: StudyList) -> bool:
    """Drafts are their layer's work in progress: nobody else learns they exist. An administrator sees
    its layers' lists, and the published (or archived) lists of layers above that reach its sites."""
    listed = study_list.status in LISTED_STUDY
    if caller.role is not Role.ADMIN:
        return listed
    scope = Scope.of(caller)
    if scope.covers(study_list.region):
        return True
    return listed and within(scope.region, study_list.region) and _reaches(study_list.regions, scope)


def changes_it(caller: Caller, study_list: StudyList) -> bool:
    """Whether `caller` may edit, publish or archive the list: an administrator of its layer or above."""
    return caller.role is Role.ADMIN and Scope.of(caller).covers(study_list.region)


def visible_study_list(session: Session, study_list_id: int, *, caller: Caller) -> StudyList:
    study_list = get_study_list(session, study_list_id)
    if not sees(caller, study_list):
        raise NotFound("study.no_list", study_list_id=study_list_id)
    return study_list


def changeable_study_list(session: Session, study_list_id: int, *, actor: Caller) -> StudyList:
    """A list the actor may change; one of a layer above that it sees is refused with who set it."""
    study_list = visible_study_list(session, study_list_id, caller=actor)
    if not changes_it(actor, study_list):
        raise Forbidden(
            "study.list_above_scope",
            title=study_list.title,
            layer=study_list.region or Text("kit.whole_network"),
        )
    return study_list


def list_study_lists(
    session: Session,
    *,
    caller: Caller,
    kind: StudyKind | None = None,
    status: StudyListStatus | None = None,
    on: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[StudyList], int]:
    """Newest period first, the lists `caller` sees (`sees`): administrators their layers' drafts too,
    everyone else lists in force and history."""
    query = select(StudyList)
    scope = Scope.of(caller)
    if caller.role is not Role.ADMIN:
        query = query.where(StudyList.status.in_(LISTED_STUDY))
    elif not scope.whole:
        # Layers above: few lists; which of them reach the scope's sites is decided by their targets.
        higher = session.execute(
            select(StudyList.id, StudyList.regions).where(
                StudyList.region.in_(above(scope.region)), StudyList.status.in_(LISTED_STUDY)
            )
        )
        reaching = [i for i, targets in higher if _reaches(targets, scope)]
        query = query.where(or_(scope.where(StudyList.region), StudyList.id.in_(reaching)))
    if kind is not None:
        query = query.where(StudyList.kind == kind)
    if status is not None:
        query = query.where(StudyList.status == status)
    if on is not None:
        query = query.where(StudyList.starts_on <= on, StudyList.ends_on >= on)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(StudyList.starts_on.desc(), StudyList.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def region_matches(site_region: str, targets: Sequence[str]) -> bool:
    """No targets: every site. Otherwise the site's region equals a target or lies under it."""
    return not targets or any(within(site_region, t) for t in targets)


def layer_key(region: str, starts_on: date, list_id: int) -> tuple[int, date, int]:
    """The order a site studies its lists in: shallower layers first (the whole network, 省, 市, 县,
    乡), then the curated order within a layer (by period, then as made)."""
    return (depth(region), starts_on, list_id)


def layered(lists: Sequence[StudyList]) -> list[StudyList]:
    """Lists in the order a site studies them (layer_key)."""
    return sorted(lists, key=lambda s: layer_key(s.region, s.starts_on, s.id))


def lists_in_force(
    session: Session, *, kind: StudyKind, on: date, region: str | None = None
) -> list[StudyList]:
    """Published lists of `kind` whose period contains `on` (and that target `region`, when given),
    layered: the union of a site's layers, shallower first (the manifest and the playlist follow it)."""
    rows = session.scalars(
        select(StudyList).where(
            StudyList.kind == kind,
            StudyList.status == StudyListStatus.PUBLISHED,
            StudyList.starts_on <= on,
            StudyList.ends_on >= on,
        )
    )
    return layered([r for r in rows if region is None or region_matches(region, r.regions)])


def required_for_site(
    session: Session, *, caller: Caller, site_id: int, on: date
) -> tuple[Site, list[StudyList], list[Programme]]:
    """What a site must study on a day: its lists in force (layered), and their published programmes in
    that order without repeats (withdrawn programmes drop out at once). A site may only ask about itself."""
    site = get_site(session, site_id, caller=caller)
    lists = lists_in_force(session, kind=StudyKind.REQUIRED, on=on, region=site.region)
    seen: dict[str, Programme] = {}
    for study_list in lists:
        for item in study_list.items:
            if item.programme.status is ProgrammeStatus.PUBLISHED:
                seen.setdefault(item.programme_id, item.programme)
    return site, lists, list(seen.values())


def required_programme_ids(session: Session, *, on: date) -> set[str]:
    """Programmes on any required list in force on `on`, anywhere (for the search filter)."""
    return {
        item.programme_id
        for study_list in lists_in_force(session, kind=StudyKind.REQUIRED, on=on)
        for item in study_list.items
    }


def required_changing_on(session: Session, *, on: date) -> set[str]:
    """Programmes whose "required" flag may change on `on`: those of required lists that start that
    day or ended the day before (a daily job re-indexes them)."""
    lists = select(StudyList.id).where(
        StudyList.kind == StudyKind.REQUIRED,
        or_(StudyList.starts_on == on, StudyList.ends_on == on - timedelta(days=1)),
    )
    return set(
        session.scalars(select(StudyListItem.programme_id).where(StudyListItem.study_list_id.in_(lists)))
    )
