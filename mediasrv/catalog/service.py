"""Programmes and the category taxonomy: who may change what, and what sites may be given.

Services flush; the caller's unit of work commits. Every change is audited, and the ids of the
programmes whose search entry changed are returned (or collected) so the caller can enqueue indexing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.accounts.service import department_region
from mediasrv.audit.service import Action, record
from mediasrv.catalog.models import Attachment, Category, Programme, ProgrammeStatus, ProgrammeTag
from mediasrv.db import utcnow
from mediasrv.ingest.models import Asset, AssetKind, AssetStatus
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound
from mediasrv.kit.i18n import Text
from mediasrv.kit.regions import Reach, Scope, common_region, normalise_region, within
from mediasrv.protocol import taxonomy
from mediasrv.protocol.taxonomy import CATEGORIES
from mediasrv.sites.models import Site

MAX_TAGS, MAX_TAG_LENGTH = 20, 32
_DIRTY = "search_dirty"


def touch(session: Session, ids: Iterable[str]) -> None:
    """Note programmes whose search entry this unit of work changes (see `touched`); whatever
    changes the catalog may change sites' caching manifests too."""
    session.info.setdefault(_DIRTY, set()).update(ids)
    epochs.bump(session, epochs.MANIFESTS)


def touched(session: Session) -> list[str]:
    """The programmes to re-index once this unit of work commits."""
    return sorted(session.info.get(_DIRTY, ()))


def seed_categories(session: Session) -> None:
    """Insert or update the fixed taxonomy (idempotent; run at start-up)."""
    for position, (code, zh, en) in enumerate(CATEGORIES):
        row = session.get(Category, code)
        if row is None:
            session.add(Category(code=code, name_zh=zh, name_en=en, position=position))
        else:
            row.name_zh, row.name_en, row.position = zh, en, position


def list_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position)))


def clean_tags(tags: Iterable[str]) -> list[str]:
    """NFKC-normalised, trimmed, de-duplicated (first spelling wins), in the given order."""
    seen: dict[str, str] = {}
    for raw in tags:
        tag = unicodedata.normalize("NFKC", raw).strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise MediaError("catalog.tag_too_long", tag=tag[:40], max=MAX_TAG_LENGTH)
        seen.setdefault(tag.casefold(), tag)
    if len(seen) > MAX_TAGS:
        raise MediaError("catalog.too_many_tags", max=MAX_TAGS)
    return list(seen.values())


# --- programmes -------------------------------------------------------------------------------


def category_code(value: str) -> str:
    """The code of the category `value` names by its code or its Chinese name (党史教育); refused,
    with the Chinese names to choose from, when it names none."""
    code = taxonomy.category_code(value)
    if code is None:
        raise MediaError("catalog.unknown_category", given=value, names=taxonomy.category_names_zh())
    return code


def _category(session: Session, value: str) -> Category:
    code = category_code(value)
    row = session.get(Category, code)
    if row is None:  # seeded at start-up from the same taxonomy: a database not migrated
        raise MediaError("catalog.unknown_category", given=value, names=taxonomy.category_names_zh())
    return row


def _usable_asset(session: Session, actor: Caller, asset_id: str, *, main: bool) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("catalog.no_asset", asset_id=asset_id)
    if not actor.can_manage(asset.org_unit_id):
        raise Forbidden("catalog.asset_other_department", asset_id=asset_id)
    if main and asset.kind is AssetKind.DOCUMENT:
        raise MediaError("catalog.main_is_document", asset_id=asset_id)
    if not main and asset.kind not in (AssetKind.DOCUMENT, AssetKind.PENDING):
        raise MediaError("catalog.attachment_not_document", asset_id=asset_id)
    return asset


# --- local programmes: where a programme is published, and who sees it ----------------------------


def reach(session: Session, caller: Caller) -> Reach:
    """Where `caller` stands among published regions (kit.regions.Reach): a site at its region, an
    administrator at its scope, a producer at its department's region."""
    if caller.role is Role.SITE:
        site = session.get(Site, caller.site_id) if caller.site_id is not None else None
        return Reach(site.region if site is not None else "", below=False)
    if caller.role is Role.ADMIN:
        return Reach(caller.region, below=True)
    return Reach(department_region(session, caller.org_unit_id), below=True)


def region_bound(session: Session, actor: Caller) -> str:
    """Where `actor` may make programmes for: a producer within its department's region (a department
    makes films for its own sites, and an administrator who covers more may publish them wider); an
    administrator within its scope, where it also publishes."""
    return actor.region if actor.role is Role.ADMIN else department_region(session, actor.org_unit_id)


def asked_region(session: Session, actor: Caller, region: str) -> str:
    """The region a programme is made for ('' asks for the maker's own), inside `region_bound`."""
    return Scope(region_bound(session, actor)).admit(region)


def acted_in(before: str, after: str) -> str:
    """Where an action that moved a programme from region `before` to `after` lies, for the audit log:
    the deeper one when one holds the other (a county's film published province-wide stays in the
    county's log, and the province's holds it too), else the region holding both (a move between two
    counties tells neither county about the other)."""
    if within(after, before):
        return after
    if within(before, after):
        return before
    return common_region([before, after])


def _visible(session: Session, programme: Programme, caller: Caller) -> bool:
    """Administrators: what their scope sees (drafts too); producers: their department's, and what is
    published where they see; sites: what is published to them."""
    if caller.role is Role.ADMIN:
        return Scope.of(caller).sees(programme.region)
    if caller.can_manage(programme.org_unit_id):
        return True
    return programme.status is ProgrammeStatus.PUBLISHED and reach(session, caller).sees(programme.region)


def get_programme(session: Session, programme_id: str) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None:
        raise NotFound("catalog.no_programme", programme_id=programme_id)
    return programme


def visible_programme(session: Session, programme_id: str, *, caller: Caller) -> Programme:
    """Published programmes are visible to everyone; drafts and withdrawn ones to their department."""
    programme = get_programme(session, programme_id)
    if not _visible(session, programme, caller):
        raise NotFound("catalog.no_programme", programme_id=programme_id)
    return programme


def _editable(session: Session, actor: Caller, programme_id: str) -> Programme:
    """The programme, locked until this unit of work ends: an edit and a publish of the same
    programme take turns, so an edit checked against a draft cannot land on a published one."""
    programme = session.scalar(
        select(Programme)
        .where(Programme.id == programme_id)
        .with_for_update(of=Programme)
        .execution_options(populate_existing=True)
    )
    if programme is None or (actor.role is Role.ADMIN and not _visible(session, programme, actor)):
        raise NotFound("catalog.no_programme", programme_id=programme_id)
    if not actor.can_manage(programme.org_unit_id):
        raise Forbidden("catalog.programme_other_department")
    if not Scope.of(actor).covers(programme.region):  # published above the scope: read-only here
        raise Forbidden(
            "catalog.programme_above_scope",
            region=programme.region or Text("kit.whole_network"),
            scope=actor.region,
        )
    return programme


def editable_programme(session: Session, *, actor: Caller, programme_id: str) -> Programme:
    """The programme if `actor` may change it as update_programme would (its captions, say): in
    scope, its department's, and not published unless `actor` is an administrator. Locked."""
    programme = _editable(session, actor, programme_id)
    if programme.status is ProgrammeStatus.PUBLISHED and actor.role is not Role.ADMIN:
        raise Conflict("catalog.published_locked")
    return programme


def published_ids(session: Session, ids: Sequence[str], *, unpublished_key: str) -> list[str]:
    """`ids` without repeats, in their order, each an existing published programme: else 404 naming
    the missing ones, or the refusal `unpublished_key` naming the titles not published (what a study
    list or a channel block may hold)."""
    ids = list(dict.fromkeys(ids))
    found = {p.id: p for p in session.scalars(select(Programme).where(Programme.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("catalog.no_programme", programme_id=", ".join(missing))
    unpublished = [found[i].title for i in ids if found[i].status is not ProgrammeStatus.PUBLISHED]
    if unpublished:
        raise MediaError(unpublished_key, titles="、".join(unpublished))
    return ids


def check_publishable(programme: Programme) -> None:
    """What sites may be given: ready media and ready PDF handouts (409 with the reason otherwise)."""
    asset = programme.asset
    if asset is None:
        raise Conflict("catalog.publish_needs_media")
    if asset.status is not AssetStatus.READY:
        if asset.error:
            raise Conflict("catalog.media_failed", asset_id=asset.id, error=asset.error)
        raise Conflict("catalog.media_not_ready", asset_id=asset.id)
    pending = [a.asset_id for a in programme.attachment_rows if a.asset.status is not AssetStatus.READY]
    if pending:
        raise Conflict("catalog.attachments_not_ready", asset_ids=", ".join(pending))
    not_documents = [
        a.asset.filename for a in programme.attachment_rows if a.asset.kind is not AssetKind.DOCUMENT
    ]
    if not_documents:
        raise Conflict("catalog.attachments_not_pdf", filenames=", ".join(not_documents))


def create_programme(
    session: Session,
    *,
    actor: Caller,
    title: str,
    category: str,
    description: str = "",
    tags: Sequence[str] = (),
    language: str = "zh",
    asset_id: str | None = None,
    attachment_ids: Sequence[str] = (),
    region: str = "",
) -> Programme:
    title = title.strip()
    if not title:
        raise MediaError("catalog.title_required")
    programme = Programme(
        title=title[:255],
        description=description.strip(),
        category_code=_category(session, category).code,
        language=language,
        org_unit_id=actor.org_unit_id,
        region=asked_region(session, actor, region),
        created_by_user_id=actor.user_id,
        asset_id=_usable_asset(session, actor, asset_id, main=True).id if asset_id else None,
    )
    programme.tag_rows = [ProgrammeTag(name=t, position=i) for i, t in enumerate(clean_tags(tags))]
    programme.attachment_rows = [
        Attachment(asset_id=_usable_asset(session, actor, a, main=False).id, position=i)
        for i, a in enumerate(dict.fromkeys(attachment_ids))
    ]
    session.add(programme)
    session.flush()
    touch(session, [programme.id])
    record(
        session,
        actor,
        Action.PROGRAMME_CREATE,
        "programme",
        programme.id,
        in_region=programme.region,
        title=programme.title,
    )
    return programme


def update_programme(
    session: Session,
    *,
    actor: Caller,
    programme_id: str,
    title: str | None = None,
    description: str | None = None,
    category: str | None = None,
    tags: Sequence[str] | None = None,
    language: str | None = None,
    asset_id: str | None = None,
    attachment_ids: Sequence[str] | None = None,
    region: str | None = None,
) -> Programme:
    """Change a draft or withdrawn programme. A published one is what sites were given after review:
    only an administrator (the reviewer) may correct it, and only with ready media; a producer asks
    for it to be withdrawn first, and it reaches sites again only when it is published again."""
    programme = _editable(session, actor, programme_id)
    if programme.status is ProgrammeStatus.PUBLISHED and actor.role is not Role.ADMIN:
        raise Conflict("catalog.published_locked")
    before = _editable_fields(programme)
    if title is not None:
        if not title.strip():
            raise MediaError("catalog.title_required")
        programme.title = title.strip()[:255]
    if description is not None:
        programme.description = description.strip()
    if category is not None:
        # Both: the loaded relationship would otherwise answer with the category before the edit.
        programme.category = _category(session, category)
        programme.category_code = programme.category.code
    if language is not None:
        programme.language = language
    if region is not None:
        programme.region = asked_region(session, actor, region)
    if asset_id is not None:
        programme.asset = _usable_asset(session, actor, asset_id, main=True)
    if tags is not None:
        programme.tag_rows = [ProgrammeTag(name=t, position=i) for i, t in enumerate(clean_tags(tags))]
    if attachment_ids is not None:
        handouts = [_usable_asset(session, actor, a, main=False) for a in dict.fromkeys(attachment_ids)]
        programme.attachment_rows = [
            Attachment(asset_id=h.id, asset=h, position=i) for i, h in enumerate(handouts)
        ]
    after = _editable_fields(programme)
    changed = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
    if not changed:
        return programme
    if programme.status is ProgrammeStatus.PUBLISHED:
        check_publishable(programme)  # sites get no media that is not ready, whoever edits
    if "asset_id" in changed:  # another film, another duration: "watched fully" may change
        epochs.bump(session, epochs.STUDY)
    programme.updated_at = utcnow()
    session.flush()
    touch(session, [programme.id])
    record(
        session,
        actor,
        Action.PROGRAMME_UPDATE,
        "programme",
        programme.id,
        in_region=acted_in(str(before["region"]), programme.region),
        **changed,
    )
    return programme


def _editable_fields(programme: Programme) -> dict[str, object]:
    """What an edit may change, as the audit log shows it (before and after)."""
    return {
        "title": programme.title,
        "description": programme.description,
        "category": programme.category_code,
        "language": programme.language,
        "region": programme.region,
        "tags": programme.tags,
        "asset_id": programme.asset.id if programme.asset is not None else None,
        "attachments": [a.asset.id for a in programme.attachment_rows],
    }


def publish_programme(
    session: Session, *, actor: Caller, programme_id: str, region: str | None = None
) -> Programme:
    """Publish to `region` (None: the region it was made for; '' the whole network), which must lie
    inside the publisher's scope: a whole-network publication needs a whole-network administrator."""
    programme = _editable(session, actor, programme_id)
    target = programme.region if region is None else normalise_region(region)
    scope = Scope.of(actor)
    if not scope.covers(target):
        raise Forbidden(
            "catalog.publish_outside_scope", region=target or Text("kit.whole_network"), scope=scope.region
        )
    check_publishable(programme)
    before = programme.region
    programme.region = target
    programme.status, programme.published_at, programme.withdrawn_at = (
        ProgrammeStatus.PUBLISHED,
        utcnow(),
        None,
    )
    session.flush()
    touch(session, [programme.id])
    record(
        session,
        actor,
        Action.PROGRAMME_PUBLISH,
        "programme",
        programme.id,
        in_region=acted_in(before, programme.region),
        title=programme.title,
        region=programme.region,
    )
    return programme


def withdraw_programme(session: Session, *, actor: Caller, programme_id: str, reason: str = "") -> Programme:
    programme = _editable(session, actor, programme_id)
    if programme.status is not ProgrammeStatus.PUBLISHED:
        raise Conflict(
            "catalog.withdraw_only_published", status=Text(f"catalog.status.{programme.status.value}")
        )
    programme.status, programme.withdrawn_at = ProgrammeStatus.WITHDRAWN, utcnow()
    session.flush()
    touch(session, [programme.id])
    record(
        session,
        actor,
        Action.PROGRAMME_WITHDRAW,
        "programme",
        programme.id,
        in_region=programme.region,
        reason=reason,
    )
    return programme


def delete_programme(session: Session, *, actor: Caller, programme_id: str) -> None:
    """Drafts only: published history stays (withdraw instead)."""
    programme = _editable(session, actor, programme_id)
    if programme.status is not ProgrammeStatus.DRAFT:
        raise Conflict("catalog.delete_only_drafts")
    try:
        # Whatever else names the programme (a study list, a site's sessions or ratings) refuses the
        # delete in the database: answered here, without the catalog knowing every table that may.
        with session.begin_nested():
            session.delete(programme)
    except IntegrityError:
        raise Conflict("catalog.delete_referenced", programme_id=programme_id) from None
    touch(session, [programme_id])
    record(
        session,
        actor,
        Action.PROGRAMME_DELETE,
        "programme",
        programme_id,
        in_region=programme.region,
        title=programme.title,
    )


def list_programmes(
    session: Session,
    *,
    caller: Caller,
    status: ProgrammeStatus | None = None,
    category: str | None = None,
    tag: str | None = None,
    org_unit_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Programme], int]:
    """Newest first. Sites see published programmes; producers also their department's others.
    `category` is a code or a Chinese name; an unknown one is refused (not an empty page)."""
    query = select(Programme)
    seen = reach(session, caller).where(Programme.region)
    if caller.role is Role.SITE:
        query = query.where(Programme.status == ProgrammeStatus.PUBLISHED, seen)
    elif caller.role is Role.PRODUCER:
        query = query.where(
            or_(
                and_(Programme.status == ProgrammeStatus.PUBLISHED, seen),
                Programme.org_unit_id == caller.org_unit_id,
            )
        )
    else:
        query = query.where(seen)
    if status is not None:
        query = query.where(Programme.status == status)
    if category:  # an empty one (a form's "all") filters nothing
        query = query.where(Programme.category_code == category_code(category))
    if tag is not None:
        tagged = select(ProgrammeTag.programme_id).where(
            ProgrammeTag.name == unicodedata.normalize("NFKC", tag)
        )
        query = query.where(Programme.id.in_(tagged))
    if org_unit_id is not None:
        query = query.where(Programme.org_unit_id == org_unit_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Programme.created_at.desc(), Programme.id).limit(limit).offset(offset)
    )
    return list(rows), total


def published_by_id(
    session: Session, ids: Sequence[str], *, seen_from: Reach | None = None
) -> dict[str, Programme]:
    """The published programmes among `ids` (one query), those published where `seen_from` sees."""
    query = select(Programme).where(Programme.id.in_(ids), Programme.status == ProgrammeStatus.PUBLISHED)
    if seen_from is not None:
        query = query.where(seen_from.where(Programme.region))
    rows = session.scalars(query)
    return {p.id: p for p in rows}
