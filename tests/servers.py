"""Run real PostgreSQL and Redis servers (Debian's packages) for the integration tier.

Each server is one foreground child process on a free 127.0.0.1 port with its files in its own
directory, so parallel runs, a developer's own servers and the cluster Debian's postgresql package
may have started on 5432 do not collide. stop() and start() again reuse the port (and PostgreSQL's
data), which is what fault tests need.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, NoReturn, TypedDict

import psycopg
import pytest
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
INITDB_TIMEOUT = 120.0
PG_MAX_CONNECTIONS = 300  # the app pools 5 + 40 per process and a stack runs several processes
REDIS_DATABASES = 64  # each test stack takes its own database index


class ServerError(RuntimeError):
    """A server could not be started; the message ends with its log tail, also kept in `log_tail`."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(f"{message}; log tail:\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: compare versions numerically so 15 beats 9.6.
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name))


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL bin directory, else the one holding `initdb` on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def redis_binary() -> Path | None:
    if Path("/usr/bin/redis-server").is_file():
        return Path("/usr/bin/redis-server")
    on_path = shutil.which("redis-server")
    return Path(on_path) if on_path else None


class _RunAs(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _run_as(user: pwd.struct_passwd | None) -> _RunAs:
    # PostgreSQL refuses to run as root; drop to its user, with none of root's groups left.
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


class _Server:
    """A foreground server process whose stdout and stderr go to a log file."""

    name = "server"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log at {self.log}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def _log(self) -> IO[bytes]:
        if self._log_file is None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log.open("ab")
        return self._log_file

    def _spawn(self, command: Sequence[str], cwd: Path, user: pwd.struct_passwd | None = None) -> None:
        try:
            self._proc = subprocess.Popen(
                command,
                stdout=self._log(),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                # A session of its own lets stop() and kill() reach the server's children too.
                start_new_session=True,
                **_run_as(user),
            )
        except OSError as exc:
            self._close_log()
            raise ServerError(f"cannot run {command[0]}: {exc}") from exc

    def _wait_ready(self, probe: Callable[[], object]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise ServerError(f"{self.name} exited with {code}", self.log_tail())
            try:
                probe()
                return
            except Exception as exc:
                last = exc
                time.sleep(0.1)
        raise ServerError(
            f"{self.name} did not answer on 127.0.0.1:{self.port} within {START_TIMEOUT:.0f}s "
            f"(last error: {last!r})",
            self.log_tail(),
        )

    def stop(self) -> None:
        """Shut the server down cleanly (SIGKILL after STOP_TIMEOUT); start() brings it back."""
        self._end(self._stop_signal)

    def kill(self) -> None:
        """SIGKILL the server and its children at once, as a crash would. PostgreSQL runs with
        synchronous_commit=off, so the last commits before a kill may be lost (as in production
        with that setting); a session that must keep them sets synchronous_commit=on."""
        self._end(signal.SIGKILL)

    _stop_signal = signal.SIGTERM

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILLed just below
                proc.wait(STOP_TIMEOUT)
        if proc is not None:
            # Leftover children (PostgreSQL backends) would keep the shared memory and port busy.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class PostgresServer(_Server):
    """A PostgreSQL cluster run by `postgres` itself (not pg_ctl's daemon) so it can be stopped,
    killed and restarted on the same port and data. Call close() to stop it and delete the data."""

    name = "postgres"

    def __init__(
        self,
        tmpdir: Path,
        *,
        bindir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(tmpdir / "postgres.log")
        self.bindir = bindir if bindir is not None else postgres_bindir()
        self.settings = dict(settings or {})
        self._user = _unprivileged_user()
        # pytest's tmp dirs are 0700 root-owned, out of reach of the user postgres runs as; the
        # cluster (and its unix socket, whose path must stay short) lives in a dir of its own.
        self.root = Path(tempfile.mkdtemp(prefix="mediasrv-pg-"))
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self.data = self.root / "data"
        self._names = itertools.count(1)

    def url(self, name: str) -> str:
        """SQLAlchemy URL of database `name`."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def conninfo(self, name: str = "postgres") -> str:
        """libpq URL of database `name`, for psycopg."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str | None = None, *, locale: str | None = None) -> str:
        """Create an empty database (a unique name when None) and return its SQLAlchemy URL. The
        cluster's locale is C; `locale` (one of `locale -a`) makes a database that collates by it."""
        if name is None:
            name = f"test_{next(self._names)}_{secrets.token_hex(4)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if locale is not None:  # template0: template1's collation is the cluster's
            statement += sql.SQL(" TEMPLATE template0 LOCALE {}").format(sql.Literal(locale))
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)
        return self.url(name)

    def _binary(self, program: str) -> Path:
        if self.bindir is None:
            raise ServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
        path = self.bindir / program
        if not path.is_file():
            raise ServerError(f"{path} is missing: install PostgreSQL (apt-get install postgresql)")
        return path

    def _initdb(self) -> None:
        command = [
            str(self._binary("initdb")),
            f"--pgdata={self.data}",
            "--username=postgres",
            "--auth=trust",  # local and loopback connections, nothing else listens
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        try:
            subprocess.run(
                command,
                stdout=self._log(),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                timeout=INITDB_TIMEOUT,
                check=True,
                **_run_as(self._user),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self._close_log()
            raise ServerError(f"initdb failed: {exc}", self.log_tail()) from exc

    def command(self) -> list[str]:
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": str(PG_MAX_CONNECTIONS),
            # Test data is disposable: trade crash safety for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **self.settings,
        }
        return [
            str(self._binary("postgres")),
            "-D",
            str(self.data),
            *itertools.chain.from_iterable(("-c", f"{k}={v}") for k, v in options.items()),
        ]

    def start(self) -> None:
        if self.running:
            return
        if not (self.data / "PG_VERSION").is_file():
            self._initdb()
        self._spawn(self.command(), self.root, self._user)
        try:
            self._wait_ready(self._probe)
        except BaseException:
            self.kill()
            raise

    def _probe(self) -> None:
        with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    # SIGTERM is "smart" shutdown, which waits for every client (pools) to disconnect; SIGINT
    # ("fast") ends their sessions and shuts down cleanly at once.
    _stop_signal = signal.SIGINT

    def close(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as when we are root: Debian's `postgres`, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerError("running as root and neither a `postgres` nor a `nobody` user exists")


class RedisServer(_Server):
    """A Redis server without persistence; each caller of fresh_url() gets an empty database."""

    name = "redis-server"

    def __init__(self, tmpdir: Path, *, binary: Path | None = None, extra_args: Sequence[str] = ()) -> None:
        super().__init__(tmpdir / "redis.log")
        self.dir = tmpdir
        self.binary = binary if binary is not None else redis_binary()
        self.extra_args = list(extra_args)
        self._next_db = 0

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """URL of the next database index no one was handed yet, emptied first."""
        if self._next_db >= REDIS_DATABASES:
            raise ServerError(f"all {REDIS_DATABASES} redis databases are handed out")
        url = self.url(self._next_db)
        self._next_db += 1
        with redis.Redis.from_url(url, socket_timeout=5) as client:
            client.flushdb()
        return url

    def command(self) -> list[str]:
        if self.binary is None:
            raise ServerError("redis-server is not installed (apt-get install redis-server)")
        return [
            str(self.binary),
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),  # nothing on disk: tests never need it back
            *("--dir", str(self.dir), "--databases", str(REDIS_DATABASES)),
            *self.extra_args,
        ]

    def start(self) -> None:
        if self.running:
            return
        command = self.command()
        if not Path(command[0]).is_file():
            raise ServerError(f"{command[0]} is missing: install redis-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._spawn(command, self.dir)
        try:
            self._wait_ready(self._probe)
        except BaseException:
            self.kill()
            raise

    def _probe(self) -> None:
        # redis-py retries a refused connection with backoff for seconds; the wait loop retries.
        no_retry = Retry(NoBackoff(), 0)
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, retry=no_retry) as client:
            client.ping()


@contextlib.contextmanager
def run_postgres(tmpdir: Path) -> Iterator[PostgresServer]:
    """Start PostgreSQL under tmpdir, and stop it and delete its data on exit."""
    server = PostgresServer(tmpdir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def run_redis(tmpdir: Path) -> Iterator[RedisServer]:
    """Start Redis under tmpdir and stop it on exit."""
    server = RedisServer(tmpdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def unavailable(what: str, tests: str, reason: BaseException) -> NoReturn:
    """Skip loudly, but fail under CI: `make test` installs the servers, so CI must never go green
    by skipping the integration tier."""
    if os.environ.get("CI") == "true":
        message = f"!!! {what} COULD NOT START - every {tests} test fails (CI=true) !!!\n{reason}"
        pytest.fail(message, pytrace=False)
    pytest.skip(f"!!! {what} COULD NOT START - every {tests} test is skipped !!!\n{reason}")
