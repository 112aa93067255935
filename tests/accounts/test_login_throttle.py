"""Login throttling: an attempt is counted before its password is checked, atomically, so concurrent
guesses cannot slip past the limit (on SQLite and on PostgreSQL, through a real HTTP server); the wait
reported is the time left; an administrator unlocks an account (API, CLI) and a new password does too."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from mediasrv import migrations
from mediasrv.accounts import service
from mediasrv.accounts.models import LoginFailure
from mediasrv.accounts.service import LOGIN_WINDOW, MAX_FAILURES_PER_CLIENT, MAX_FAILURES_PER_USER
from mediasrv.app import create_app
from mediasrv.audit.models import AuditEvent
from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.kit.caller import Role
from tests.fixtures import ACTOR, RecordingDispatcher, migrated
from tests.servers import PostgresServer, free_port

PASSWORD = "长城-Great-Wall-2026"
CONCURRENT = 30


@dataclass(frozen=True)
class Served:
    url: str
    db: Database


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """mediasrv on a loopback port (uvicorn, its thread pool) over a migrated database of each kind,
    with one account, zhangwei."""
    url = ""
    if request.param == "postgresql":
        pg: PostgresServer = request.getfixturevalue("postgres_server")
        url = pg.create_database()
        setup = Database(url)
        migrations.upgrade(setup)
        setup.dispose()
    settings = Settings(data_dir=migrated(tmp_path / "var"), database_url=url)
    db = Database(settings.resolved_database_url)
    with db.session_scope() as s:
        service.create_user(
            s,
            actor=ACTOR,
            username="zhangwei",
            display_name="张伟",
            role=Role.ADMIN,
            org_unit_id=None,
            password=PASSWORD,
        )
    port = free_port()
    app = create_app(settings, dispatcher=RecordingDispatcher())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("mediasrv did not start")
            thread.join(0.05)
        yield Served(f"http://127.0.0.1:{port}", db)
    finally:
        server.should_exit = True
        thread.join(30)
        db.dispose()


def all_at_once(url: str, forms: list[dict[str, str]]) -> list[httpx.Response]:
    """POST each form to /auth/login, every one from its own thread, released together."""
    start = threading.Barrier(len(forms))
    answers: list[httpx.Response | BaseException] = [RuntimeError("not sent")] * len(forms)

    def post(i: int) -> None:
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                start.wait()
                answers[i] = client.post("/auth/login", data=forms[i])
        except BaseException as exc:  # reported below, in the test's thread
            answers[i] = exc

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return [a for a in answers if isinstance(a, httpx.Response)]


def failed_checks(db: Database) -> int:
    """Passwords checked and found wrong: each leaves one audit row."""
    with db.session_scope() as s:
        return s.scalar(select(func.count()).where(AuditEvent.action == "auth.login_failed")) or 0


def test_concurrent_wrong_passwords_check_exactly_the_limit(served: Served) -> None:
    forms = [{"username": "zhangwei", "password": f"guess-{i:04d}-wrong"} for i in range(CONCURRENT)]
    answers = all_at_once(served.url, forms)
    assert Counter(r.status_code for r in answers) == {
        401: MAX_FAILURES_PER_USER,
        429: CONCURRENT - MAX_FAILURES_PER_USER,
    }
    assert failed_checks(served.db) == MAX_FAILURES_PER_USER  # the refused were never checked
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["code"] == "accounts.login_locked_account" and "解锁" in refused.json()["message"]
    # Locked: even the right password is not looked at now.
    right = httpx.post(f"{served.url}/auth/login", data={"username": "zhangwei", "password": PASSWORD})
    assert right.status_code == 429

    # The address's own limit, by many names at once: refused attempts above used none of it.
    forms = [{"username": f"guess{i}", "password": "guess-wrong-0000"} for i in range(CONCURRENT)]
    answers = all_at_once(served.url, forms)
    admitted = MAX_FAILURES_PER_CLIENT - MAX_FAILURES_PER_USER
    assert Counter(r.status_code for r in answers) == {401: admitted, 429: CONCURRENT - admitted}
    assert failed_checks(served.db) == MAX_FAILURES_PER_CLIENT
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["code"] == "accounts.login_locked_client"


# --- one client, in-process -----------------------------------------------------------------------


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    """Over https, so that the Secure session cookie is sent back."""
    with TestClient(client.app, base_url="https://testserver") as b:
        yield b


def make_person(client: TestClient, admin: dict[str, str], username: str) -> int:
    body = {"username": username, "role": "admin", "password": PASSWORD}
    r = client.post("/api/v1/users", headers=admin, json=body)
    assert r.status_code == 201, r.text
    user_id: int = r.json()["id"]
    return user_id


def lock(browser: TestClient, username: str) -> None:
    for i in range(MAX_FAILURES_PER_USER):
        r = browser.post("/auth/login", data={"username": username, "password": f"wrong-{i}-password"})
        assert r.status_code == 401, r.text
    r = browser.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 429, r.text


def logs_in(browser: TestClient, username: str, password: str = PASSWORD) -> bool:
    r = browser.post("/auth/login", data={"username": username, "password": password})
    assert r.status_code in (200, 401, 429), r.text
    return r.status_code == 200


def move_window(db: Database, key: str, started: timedelta) -> None:
    """Time passes for one counter: its window began `started` ago."""
    with db.session_scope() as s:
        s.execute(update(LoginFailure).where(LoginFailure.key == key).values(window_start=utcnow() - started))


def test_the_wait_reported_is_the_time_left(browser: TestClient, admin: dict[str, str], db: Database) -> None:
    make_person(browser, admin, "lina")
    lock(browser, "lina")
    # The account's window began 10 minutes ago; this address's (one typo elsewhere) 14 minutes ago.
    assert not logs_in(browser, "someone.else", "a-wrong-password")
    move_window(db, "user:lina", timedelta(minutes=10))
    move_window(db, "client:testclient", timedelta(minutes=14))
    with db.session_scope() as s:
        until = s.get_one(LoginFailure, "user:lina").window_start + LOGIN_WINDOW
    before = utcnow()
    r = browser.post("/auth/login", data={"username": "lina", "password": PASSWORD})
    after = utcnow()
    assert r.status_code == 429
    # The account's remaining time as the server saw it between `before` and `after` (not the
    # address's, which ends sooner), rounded up: waiting that long is always enough.
    left = int(r.headers["retry-after"])
    assert math.ceil((until - after).total_seconds()) <= left <= math.ceil((until - before).total_seconds())
    assert f"请 {math.ceil(left / 60)} 分钟后再试" in r.json()["message"]
    # When the window is over, the right password works again; no waiting in the test.
    move_window(db, "user:lina", LOGIN_WINDOW + timedelta(seconds=1))
    assert logs_in(browser, "lina")


def locks_lifted(client: TestClient, admin: dict[str, str], user_id: int) -> list[tuple[str, object]]:
    log = client.get(
        "/api/v1/audit", headers=admin, params={"action": "user.update", "target_id": str(user_id)}
    ).json()["items"]
    return [(e["actor_name"].split(":")[0], e["details"]["locked"]) for e in log if "locked" in e["details"]]


def test_an_administrator_unlocks_and_a_new_password_unlocks(
    browser: TestClient, admin: dict[str, str], producer: dict[str, str], settings: Settings
) -> None:
    client = browser
    user_id = make_person(client, admin, "wangfang")
    make_person(client, admin, "lina")
    lock(browser, "wangfang")
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert listed["wangfang"]["locked_until"] is not None and listed["lina"]["locked_until"] is None

    # --- by the API: administrators only ---
    assert client.post(f"/api/v1/users/{user_id}/unlock", headers=producer).status_code == 403
    assert client.post("/api/v1/users/4242/unlock", headers=admin).status_code == 404
    r = client.post(f"/api/v1/users/{user_id}/unlock", headers=admin)
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert logs_in(browser, "wangfang")
    assert client.post(f"/api/v1/users/{user_id}/unlock", headers=admin).status_code == 200  # harmless

    # --- by the command line ---
    lock(browser, "wangfang")
    env = {"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    done = CliRunner().invoke(cli, ["user", "unlock", "wangfang"], env=env)
    assert done.exit_code == 0 and "用户“wangfang”已解锁" in done.output, done.output
    assert logs_in(browser, "wangfang")
    unknown = CliRunner().invoke(cli, ["user", "unlock", "nobody"], env=env)
    assert unknown.exit_code == 2 and "没有名为“nobody”的用户。" in unknown.output

    # --- a password reset ---
    lock(browser, "wangfang")
    new_password = "新密码-New-Password-2026"
    r = client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"password": new_password})
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert logs_in(browser, "wangfang", new_password)

    # Each lifted lock is in the audit log, by whom; the unlock of an unlocked account is not.
    lifted = locks_lifted(client, admin, user_id)
    assert sorted(who for who, _ in lifted) == ["cli", "org-admin", "org-admin"]
    assert all(change == {"before": True, "after": False} for _, change in lifted)
