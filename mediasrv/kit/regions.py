"""Region paths (省/市/县/乡/村, '/'-separated) and an administrator's scope: the one comparison of
two regions, in Python (`within`) and in SQL (`Scope.where`), segment by segment, so that
'河北省/邢台' never takes in '河北省/邢台市'.

Below the domains, beside kit.caller: sites, accounts, audit, fleet and study all compare regions.
Not in kit.caller itself, which imports no database library (this module builds SQL conditions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Index, SQLColumnExpression, and_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import Forbidden, NotFound
from mediasrv.kit.i18n import Text

WHOLE_NETWORK = ""  # the empty path: every region


def normalise_region(region: str) -> str:
    """'省/市/县/乡/村' with surrounding spaces and empty parts removed."""
    return "/".join(part.strip() for part in region.split("/") if part.strip())


def within(region: str, scope: str) -> bool:
    """Whether `region` is `scope` itself or lies below it; the empty scope holds every region.
    Both normalised. A segment is whole: '河北省/邢台市' is not within '河北省/邢台'."""
    return not scope or region == scope or region.startswith(scope + "/")


class _Under(ColumnElement[bool]):
    """`within(column, scope)` in SQL, in the form each database finds by the column's index, so that a
    county's answer reads the county's rows, not the fleet's (bench/compliance.py). SQLite: the prefix
    as a range, 'scope/' <= column < 'scope0' ('0' follows '/'; SQLite compares text bytewise, and UTF-8
    keeps code point order), since its LIKE ignores case and never uses an index. Elsewhere (PostgreSQL):
    LIKE 'scope/%' with the wildcards escaped, as a range would follow the database's collation, which
    may not order text by bytes; its prefix is found by the index in a C-locale database (or with a
    *_pattern_ops index). Both forms carry their values as bound parameters: the statement caches."""

    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: no "= 1" where booleans are integers
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012  # SQLAlchemy's own (a list), read, never changed
        ("ranged", InternalTraversal.dp_clauseelement),
        ("liked", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: SQLColumnExpression[str], scope: str) -> None:
        self.ranged = or_(column == scope, and_(column >= scope + "/", column < scope + "0"))
        self.liked = or_(column == scope, column.startswith(scope + "/", autoescape=True))


@compiles(_Under)
def _under_default(element: _Under, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.liked, **kw)})"  # one term inside any AND or OR


@compiles(_Under, "sqlite")
def _under_sqlite(element: _Under, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.ranged, **kw)})"


def under(column: SQLColumnExpression[str], scope: str) -> ColumnElement[bool]:
    """`within(column, scope)` as a SQL condition (_Under: by the column's index)."""
    if not scope:
        return true()
    return _Under(column, scope)


def prefix_index(table: str, column: str = "region") -> Index:
    """The index by which PostgreSQL finds `under`'s LIKE 'scope/%' in a database of any collation: a
    plain btree index serves a LIKE prefix only under the C collation, varchar_pattern_ops (which
    compares bytes) under every one. PostgreSQL only (ddl_if): SQLite's range is served by the plain
    index, which both keep for equality and ordering. For the __table_args__ of a table with a region."""
    index = Index(f"ix_{table}_{column}_prefix", column, postgresql_ops={column: "varchar_pattern_ops"})
    return index.ddl_if(dialect="postgresql")


def depth(region: str) -> int:
    """How many levels down a normalised region lies: '' 0, a province 1, a city 2, a county 3."""
    return len(region.split("/")) if region else 0


def above(region: str) -> list[str]:
    """The regions holding `region`, widest first, itself not included ('' for a province: ['']).
    Equality against these is `within(region, r)` for each r, as a column test (IN) in SQL."""
    parts = region.split("/") if region else []
    return ["/".join(parts[:n]) for n in range(len(parts))]


def holding(column: SQLColumnExpression[str], region: str) -> ColumnElement[bool]:
    """Rows whose region `column` holds `region` (is it or lies above it): `within(region, column)`,
    as an IN of the few regions above (by the column's index)."""
    return column.in_([*above(region), region])


def common_region(regions: list[str]) -> str:
    """The deepest region holding all of `regions` (no regions, or regions in two provinces: '')."""
    if not regions:
        return WHOLE_NETWORK
    parts = [r.split("/") if r else [] for r in regions]
    shared: list[str] = []
    for segments in zip(*parts, strict=False):
        if any(s != segments[0] for s in segments):
            break
        shared.append(segments[0])
    return "/".join(shared)


@dataclass(frozen=True)
class Scope:
    """The part of the network a caller administers: the subtree under `region` ('' is all of it).
    Producers and sites are held by their own rules (department, own site), not by a region."""

    region: str = WHOLE_NETWORK

    @staticmethod
    def of(caller: Caller) -> Scope:
        return Scope(caller.region if caller.role is Role.ADMIN else WHOLE_NETWORK)

    @property
    def whole(self) -> bool:
        return not self.region

    def covers(self, region: str) -> bool:
        return within(region, self.region)

    def where(self, column: SQLColumnExpression[str]) -> ColumnElement[bool]:
        """Rows whose region `column` lies in the scope."""
        return under(column, self.region)

    def sees(self, region: str) -> bool:
        """Whether something published to `region` concerns the scope: published inside it, or above it
        (a county reads the province's programmes; it changes only what `covers` holds)."""
        return self.covers(region) or within(self.region, region)

    def sees_where(self, column: SQLColumnExpression[str]) -> ColumnElement[bool]:
        """`sees` in SQL."""
        return or_(self.where(column), holding(column, self.region)) if self.region else true()

    def narrow(self, region: str) -> str:
        """A region filter as the caller may apply it: the filter itself when inside the scope, the
        scope when the filter is wider (the whole network asked: what the caller administers); 404 when
        the filter lies outside (whether or not it exists there: nothing to learn about elsewhere)."""
        region = normalise_region(region)
        if self.covers(region):
            return region
        if within(self.region, region):
            return self.region
        raise NotFound("kit.region_outside_scope", region=region)

    def admit(self, region: str) -> str:
        """A region an object is created in or moved to: '' means the scope itself; a region outside
        the scope (a wider one included) is refused."""
        region = normalise_region(region) or self.region
        if not self.covers(region):
            raise Forbidden(
                "kit.region_not_yours", region=region or Text("kit.whole_network"), scope=self.region
            )
        return region


@dataclass(frozen=True)
class Reach:
    """Where a caller stands among the regions programmes are published to. A site is given what is
    published to its region or above it (`below` False); an administrator sees what is published
    inside or above its scope, a producer inside or above its department's region (`below` True): a
    county's people read the province's programmes and their own county's, never the neighbour's."""

    region: str
    below: bool

    def sees(self, region: str) -> bool:
        return Scope(self.region).sees(region) if self.below else within(self.region, region)

    def where(self, column: SQLColumnExpression[str]) -> ColumnElement[bool]:
        return Scope(self.region).sees_where(column) if self.below else holding(column, self.region)
