"""/api/v1 categories, programmes, study lists, and what a site must study today."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from mediasrv.accounts.auth import AdminDep, ProducerDep, ViewerDep, allow
from mediasrv.accounts.models import Caller, Role
from mediasrv.catalog import indexing, service
from mediasrv.catalog.models import ProgrammeStatus, StudyKind, StudyListStatus
from mediasrv.catalog.schemas import (
    CategoryOut,
    ProgrammeIn,
    ProgrammeOut,
    ProgrammePatch,
    RequiredForSite,
    SearchHealth,
    SearchHitOut,
    SearchResults,
    StudyListIn,
    StudyListOut,
    StudyListPatch,
    WithdrawIn,
)
from mediasrv.deps import DispatcherDep, SearchDep, SessionDep
from mediasrv.ingest.models import AssetKind
from mediasrv.jobs import INDEX, Dispatcher, enqueue_after_commit
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import today_in_china


def reindex_after_commit(session: Session, dispatcher: Dispatcher) -> None:
    """One index job for everything this request touched, sent once the change is committed."""
    ids = service.touched(session)
    if ids:
        enqueue_after_commit(session, dispatcher, INDEX, *ids)


router = APIRouter(
    prefix="/api/v1", tags=["catalog"], responses=error_responses(400, 401, 403, 404, 409, 422)
)


@router.get("/categories", response_model=list[CategoryOut])
def categories(caller: ViewerDep, session: SessionDep) -> list[CategoryOut]:
    """The fixed category taxonomy, in Chinese and English."""
    return [CategoryOut.model_validate(c) for c in service.list_categories(session)]


@router.get("/programmes", response_model=Page[ProgrammeOut])
def list_programmes(
    caller: ViewerDep,
    session: SessionDep,
    status: ProgrammeStatus | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    org_unit_id: RowId | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProgrammeOut]:
    """Programmes, newest first: published ones, and your department's drafts and withdrawn ones."""
    rows, total = service.list_programmes(
        session,
        caller=caller,
        status=status,
        category=category,
        tag=tag,
        org_unit_id=org_unit_id,
        limit=limit,
        offset=offset,
    )
    return Page[ProgrammeOut](
        items=[ProgrammeOut.of(p) for p in rows], total=total, limit=limit, offset=offset
    )


@router.post("/programmes", status_code=201, response_model=ProgrammeOut)
def create_programme(
    body: ProgrammeIn, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    """A draft programme of your department; an administrator publishes it."""
    programme = service.create_programme(session, actor=caller, **body.model_dump())
    reindex_after_commit(session, dispatcher)
    return ProgrammeOut.of(programme)


@router.get("/programmes/{programme_id}", response_model=ProgrammeOut)
def get_programme(programme_id: str, caller: ViewerDep, session: SessionDep) -> ProgrammeOut:
    return ProgrammeOut.of(service.visible_programme(session, programme_id, caller=caller))


@router.patch("/programmes/{programme_id}", response_model=ProgrammeOut)
def update_programme(
    programme_id: str,
    body: ProgrammePatch,
    caller: ProducerDep,
    session: SessionDep,
    dispatcher: DispatcherDep,
) -> ProgrammeOut:
    programme = service.update_programme(
        session, actor=caller, programme_id=programme_id, **body.model_dump(exclude_unset=True)
    )
    reindex_after_commit(session, dispatcher)
    return ProgrammeOut.of(programme)


@router.delete("/programmes/{programme_id}", status_code=204, response_class=Response)
def delete_programme(
    programme_id: str, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    """Delete a draft."""
    service.delete_programme(session, actor=caller, programme_id=programme_id)
    reindex_after_commit(session, dispatcher)
    return Response(status_code=204)


@router.post("/programmes/{programme_id}/publish", response_model=ProgrammeOut)
def publish_programme(
    programme_id: str, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    programme = service.publish_programme(session, actor=caller, programme_id=programme_id)
    reindex_after_commit(session, dispatcher)
    return ProgrammeOut.of(programme)


@router.post("/programmes/{programme_id}/withdraw", response_model=ProgrammeOut)
def withdraw_programme(
    programme_id: str, body: WithdrawIn, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    """Take a programme out of search and of every study list at once."""
    programme = service.withdraw_programme(
        session, actor=caller, programme_id=programme_id, reason=body.reason
    )
    reindex_after_commit(session, dispatcher)
    return ProgrammeOut.of(programme)


@router.get("/study-lists", response_model=Page[StudyListOut])
def list_study_lists(
    caller: ViewerDep,
    session: SessionDep,
    kind: StudyKind | None = None,
    status: StudyListStatus | None = None,
    on: Annotated[date | None, Query(description="only lists whose period contains this day")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[StudyListOut]:
    """Study lists, newest period first; history included (archived lists). Drafts only for
    administrators."""
    rows, total = service.list_study_lists(
        session, caller=caller, kind=kind, status=status, on=on, limit=limit, offset=offset
    )
    return Page[StudyListOut](
        items=[StudyListOut.of(s, caller) for s in rows], total=total, limit=limit, offset=offset
    )


@router.post("/study-lists", status_code=201, response_model=StudyListOut)
def create_study_list(
    body: StudyListIn, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> StudyListOut:
    """A draft list for a period, targeted at regions (none: all sites); publish it to put it in force."""
    study_list = service.create_study_list(session, actor=caller, **body.model_dump())
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.get("/study-lists/{study_list_id}", response_model=StudyListOut)
def get_study_list(study_list_id: RowId, caller: ViewerDep, session: SessionDep) -> StudyListOut:
    return StudyListOut.of(service.visible_study_list(session, study_list_id, caller=caller), caller)


@router.patch("/study-lists/{study_list_id}", response_model=StudyListOut)
def update_study_list(
    study_list_id: RowId,
    body: StudyListPatch,
    caller: AdminDep,
    session: SessionDep,
    dispatcher: DispatcherDep,
) -> StudyListOut:
    """Change period, hours, regions or the programmes (the whole ordered list)."""
    changes = body.model_dump(exclude_unset=True)
    study_list = service.update_study_list(session, actor=caller, study_list_id=study_list_id, **changes)
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.post("/study-lists/{study_list_id}/publish", response_model=StudyListOut)
def publish_study_list(
    study_list_id: RowId, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> StudyListOut:
    """Put a list in force (for its period and regions)."""
    status = StudyListStatus.PUBLISHED
    study_list = service.set_study_list_status(
        session, actor=caller, study_list_id=study_list_id, status=status
    )
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.post("/study-lists/{study_list_id}/archive", response_model=StudyListOut)
def archive_study_list(
    study_list_id: RowId, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> StudyListOut:
    """End a list early; it stays as history."""
    status = StudyListStatus.ARCHIVED
    study_list = service.set_study_list_status(
        session, actor=caller, study_list_id=study_list_id, status=status
    )
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.get("/sites/{site_id}/required", response_model=RequiredForSite, tags=["catalog", "sites"])
def required_for_site(
    site_id: RowId,
    caller: Annotated[Caller, Depends(allow(Role.ADMIN, Role.SITE))],
    session: SessionDep,
    on: Annotated[date | None, Query(description="default: today")] = None,
) -> RequiredForSite:
    """What site X must study on a day, in one call: the lists in force for its region, their programmes."""
    day = on or today_in_china()
    site, lists, programmes = service.required_for_site(session, caller=caller, site_id=site_id, on=day)
    return RequiredForSite(
        site_id=site.id,
        site_code=site.code,
        on=day,
        expected_hours=sum(s.expected_hours for s in lists),
        lists=[StudyListOut.of(s, caller) for s in lists],
        programmes=[ProgrammeOut.of(p) for p in programmes],
    )


@router.get("/search", response_model=SearchResults, tags=["catalog", "search"])
def search(
    caller: ViewerDep,
    session: SessionDep,
    index: SearchDep,
    q: Annotated[str, Query(max_length=200, description="Chinese, pinyin (djy, dangjian), English")] = "",
    category: Annotated[str | None, Query(max_length=32)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    required: Annotated[bool | None, Query(description="on a required-study list in force today")] = None,
    kind: AssetKind | None = None,
    min_duration: Annotated[float | None, Query(ge=0, le=1e7, description="seconds")] = None,
    max_duration: Annotated[float | None, Query(ge=0, le=1e7, description="seconds")] = None,
    sort: Literal["relevance", "date"] = "relevance",
    page: Annotated[int, Query(ge=1, le=100)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Search the published catalog; an empty query browses it (newest first)."""
    found = index.search(
        q,
        category=category,
        tag=tag,
        required=required,
        kind=kind.value if kind else None,
        min_duration=min_duration,
        max_duration=max_duration,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    live = service.published_by_id(session, [h.id for h in found.hits])
    # From the study lists, not the index: the badge is right even before a daily re-index.
    in_force = service.required_programme_ids(session, on=today_in_china()) if live else set()
    # The index follows the catalog a moment later; a programme withdrawn meanwhile is dropped here.
    hits = [
        SearchHitOut(
            programme=ProgrammeOut.of(live[h.id]),
            score=h.score,
            title_html=h.title,
            snippet_html=h.snippet,
            required=h.id in in_force,
        )
        for h in found.hits
        if h.id in live
    ]
    return SearchResults(
        hits=hits, total=found.total - (len(found.hits) - len(hits)), page=page, per_page=per_page
    )


@router.get("/search/health", response_model=SearchHealth, tags=["search"])
def search_health(caller: AdminDep, session: SessionDep, index: SearchDep) -> SearchHealth:
    """Whether the index holds exactly the published catalog (counts and checksums compared)."""
    state = indexing.drift(session, index)
    return SearchHealth(database_count=state.database[0], index_count=state.index[0], in_sync=state.in_sync)
