"""/api/v1 categories and programmes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from mediasrv.accounts.auth import AdminDep, ProducerDep, ViewerDep
from mediasrv.catalog import service
from mediasrv.catalog.models import ProgrammeStatus
from mediasrv.catalog.schemas import (
    CategoryOut,
    ProgrammeIn,
    ProgrammeOut,
    ProgrammePatch,
    PublishIn,
    WithdrawIn,
)
from mediasrv.deps import DispatcherDep, SessionDep
from mediasrv.jobs import INDEX, Dispatcher, enqueue_after_commit
from mediasrv.kit.errors import error_responses
from mediasrv.kit.params import Limit, Offset, Page, RowId


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
    category: Annotated[
        str | None, Query(max_length=32, description="a category code or its Chinese name (党史教育)")
    ] = None,
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
    programme_id: str,
    caller: AdminDep,
    session: SessionDep,
    dispatcher: DispatcherDep,
    body: PublishIn | None = None,
) -> ProgrammeOut:
    """Publish to a region's sites (inside your scope; none given: the region it was made for)."""
    region = body.region if body is not None else None
    programme = service.publish_programme(session, actor=caller, programme_id=programme_id, region=region)
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
