"""/api/v1/search: the published catalog, searched (with the required-study badge), and whether the
index holds exactly what the database does."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mediasrv.accounts.auth import AdminDep, ViewerDep
from mediasrv.catalog import service as catalog
from mediasrv.catalog.schemas import ProgrammeOut
from mediasrv.deps import SearchDep, SessionDep
from mediasrv.ingest.models import AssetKind
from mediasrv.kit.errors import error_responses
from mediasrv.protocol.china import today_in_china
from mediasrv.search import indexing
from mediasrv.search.schemas import SearchHealth, SearchHitOut, SearchResults
from mediasrv.study.lists import required_programme_ids

router = APIRouter(
    prefix="/api/v1", tags=["catalog", "search"], responses=error_responses(400, 401, 403, 404, 409, 422)
)


@router.get("/search", response_model=SearchResults)
def search(
    caller: ViewerDep,
    session: SessionDep,
    index: SearchDep,
    q: Annotated[str, Query(max_length=200, description="Chinese, pinyin (djy, dangjian), English")] = "",
    category: Annotated[
        str | None, Query(max_length=32, description="a category code or its Chinese name (党史教育)")
    ] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    required: Annotated[bool | None, Query(description="on a required-study list in force today")] = None,
    kind: AssetKind | None = None,
    min_duration: Annotated[float | None, Query(ge=0, le=1e7, description="seconds")] = None,
    max_duration: Annotated[float | None, Query(ge=0, le=1e7, description="seconds")] = None,
    sort: Literal["relevance", "date"] = "relevance",
    page: Annotated[int, Query(ge=1, le=100)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Search the published catalog; an empty query browses it (newest first). A site finds what is
    published to its region or above; an administrator or producer also what is published inside its
    scope or department's region (never another county's local programmes)."""
    reach = catalog.reach(session, caller)
    found = index.search(
        q,
        category=catalog.category_code(category) if category else None,  # empty: every category
        tag=tag,
        required=required,
        kind=kind.value if kind else None,
        min_duration=min_duration,
        max_duration=max_duration,
        sort=sort,
        page=page,
        per_page=per_page,
        reach=reach,
    )
    live = catalog.published_by_id(session, [h.id for h in found.hits], seen_from=reach)
    # From the study lists, not the index: the badge is right even before a daily re-index.
    in_force = required_programme_ids(session, on=today_in_china()) if live else set()
    # The index follows the catalog a moment later; a programme withdrawn meanwhile is dropped here.
    hits = [
        SearchHitOut(
            programme=ProgrammeOut.of(live[h.id]),
            score=h.score,
            title_html=h.title,
            snippet_html=h.snippet,
            required=h.id in in_force,
            moment_seconds=h.moment,
        )
        for h in found.hits
        if h.id in live
    ]
    return SearchResults(
        hits=hits, total=found.total - (len(found.hits) - len(hits)), page=page, per_page=per_page
    )


@router.get("/search/health", response_model=SearchHealth)
def search_health(caller: AdminDep, session: SessionDep, index: SearchDep) -> SearchHealth:
    """Whether the index holds exactly the published catalog (counts and checksums compared)."""
    state = indexing.drift(session, index)
    return SearchHealth(database_count=state.database[0], index_count=state.index[0], in_sync=state.in_sync)
