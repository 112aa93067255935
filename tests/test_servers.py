"""The PostgreSQL and Redis servers the integration tier runs against: start, answer, restart, fail loudly."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers import PostgresServer, RedisServer, ServerError

pytestmark = pytest.mark.integration


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _public_tables(server: PostgresServer, db: str) -> list[str]:
    with psycopg.connect(server.conninfo(db)) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return [row[0] for row in rows.fetchall()]


# --- PostgreSQL ---


def test_postgres_answers_and_runs_unprivileged(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SHOW max_connections").fetchone() == ("300",)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert pid is not None
        # The backend runs as another user when we are root, since postgres refuses root. Read while
        # connected: the backend exits with its connection, and then /proc/<pid> is gone.
        uid = Path(f"/proc/{pid[0]}").stat().st_uid
    assert uid != 0 if os.geteuid() == 0 else uid == os.geteuid()


def test_postgres_create_database_gives_distinct_empty_databases(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    assert first.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/")
    assert _public_tables(postgres_server, _dbname(first)) == []
    with psycopg.connect(postgres_server.conninfo(_dbname(first))) as conn:
        conn.execute("CREATE TABLE only_in_first (x int)")
    assert _public_tables(postgres_server, _dbname(first)) == ["only_in_first"]
    assert _public_tables(postgres_server, _dbname(second)) == []
    assert postgres_server.create_database("named_db") == postgres_server.url("named_db")


def test_postgres_restart_keeps_port_and_data(postgres_server: PostgresServer) -> None:
    db = _dbname(postgres_server.create_database())
    with psycopg.connect(postgres_server.conninfo(db)) as conn:
        conn.execute("CREATE TABLE survivor (x int)")
        conn.execute("INSERT INTO survivor VALUES (7)")
    port = postgres_server.port
    # A client still connected must not hold up stop() (fast shutdown, not smart).
    idle = psycopg.connect(postgres_server.conninfo(db))
    try:
        postgres_server.stop()
        assert not postgres_server.running
        assert "fast shutdown request" in postgres_server.log_tail()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_server.conninfo(db), connect_timeout=2).close()
    finally:
        idle.close()
        postgres_server.start()
    assert postgres_server.port == port
    with psycopg.connect(postgres_server.conninfo(db)) as conn:
        assert conn.execute("SELECT x FROM survivor").fetchall() == [(7,)]


def test_postgres_comes_back_after_a_kill(postgres_server: PostgresServer) -> None:
    db = _dbname(postgres_server.create_database())
    with psycopg.connect(postgres_server.conninfo(db)) as conn:
        # Asynchronous commit (the server's default) may lose the last commits in a crash.
        conn.execute("SET synchronous_commit = on")
        conn.execute("CREATE TABLE committed (x int)")
    try:
        postgres_server.kill()
    finally:
        postgres_server.start()  # crash recovery replays the WAL
    assert _public_tables(postgres_server, db) == ["committed"]


def test_postgres_start_failure_carries_log_tail(postgres_server: PostgresServer, tmp_path: Path) -> None:
    # The session server proves PostgreSQL is installed; this one has a setting postgres rejects.
    broken = PostgresServer(tmp_path, settings={"shared_buffers": "bogus"})
    try:
        with pytest.raises(ServerError, match="postgres exited") as info:
            broken.start()
    finally:
        broken.close()
    assert "shared_buffers" in info.value.log_tail
    assert info.value.log_tail in str(info.value)
    assert not broken.root.exists()


def test_postgres_missing_binaries(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path, bindir=tmp_path / "no-such-bin")
    try:
        with pytest.raises(ServerError, match="initdb is missing"):
            server.start()
    finally:
        server.close()


# --- Redis ---


def test_redis_answers_and_fresh_urls_are_distinct_and_empty(redis_server: RedisServer) -> None:
    first, second = redis_server.fresh_url(), redis_server.fresh_url()
    assert first != second
    assert first.startswith(f"redis://127.0.0.1:{redis_server.port}/")
    with redis.Redis.from_url(first) as a, redis.Redis.from_url(second) as b:
        assert a.ping()
        assert a.dbsize() == 0 and b.dbsize() == 0
        a.set("key", "value")
        assert b.dbsize() == 0


def test_redis_fresh_url_flushes_leftovers(redis_server: RedisServer, tmp_path: Path) -> None:
    # A server of its own, so that which index fresh_url() hands out next is known: 0.
    server = RedisServer(tmp_path)
    server.start()
    try:
        with redis.Redis.from_url(server.url(0)) as client:
            client.set("leftover", "1")
            assert server.fresh_url() == server.url(0)
            assert client.dbsize() == 0
    finally:
        server.stop()


def test_redis_restart_on_same_port(redis_server: RedisServer) -> None:
    url, port = redis_server.fresh_url(), redis_server.port
    try:
        redis_server.stop()
        assert not redis_server.running
        with (
            redis.Redis.from_url(url, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)) as client,
            pytest.raises(redis.ConnectionError),
        ):
            client.ping()
    finally:
        redis_server.start()
    assert redis_server.port == port
    with redis.Redis.from_url(url) as client:
        assert client.ping()


def test_redis_start_failure_carries_log_tail(redis_server: RedisServer, tmp_path: Path) -> None:
    broken = RedisServer(tmp_path, extra_args=["--no-such-directive", "yes"])
    with pytest.raises(ServerError, match="redis-server exited") as info:
        broken.start()
    assert "no-such-directive" in info.value.log_tail
    assert not broken.running


def test_redis_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="missing"):
        RedisServer(tmp_path, binary=tmp_path / "no-such-redis-server").start()
