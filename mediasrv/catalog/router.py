"""/api/v1 categories, programmes, study lists, and what a site must study today."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from mediasrv.accounts.models import Caller, Role
from mediasrv.auth import AdminDep, ProducerDep, ViewerDep, allow
from mediasrv.catalog import service
from mediasrv.catalog.models import ProgrammeStatus, StudyKind, StudyListStatus
from mediasrv.catalog.schemas import (
    CategoryOut,
    ProgrammeIn,
    ProgrammeOut,
    ProgrammePage,
    ProgrammePatch,
    RequiredForSite,
    StudyListIn,
    StudyListOut,
    StudyListPage,
    StudyListPatch,
    WithdrawIn,
)
from mediasrv.deps import DispatcherDep, SessionDep
from mediasrv.errors import error_responses
from mediasrv.jobs import INDEX, enqueue_after_commit
from mediasrv.params import Limit, Offset, RowId

router = APIRouter(
    prefix="/api/v1", tags=["catalog"], responses=error_responses(400, 401, 403, 404, 409, 422)
)


@router.get("/categories", response_model=list[CategoryOut])
def categories(caller: ViewerDep, session: SessionDep) -> list[CategoryOut]:
    """The fixed category taxonomy, in Chinese and English."""
    return [CategoryOut.model_validate(c) for c in service.list_categories(session)]


@router.get("/programmes", response_model=ProgrammePage)
def list_programmes(
    caller: ViewerDep,
    session: SessionDep,
    status: ProgrammeStatus | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    org_unit_id: RowId | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ProgrammePage:
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
    return ProgrammePage(items=[ProgrammeOut.of(p) for p in rows], total=total, limit=limit, offset=offset)


@router.post("/programmes", status_code=201, response_model=ProgrammeOut)
def create_programme(
    body: ProgrammeIn, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    """A draft programme of your department; an administrator publishes it."""
    programme = service.create_programme(session, actor=caller, **body.model_dump())
    enqueue_after_commit(session, dispatcher, INDEX, programme.id)
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
    enqueue_after_commit(session, dispatcher, INDEX, programme.id)
    return ProgrammeOut.of(programme)


@router.delete("/programmes/{programme_id}", status_code=204, response_class=Response)
def delete_programme(
    programme_id: str, caller: ProducerDep, session: SessionDep, dispatcher: DispatcherDep
) -> Response:
    """Delete a draft."""
    service.delete_programme(session, actor=caller, programme_id=programme_id)
    enqueue_after_commit(session, dispatcher, INDEX, programme_id)
    return Response(status_code=204)


@router.post("/programmes/{programme_id}/publish", response_model=ProgrammeOut)
def publish_programme(
    programme_id: str, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    programme = service.publish_programme(session, actor=caller, programme_id=programme_id)
    enqueue_after_commit(session, dispatcher, INDEX, programme.id)
    return ProgrammeOut.of(programme)


@router.post("/programmes/{programme_id}/withdraw", response_model=ProgrammeOut)
def withdraw_programme(
    programme_id: str, body: WithdrawIn, caller: AdminDep, session: SessionDep, dispatcher: DispatcherDep
) -> ProgrammeOut:
    """Take a programme out of search and of every study list at once."""
    programme = service.withdraw_programme(
        session, actor=caller, programme_id=programme_id, reason=body.reason
    )
    enqueue_after_commit(session, dispatcher, INDEX, programme.id)
    return ProgrammeOut.of(programme)


@router.get("/study-lists", response_model=StudyListPage)
def list_study_lists(
    caller: ViewerDep,
    session: SessionDep,
    kind: StudyKind | None = None,
    status: StudyListStatus | None = None,
    on: Annotated[date | None, Query(description="only lists whose period contains this day")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> StudyListPage:
    """Study lists, newest period first; history included (archived lists)."""
    rows, total = service.list_study_lists(
        session, kind=kind, status=status, on=on, limit=limit, offset=offset
    )
    return StudyListPage(items=[StudyListOut.of(s) for s in rows], total=total, limit=limit, offset=offset)


@router.post("/study-lists", status_code=201, response_model=StudyListOut)
def create_study_list(body: StudyListIn, caller: AdminDep, session: SessionDep) -> StudyListOut:
    """A draft list for a period, targeted at regions (none: all sites); publish it to put it in force."""
    return StudyListOut.of(service.create_study_list(session, actor=caller, **body.model_dump()))


@router.get("/study-lists/{study_list_id}", response_model=StudyListOut)
def get_study_list(study_list_id: RowId, caller: ViewerDep, session: SessionDep) -> StudyListOut:
    return StudyListOut.of(service.get_study_list(session, study_list_id))


@router.patch("/study-lists/{study_list_id}", response_model=StudyListOut)
def update_study_list(
    study_list_id: RowId, body: StudyListPatch, caller: AdminDep, session: SessionDep
) -> StudyListOut:
    """Change period, hours, regions or the programmes (the whole ordered list)."""
    return StudyListOut.of(
        service.update_study_list(
            session, actor=caller, study_list_id=study_list_id, **body.model_dump(exclude_unset=True)
        )
    )


@router.post("/study-lists/{study_list_id}/publish", response_model=StudyListOut)
def publish_study_list(study_list_id: RowId, caller: AdminDep, session: SessionDep) -> StudyListOut:
    return StudyListOut.of(
        service.set_study_list_status(
            session, actor=caller, study_list_id=study_list_id, status=StudyListStatus.PUBLISHED
        )
    )


@router.post("/study-lists/{study_list_id}/archive", response_model=StudyListOut)
def archive_study_list(study_list_id: RowId, caller: AdminDep, session: SessionDep) -> StudyListOut:
    """End a list early; it stays as history."""
    return StudyListOut.of(
        service.set_study_list_status(
            session, actor=caller, study_list_id=study_list_id, status=StudyListStatus.ARCHIVED
        )
    )


@router.get("/sites/{site_id}/required", response_model=RequiredForSite, tags=["catalog", "sites"])
def required_for_site(
    site_id: RowId,
    caller: Annotated[Caller, Depends(allow(Role.ADMIN, Role.SITE))],
    session: SessionDep,
    on: Annotated[date | None, Query(description="default: today")] = None,
) -> RequiredForSite:
    """What site X must study on a day, in one call: the lists in force for its region, their programmes."""
    day = on or date.today()
    site, lists, programmes = service.required_for_site(session, caller=caller, site_id=site_id, on=day)
    return RequiredForSite(
        site_id=site.id,
        site_code=site.code,
        on=day,
        expected_hours=sum(s.expected_hours for s in lists),
        lists=[StudyListOut.of(s) for s in lists],
        programmes=[ProgrammeOut.of(p) for p in programmes],
    )
