"""Request parameter types shared by every router, and the page of a list.

Plain pydantic, no FastAPI: a route reads a path or query parameter's bounds from `Field` as it would
from `Path` or `Query` (the OpenAPI document is the same), and schemas share these types too."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

# Row ids are 64-bit signed integers in every database we use; a larger number cannot name a row and
# would overflow the driver, so it is refused as invalid input (422) instead of failing (500).
MAX_INT64 = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_INT64)]
Offset = Annotated[int, Field(ge=0, le=MAX_INT64)]
Limit = Annotated[int, Field(ge=1, le=200)]
RegionQuery = Annotated[
    str,
    Field(
        max_length=500,
        description="a region path: it and the regions under it, e.g. 河北省/邢台市; empty: all",
    ),
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: list[T]
    total: int
    limit: int
    offset: int
