"""What the study routers share: the month parameter and the answer of a create-once POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from mediasrv.kit.errors import error_responses

Month = Annotated[
    str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (Beijing months); default: this month")
]

Row = TypeVar("Row")
Route = TypeVar("Route", bound=Callable[..., Any])


def post_once(router: APIRouter, path: str, model: type[BaseModel]) -> Callable[[Route], Route]:
    """Declare a POST that keeps a record once under the id the client made (an agent's offline queue
    sends again after an outage): 201 with the new record, 200 with the one kept before, 409 when the
    id is another site's. The handler answers with `kept_once`."""
    return router.post(
        path,
        status_code=201,
        response_model=model,
        responses={
            200: {"model": model, "description": "Already recorded under this id: the first record"},
            **error_responses(409),
        },
    )


def kept_once(response: Response, kept: tuple[Row, bool]) -> Row:
    """The row of a create-once service call ((row, created)); 200 instead of 201 when it was kept
    before."""
    row, created = kept
    if not created:
        response.status_code = 200
    return row
