"""People, departments, tokens, web logins and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediasrv.accounts.service import MAX_FAILURES_PER_USER
from mediasrv.cli import cli
from mediasrv.config import Settings
from tests.mediafactory import make_media

PASSWORD = "长城-Great-Wall-2026"


@pytest.fixture
def browser(app: FastAPI, client: TestClient) -> Iterator[TestClient]:
    """A second client over https, so that the Secure session cookie is sent back."""
    with TestClient(app, base_url="https://testserver") as b:
        yield b


def department(client: TestClient, admin: dict[str, str], name: str) -> int:
    r = client.post("/api/v1/org-units", headers=admin, json={"name": name})
    assert r.status_code == 201, r.text
    unit_id: int = r.json()["id"]
    return unit_id


def person(
    client: TestClient, admin: dict[str, str], username: str, unit: int | None, **extra: object
) -> int:
    body = {"username": username, "display_name": "张伟", "role": "producer", "org_unit_id": unit,
            "password": PASSWORD, **extra}  # fmt: skip
    r = client.post("/api/v1/users", headers=admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["has_password"] is (body["password"] is not None) and "password" not in r.json()
    user_id: int = r.json()["id"]
    return user_id


def login(browser: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = browser.post("/auth/login", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def test_web_login_session_and_csrf(client: TestClient, browser: TestClient, admin: dict[str, str]) -> None:
    unit = department(client, admin, "县委组织部电教中心")
    person(client, admin, "zhangwei", unit)
    r = browser.post("/auth/login", data={"username": "zhangwei", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    session = browser.get("/auth/session").json()
    assert (
        session["username"] == "zhangwei" and session["role"] == "producer" and session["org_unit_id"] == unit
    )
    assert browser.get("/api/v1/assets").status_code == 200  # the cookie authenticates reads
    refused = browser.post("/api/v1/tokens", json={"name": "x"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["message"]
    assert (
        browser.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"}).status_code
        == 403
    )
    assert browser.post("/api/v1/tokens", json={"name": "laptop"}, headers=csrf).status_code == 201
    assert browser.post("/auth/logout", headers=csrf).status_code == 204
    after = browser.get("/api/v1/assets")
    assert after.status_code == 401


def test_a_csrf_token_of_any_bytes_is_refused_like_a_wrong_one(
    client: TestClient, browser: TestClient, admin: dict[str, str]
) -> None:
    person(client, admin, "liuyang", department(client, admin, "县委党校"))
    login(browser, "liuyang")
    for token in ("令牌".encode(), b"\xff\xfe", "é".encode("latin-1")):
        r = browser.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["message"], (token, r.text)


def test_cross_site_login_posts_are_refused(
    client: TestClient, browser: TestClient, admin: dict[str, str]
) -> None:
    person(client, admin, "zhoumin", department(client, admin, "县委宣传部"))
    form = {"username": "zhoumin", "password": PASSWORD}
    forged = browser.post("/auth/login", data=form, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "本服务器自己的网页" in forged.json()["message"]
    assert "set-cookie" not in forged.headers
    assert browser.post("/auth/login", data=form, headers={"Origin": "https://testserver"}).status_code == 200


def test_failed_logins_look_alike_and_are_throttled(
    client: TestClient, browser: TestClient, admin: dict[str, str]
) -> None:
    person(client, admin, "lina", department(client, admin, "乡镇党委"))
    wrong = browser.post("/auth/login", data={"username": "lina", "password": "not-the-password"})
    unknown = browser.post("/auth/login", data={"username": "nobody", "password": "not-the-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "unauthorized",
            "message": "用户名或密码错误。",
            "code": "accounts.bad_login",
            "params": {},
        }
    )
    for _ in range(MAX_FAILURES_PER_USER - 1):
        browser.post("/auth/login", data={"username": "lina", "password": "still-wrong-1"})
    blocked = browser.post("/auth/login", data={"username": "lina", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "分钟后再试" in blocked.json()["message"]
    # Other accounts from the same place are not locked out by one person's typos.
    person(client, admin, "wangfang", None, role="admin")
    login(browser, "wangfang")


def test_disabling_a_user_ends_sessions_and_tokens(
    client: TestClient, browser: TestClient, admin: dict[str, str]
) -> None:
    user_id = person(client, admin, "liqiang", department(client, admin, "县农业农村局"))
    csrf = login(browser, "liqiang")
    token = browser.post("/api/v1/tokens", json={"name": "script"}, headers=csrf).json()["token"]
    assert client.get("/api/v1/assets", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert (
        client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"is_active": False}).status_code == 200
    )
    r = client.get("/api/v1/assets", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "已停用" in r.json()["message"]
    assert browser.get("/api/v1/assets").status_code == 401


def test_user_validation_messages(client: TestClient, admin: dict[str, str]) -> None:
    unit = department(client, admin, "县司法局")
    cases = [
        ({"username": "a b", "role": "producer", "org_unit_id": unit}, 400, "不能有空格"),
        ({"username": "nounit", "role": "producer"}, 400, "所属部门"),
        ({"username": "shorty", "role": "admin", "password": "123"}, 400, "密码太短"),
        ({"username": "box", "role": "site"}, 400, "站点令牌"),
        ({"username": "ghost", "role": "producer", "org_unit_id": 4242}, 404, "没有编号为 4242 的部门"),
    ]
    for body, status, words in cases:
        r = client.post("/api/v1/users", headers=admin, json=body)
        assert r.status_code == status and words in r.json()["message"], (body, r.text)
    person(client, admin, "zhaolei", unit)
    dup = client.post("/api/v1/users", headers=admin, json={"username": "zhaolei", "role": "admin"})
    assert dup.status_code == 409 and "已被使用" in dup.json()["message"]


def test_tokens_shown_once_listed_without_values_and_revocable(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str]
) -> None:
    made = client.post("/api/v1/tokens", headers=producer, json={"name": "上传电脑"})
    assert made.status_code == 201
    plain, token_id = made.json()["token"], made.json()["id"]
    assert plain.startswith("msv_")
    mine = client.get("/api/v1/tokens", headers=producer).json()
    assert {t["name"] for t in mine} == {"county-centre", "上传电脑"}
    assert all("token" not in t and "token_hash" not in t for t in mine)
    assert len(client.get("/api/v1/tokens", headers=admin).json()) > len(mine)  # admins see all
    assert (
        client.post("/api/v1/tokens", headers=producer, json={"name": "x", "site_id": 1}).status_code == 403
    )
    admins_token = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=admin).json() if t["name"] == "org-admin"
    )
    assert client.delete(f"/api/v1/tokens/{admins_token}", headers=producer).status_code == 404
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=producer).json()["revoked_at"] is not None
    r = client.get("/api/v1/assets", headers=headers)
    assert r.status_code == 401 and "已被吊销" in r.json()["message"]
    last_used = {t["id"]: t["last_used_at"] for t in client.get("/api/v1/tokens", headers=producer).json()}
    assert last_used[token_id] is not None


def test_departments_own_their_uploads(
    client: TestClient,
    producer: dict[str, str],
    colleague: dict[str, str],
    other_producer: dict[str, str],
    admin: dict[str, str],
    tmp_path: Path,
) -> None:
    film = make_media(tmp_path / "film.mp4", seconds=1)
    with film.open("rb") as f:
        asset_id = client.post("/api/v1/assets", headers=producer, files={"file": (film.name, f)}).json()[
            "id"
        ]
    assert client.get(f"/api/v1/assets/{asset_id}", headers=colleague).status_code == 200
    denied = client.get(f"/api/v1/assets/{asset_id}", headers=other_producer)
    assert denied.status_code == 403 and denied.json()["code"] == "ingest.other_department"
    assert client.get("/api/v1/assets", headers=colleague).json()["total"] == 1
    assert client.get("/api/v1/assets", headers=other_producer).json()["total"] == 0
    assert client.get(f"/api/v1/assets/{asset_id}/source", headers=other_producer).status_code == 403
    assert client.get("/api/v1/assets", headers=admin).json()["total"] == 1


def test_audit_log_names_who_changed_what(
    client: TestClient, browser: TestClient, producer: dict[str, str], admin: dict[str, str], tmp_path: Path
) -> None:
    film = make_media(tmp_path / "film.mp4", seconds=1)
    with film.open("rb") as f:
        asset_id = client.post("/api/v1/assets", headers=producer, files={"file": (film.name, f)}).json()[
            "id"
        ]
    person(client, admin, "sunli", department(client, admin, "市委党校"))
    browser.post("/auth/login", data={"username": "sunli", "password": "wrong-password"})
    log = client.get("/api/v1/audit", headers=admin).json()
    actions = [(e["action"], e["actor_name"]) for e in log["items"]]
    assert ("asset.upload", "county-centre") in actions
    assert ("user.create", "org-admin") in actions and ("org_unit.create", "org-admin") in actions
    assert ("auth.login_failed", "anonymous") in actions
    uploads = client.get("/api/v1/audit", headers=admin, params={"action": "asset.upload"}).json()
    assert uploads["total"] == 1 and uploads["items"][0]["target_id"] == asset_id
    assert uploads["items"][0]["details"]["filename"] == "film.mp4"
    assert client.get("/api/v1/audit", headers=producer).status_code == 403


def test_first_admin_and_people_from_the_command_line(client: TestClient, settings: Settings) -> None:
    env = {"MEDIASRV_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "--role", "admin", "--name", "ops"], env=env)
    assert made.exit_code == 0, made.output
    admin = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    assert client.get("/api/v1/users", headers=admin).status_code == 200
    person_made = runner.invoke(
        cli,
        ["user", "create", "chenjing", "--role", "producer", "--org-unit", "县电教中心", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert person_made.exit_code == 0, person_made.output
    users = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert users["chenjing"]["has_password"] and users["chenjing"]["role"] == "producer"
    assert users["ops"]["has_password"] is False  # service accounts have tokens, never passwords
    listed = runner.invoke(cli, ["token", "list"], env=env)
    assert "用户 ops" in listed.stdout and "msv_" not in listed.stdout
    log = client.get("/api/v1/audit", headers=admin, params={"action": "user.create"}).json()["items"]
    assert {e["actor_name"].split(":")[0] for e in log} == {"cli"}
