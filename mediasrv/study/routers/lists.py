"""/api/v1/study-lists (administrators curate, everyone reads lists in force and their history) and
what a site must study on a day (/api/v1/sites/{id}/required). In the API they stay beside the catalog
(tag "catalog"), where producers and sites look for them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from mediasrv.accounts.auth import AdminDep, SiteOrAdminDep, ViewerDep
from mediasrv.catalog.router import reindex_after_commit
from mediasrv.catalog.schemas import ProgrammeOut
from mediasrv.deps import DispatcherDep, SessionDep
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId
from mediasrv.protocol.china import today_in_china
from mediasrv.study import lists
from mediasrv.study.models import StudyKind, StudyListStatus
from mediasrv.study.schemas import RequiredForSite, StudyListIn, StudyListOut, StudyListPatch

router = APIRouter(
    prefix="/api/v1", tags=["catalog"], responses=error_responses(400, 401, 403, 404, 409, 422)
)


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
    rows, total = lists.list_study_lists(
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
    study_list = lists.create_study_list(session, actor=caller, **body.model_dump())
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.get("/study-lists/{study_list_id}", response_model=StudyListOut)
def get_study_list(study_list_id: RowId, caller: ViewerDep, session: SessionDep) -> StudyListOut:
    return StudyListOut.of(lists.visible_study_list(session, study_list_id, caller=caller), caller)


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
    study_list = lists.update_study_list(session, actor=caller, study_list_id=study_list_id, **changes)
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.post("/study-lists/{study_list_id}/publish", response_model=StudyListOut)
def publish_study_list(
    study_list_id: RowId, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> StudyListOut:
    """Put a list in force (for its period and regions)."""
    status = StudyListStatus.PUBLISHED
    study_list = lists.set_study_list_status(
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
    study_list = lists.set_study_list_status(
        session, actor=caller, study_list_id=study_list_id, status=status
    )
    reindex_after_commit(session, dispatcher)
    return StudyListOut.of(study_list, caller)


@router.get("/sites/{site_id}/required", response_model=RequiredForSite, tags=["sites"])
def required_for_site(
    site_id: RowId,
    caller: SiteOrAdminDep,
    session: SessionDep,
    on: Annotated[date | None, Query(description="default: today")] = None,
) -> RequiredForSite:
    """What site X must study on a day, in one call: the lists in force for its region, their programmes."""
    day = on or today_in_china()
    site, in_force, programmes = lists.required_for_site(session, caller=caller, site_id=site_id, on=day)
    return RequiredForSite(
        site_id=site.id,
        site_code=site.code,
        on=day,
        expected_hours=sum(s.expected_hours for s in in_force),
        lists=[StudyListOut.of(s, caller) for s in in_force],
        programmes=[ProgrammeOut.of(p) for p in programmes],
    )
