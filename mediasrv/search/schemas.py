"""API shapes of search."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mediasrv.catalog.schemas import ProgrammeOut


class SearchHitOut(BaseModel):
    programme: ProgrammeOut
    score: float
    title_html: str = Field(description="the title, HTML-escaped, matches in <mark>")
    snippet_html: str = Field(description="a matching fragment of the description, HTML-escaped, or ''")
    required: bool = Field(description="on a required-study list in force today (a badge for the catalog)")
    moment_seconds: float | None = Field(
        default=None,
        description="when the query is said in the film: the matching caption's start; the programme page "
        "opens there (/ui/programmes/{id}#t=<seconds>)",
    )


class SearchResults(BaseModel):
    hits: list[SearchHitOut]
    total: int
    page: int
    per_page: int


class SearchHealth(BaseModel):
    """Database and index fingerprints: (published programmes, checksum) and (documents, checksum)."""

    database_count: int
    index_count: int
    in_sync: bool
