"""kit.regions.under, the one comparison in SQL: the same answer as `within` on every database (look-
alikes, LIKE's wildcards in a name, one cached statement asked with other values), and on SQLite found
by the column's index, so that a county's answer does not read the whole fleet (issue 19 part 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Select, String, Table, insert, select

from mediasrv.db import Database
from mediasrv.kit.regions import prefix_index, under, within
from tests.servers import PostgresServer

REGIONS = [
    "", "河北省", "河北省/邢台", "河北省/邢台/东村", "河北省/邢台市", "河北省/邢台市/西塘村",
    "河北省/邢台市区",
    "河北省/邢台0", "河北省/邢台.", "河北省/100%_村", "河北省/100%_村/甲", "河北省/100x_村", "山西省/太原市",
]  # fmt: skip
COLLATION = "C.utf8"  # on every Debian; PostgreSQL treats only "C" and "POSIX" as the C collation
SCOPES = ["河北省", "河北省/邢台", "河北省/邢台市", "河北省/100%_村", "山西省", "河北省/邢"]

metadata = MetaData()
places = Table(
    "places",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("region", String(500), index=True),
    prefix_index("places"),  # PostgreSQL only
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    db = Database(url)
    request.addfinalizer(db.dispose)
    metadata.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(insert(places), [{"region": r} for r in REGIONS])
    return db


def test_under_answers_as_within(database: Database) -> None:
    with database.engine.connect() as conn:
        for scope in SCOPES:  # one statement, cached, asked with each scope in turn
            got = set(conn.scalars(select(places.c.region).where(under(places.c.region, scope))))
            assert got == {r for r in REGIONS if within(r, scope)}, scope
            # inside an OR and a NOT, it stays one term
            either = select(places.c.region).where(
                under(places.c.region, scope) | (places.c.region == "山西省/太原市")
            )
            assert set(conn.scalars(either)) == got | {"山西省/太原市"}
            assert set(conn.scalars(select(places.c.region).where(~under(places.c.region, scope)))) == (
                set(REGIONS) - got
            )


def test_sqlite_finds_a_region_by_its_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    metadata.create_all(db.engine)
    query = select(places.c.id).where(under(places.c.region, "河北省/邢台市"))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    db.dispose()
    assert "SCAN places" not in plan and "ix_places_region (region>? AND region<?)" in plan, plan


def _plan(db: Database, query: Select[Any]) -> str:
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an index when one can serve
        return "\n".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_postgresql_finds_a_region_by_its_index_under_any_collation(postgres_server: PostgresServer) -> None:
    """In a database that does not collate as C, the plain index cannot serve LIKE 'scope/%';
    the prefix index (varchar_pattern_ops, migration 0017) does."""
    db = Database(postgres_server.create_database(locale=COLLATION))
    try:
        metadata.create_all(db.engine)
        with db.engine.begin() as conn:
            assert (
                conn.exec_driver_sql(
                    "SELECT datcollate FROM pg_database WHERE datname = current_database()"
                ).scalar()
                == COLLATION
            )
            conn.execute(insert(places), [{"region": f"河北省/县{n}/村{n}"} for n in range(2000)])
            conn.exec_driver_sql("ANALYZE places")
        query = select(places.c.id).where(under(places.c.region, "河北省/县7"))
        plan = _plan(db, query)
        assert "ix_places_region_prefix" in plan and "~>=~" in plan and "~<~" in plan, plan
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_places_region_prefix")
        # Without it the prefix is no index condition: the collation is not C (the test means something).
        plain = _plan(db, query)
        assert "~>=~" not in plain and "Index Cond: ((region)::text >=" not in plain, plain
    finally:
        db.dispose()
