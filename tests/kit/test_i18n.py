"""Messages as data: every catalogue text in Chinese and English with the same {params}; every refusal
raised anywhere in mediasrv and workers names a key of the catalogue with its params; answers in the
caller's language. A key with no text is a bug (kit.i18n.render raises KeyError): the walk below is
what keeps it from reaching a caller.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mediasrv.app  # every module that defines a refusal is imported by the app
from mediasrv.accounts.service import MAX_FAILURES_PER_USER
from mediasrv.kit import i18n
from mediasrv.kit.caller import Role
from mediasrv.kit.errors import _RESERVED, MediaError, invalid_request_body
from mediasrv.kit.i18n import LANG_COOKIE, Text, choose_lang, placeholders, render

ROOT = Path(mediasrv.__file__).parent
# Every package folder and root module of mediasrv, and the workers: all refusals are keys.
# (migrations: Alembic scripts, whose ForeignKey("sites.id") strings look like keys; they refuse nothing.)
WALKED = tuple(
    sorted(p.name for p in ROOT.iterdir() if (p.is_dir() or p.suffix == ".py") and p.name != "migrations")
)
CJK = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "长城-Great-Wall-2026"
ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}


# --- the catalogue --------------------------------------------------------------------------------


def test_every_text_is_in_both_languages_with_the_same_params() -> None:
    assert i18n.MESSAGES, "no catalogue found"
    wrong = {}
    for key, (zh, en) in i18n.MESSAGES.items():
        if not zh.strip() or not en.strip():
            wrong[key] = "empty"
        elif not CJK.search(zh):
            wrong[key] = "its zh text has no Chinese"
        elif placeholders(zh) != placeholders(en):
            wrong[key] = f"params differ: {sorted(placeholders(zh))} vs {sorted(placeholders(en))}"
    assert wrong == {}


def test_each_package_s_keys_are_its_own() -> None:
    """mediasrv/accounts/messages.json defines accounts.* (and labels: field.*); problem.* are kit's."""
    for path in i18n.catalogue_paths():
        domain = path.parent.name
        allowed = (f"{domain}.", "field.", *(("problem.",) if domain == "kit" else ()))
        keys = json.loads(path.read_text(encoding="utf-8"))
        assert [k for k in keys if not k.startswith(allowed)] == [], path


def test_a_key_is_defined_once(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x.one": ["一", "one"]}', encoding="utf-8")
    (tmp_path / "b.json").write_text('{"x.one": ["一", "one"]}', encoding="utf-8")
    with pytest.raises(ValueError, match="defined twice"):
        i18n.load(tmp_path.glob("*.json"))


def test_an_install_ships_the_catalogues() -> None:
    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "messages.json" in package_data["*"]


# --- the code's keys ------------------------------------------------------------------------------


def _refusal_names(cls: type[MediaError] = MediaError) -> set[str]:
    return {cls.__name__, *(name for sub in cls.__subclasses__() for name in _refusal_names(sub))}


_CLI_SAYINGS = {"say", "note", "fail"}  # mediasrv.cli.common's: a key of the catalogue and its params


@dataclass(frozen=True)
class Use:
    where: str  # path:line
    key: str | None  # None: not a literal (an f-string is a sentence, not a key)
    params: frozenset[str] | None  # the keyword names passed; None when **kwargs hides them
    refusal: bool = False  # a MediaError: some keyword names are its class's (errors._RESERVED)


def _uses(path: Path) -> Iterator[Use]:
    """Each MediaError(...) or PydanticCustomError(...) call, or the command line's say/note/fail(...):
    its first argument and its keywords."""
    names = _refusal_names() | {"PydanticCustomError"} | _CLI_SAYINGS
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in names:
            continue
        first = node.args[0]
        where = (
            f"{path.relative_to(path.parents[1]) if path.is_relative_to(ROOT) else path.name}:{node.lineno}"
        )
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            key: str | None = first.value
        elif isinstance(first, ast.JoinedStr):
            key = None
        else:
            continue  # a variable: its value is checked where it is made
        if name == "PydanticCustomError":  # (key, english_template, {params})
            third = node.args[2] if len(node.args) > 2 else None
            params = (
                frozenset(k.value for k in third.keys if isinstance(k, ast.Constant))
                if isinstance(third, ast.Dict)
                else frozenset()
                if third is None
                else None
            )
        elif any(k.arg is None for k in node.keywords):
            params = None
        else:
            params = frozenset(
                k.arg for k in node.keywords if k.arg and k.arg not in ("retry_after", "exit_code")
            )
        yield Use(where, key, params, refusal=name in _refusal_names())


def _files(*parts: str) -> list[Path]:
    found = []
    for part in parts:
        path = ROOT / part
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def _not_keys(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        for use in _uses(path):
            if use.key is None or use.key not in i18n.MESSAGES:
                problems.append(f"{use.where}: {use.key or 'an f-string'} is not a catalogue key")
                continue
            if use.refusal and use.params and (taken := use.params & _RESERVED):
                problems.append(
                    f"{use.where}: {sorted(taken)} belong to the class: name the parameter otherwise"
                )
            wanted = placeholders(i18n.MESSAGES[use.key][1])
            if use.params is not None and not wanted <= use.params:
                problems.append(f"{use.where}: {use.key} needs {sorted(wanted - use.params)}")
    return problems


def test_every_refusal_of_a_converted_package_names_a_key_with_its_params() -> None:
    assert _not_keys(_files(*WALKED)) == []


def test_every_refusal_of_the_workers_names_a_key_with_its_params() -> None:
    """The transcode pipeline's reasons are stored and shown to producers (outside mediasrv/)."""
    assert _not_keys(sorted((ROOT.parent / "workers").glob("*.py"))) == []


def test_the_walk_finds_sentences_and_missing_params(tmp_path: Path) -> None:
    """The completeness test can fail: an English sentence, an f-string, a forgotten parameter."""
    code = tmp_path / "mediasrv" / "x.py"
    code.parent.mkdir()
    code.write_text(
        'raise NotFound("No such thing.")\n'
        'raise Conflict(f"The username {name!r} is taken.")\n'
        'raise Conflict("accounts.username_taken")\n'
        'raise Conflict("accounts.username_taken", username=name)\n'
        'raise PydanticCustomError("control_character", "contains a control character", {})\n'
        'raise StorageUnavailable("accounts.username_taken", username=name, code=503)\n',
        encoding="utf-8",
    )
    found = _not_keys([code])
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "5", "6"], found


_FILE_SUFFIXES = frozenset(
    {"html", "js", "css", "json", "py", "csv", "xlsx", "m3u8", "ts", "jpg", "png", "pdf"}
)


def test_key_like_literals_are_keys() -> None:
    """Keys passed through variables (a cap's advice, a nested Text): a literal that looks like one of
    the catalogue's keys must be one."""
    prefixes = sorted({key.split(".")[0] for key in i18n.MESSAGES})
    pattern = re.compile(rf"^({'|'.join(prefixes)})\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
    unknown = []
    for path in _files(*WALKED):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # ForeignKey("sites.id") names a table's column: the sites table shares its package's name.
        columns = {
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ForeignKey"
            for arg in node.args[:1]
        }
        for node in ast.walk(tree):
            literal = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if literal.rpartition(".")[2] in _FILE_SUFFIXES:  # a file's name (catalog.html), not a key
                continue
            if pattern.match(literal) and literal not in i18n.MESSAGES and id(node) not in columns:
                unknown.append(f"{path.name}:{node.lineno}: {literal}")
    assert unknown == []


def test_every_role_has_a_name() -> None:
    assert [r for r in Role if f"accounts.role_name.{r.value}" not in i18n.MESSAGES] == []


# --- rendering ------------------------------------------------------------------------------------


def test_render_fills_params_nests_texts_and_refuses_what_is_not_a_key() -> None:
    assert (
        render("accounts.login_locked_client", "zh", {"minutes": 11})
        == "登录失败次数过多，请 11 分钟后再试。"
    )
    assert render("accounts.login_locked_client", "en", {"minutes": 11}) == (
        "Too many failed logins from this address: wait 11 minute(s)."
    )
    roles = (Text("accounts.role_name.producer"), Text("accounts.role_name.admin"))
    params = {"wanted": roles, "name": "x", "role": Text("accounts.role_name.site")}
    assert "编导、管理员" in render("accounts.role_needed", "zh", params)
    assert "producer, admin" in render("accounts.role_needed", "en", params)
    assert render("accounts.login_locked_client", "zh", {}) == "登录失败次数过多，请 {minutes} 分钟后再试。"
    with pytest.raises(KeyError):  # a sentence for a key is a bug the walk finds first
        render("Nothing {here} is a key.", "zh")


def test_an_error_is_english_in_logs_and_either_language_in_answers() -> None:
    exc = MediaError("accounts.username_taken", username="zhangwei")
    assert str(exc) == exc.message == "The username 'zhangwei' is taken."
    assert exc.body("zh") == {
        "error": "bad_request",
        "message": "用户名“zhangwei”已被使用。",
        "code": "accounts.username_taken",
        "params": {"username": "zhangwei"},
    }
    with pytest.raises(TypeError):
        MediaError("accounts.username_taken", code="mine")


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "lang"),
    [
        (None, None, None, "zh"),
        (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        (None, None, "fr-FR,fr", "zh"),
        (None, "en", "zh-CN", "en"),
        ("zh", "en", "en-US", "zh"),
        ("xx", None, "en", "en"),
    ],
)
def test_one_language_rule(query: str | None, cookie: str | None, accept: str | None, lang: str) -> None:
    headers = {"accept-language": accept} if accept else {}
    cookies = {LANG_COOKIE: cookie} if cookie else {}
    assert choose_lang(headers, cookies, {"lang": query} if query else {}) == lang


def test_a_422_is_rendered_field_by_field() -> None:
    errors = [
        {"type": "missing", "loc": ("body", "ends_on"), "msg": "Field required"},
        {"type": "string_too_long", "loc": ("body", "regions", 2), "msg": "…", "ctx": {"max_length": 500}},
        {"type": "less_than_equal", "loc": ("query", "limit"), "msg": "…", "ctx": {"le": 200}},
        {"type": "study.ends_before_start", "loc": ("body",), "msg": "ends_on is before starts_on"},
        {
            "type": "enum",
            "loc": ("body", "kind"),
            "msg": "…",
            "ctx": {"expected": "'required' or 'optional'"},
        },
        {"type": "value_error", "loc": ("body", "started_at"), "msg": "Value error, give the offset"},
    ]
    zh = invalid_request_body(errors, "zh")
    assert (zh["error"], zh["code"]) == ("invalid_request", "kit.invalid_request")
    assert [p["field"] for p in zh["problems"]] == ["ends_on", "regions.2", "limit", "", "kind", "started_at"]
    assert [p["message"] for p in zh["problems"]] == [
        "结束日期：必须填写",
        "地区 第 3 项：最多 500 个字",
        "每页条数：不能大于 200",
        "结束日期不能早于开始日期",
        "类别：只能是 'required'、'optional' 之一",
        "开始时间：填写的内容不对，请检查后重新填写",  # a ValueError, not a key: no English on a zh page
    ]
    assert zh["message"] == "；".join(p["message"] for p in zh["problems"])
    en = invalid_request_body(errors[:1], "en")
    assert en["message"] == "ends_on: is required"


# --- through the API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "lang"), [(ZH, "zh"), (EN, "en"), ({}, "zh")], ids=["zh-CN", "en", "none"]
)
def test_the_login_lockout_in_the_caller_s_language(
    client: TestClient, admin: dict[str, str], headers: dict[str, str], lang: str
) -> None:
    person = {"username": "lina", "role": "admin", "password": PASSWORD}
    assert client.post("/api/v1/users", headers=admin, json=person).status_code == 201
    for _ in range(MAX_FAILURES_PER_USER):
        wrong = client.post("/auth/login", data={"username": "lina", "password": "wrong"}, headers=headers)
        assert wrong.status_code == 401
    assert wrong.json()["message"] == {"zh": "用户名或密码错误。", "en": "Wrong username or password."}[lang]
    r = client.post("/auth/login", data={"username": "lina", "password": PASSWORD}, headers=headers)
    assert r.status_code == 429
    minutes = r.json()["params"]["minutes"]
    assert minutes == -(-int(r.headers["retry-after"]) // 60)
    assert (r.json()["error"], r.json()["code"]) == ("too_many_requests", "accounts.login_locked_account")
    assert (
        r.json()["message"]
        == {
            "zh": f"登录失败次数过多，请 {minutes} 分钟后再试，或请管理员解锁此账号。",
            "en": f"Too many failed logins for this account: wait {minutes} minute(s), or ask an "
            "administrator to unlock it.",
        }[lang]
    )


@pytest.mark.parametrize(
    ("headers", "lang"), [(ZH, "zh"), (EN, "en"), ({}, "zh")], ids=["zh-CN", "en", "none"]
)
def test_an_unknown_route_in_the_caller_s_language(
    client: TestClient, headers: dict[str, str], lang: str
) -> None:
    r = client.get("/api/v1/no-such-thing", headers=headers)
    assert r.status_code == 404
    assert r.json() == {
        "error": "not_found",
        "message": {"zh": "没有这个接口：请查看 /docs。", "en": "No such endpoint: see /docs."}[lang],
        "code": "kit.no_such_endpoint",
        "params": {},
    }
    r = client.delete("/healthz", headers=headers)
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        405,
        "kit.method_not_allowed",
        {"method": "DELETE"},
    )
    assert ("不接受 DELETE" if lang == "zh" else "DELETE is not allowed") in r.json()["message"]


@pytest.mark.parametrize(
    ("headers", "lang"), [(ZH, "zh"), (EN, "en"), ({}, "zh")], ids=["zh-CN", "en", "none"]
)
def test_a_study_list_ending_before_it_starts_in_the_caller_s_language(
    client: TestClient, admin: dict[str, str], headers: dict[str, str], lang: str
) -> None:
    body = {"title": "2026年12月必学清单", "starts_on": "2026-12-31", "ends_on": "2026-12-01"}
    r = client.post("/api/v1/study-lists", headers={**admin, **headers}, json=body)
    assert r.status_code == 422
    said = {"zh": "结束日期不能早于开始日期", "en": "ends_on is before starts_on"}[lang]
    assert r.json() == {
        "error": "invalid_request",
        "message": said,
        "code": "kit.invalid_request",
        "params": {},
        "problems": [{"field": "", "message": said}],
    }
    r = client.post("/api/v1/study-lists", headers={**admin, **headers}, json={**body, "ends_on": "明天"})
    assert r.json()["problems"][0]["field"] == "ends_on"
    assert r.json()["message"].startswith(
        {"zh": "结束日期：不是有效的日期", "en": "ends_on: is not a valid date"}[lang]
    )


def test_the_pages_choice_wins_over_the_browser_s(client: TestClient) -> None:
    client.cookies.set(LANG_COOKIE, "en")
    assert client.get("/api/v1/nothing", headers=ZH).json()["message"] == "No such endpoint: see /docs."
    assert (
        client.get("/api/v1/nothing?lang=zh", headers=EN).json()["message"] == "没有这个接口：请查看 /docs。"
    )


def test_admission_refuses_in_the_caller_s_language(client: TestClient, site: dict[str, str]) -> None:
    big = json.dumps({"title": "x" * 200_000})
    for headers, said in (
        (ZH, "这需要以下角色之一：编导、管理员"),
        (EN, "This needs one of these roles: producer, admin"),
    ):
        r = client.post(
            "/api/v1/programmes", content=big, headers={**site, **headers, "Content-Type": "application/json"}
        )
        assert r.status_code == 403 and said in r.json()["message"], r.json()
    r = client.post(
        "/auth/login",
        content=b"x" * 20_000,
        headers={**EN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413 and r.json()["code"] == "kit.body_too_large"
    assert r.json()["message"] == (
        "The request body is 19.5 KiB, over the 8.0 KiB that POST /auth/login accepts: send only the fields "
        "/docs shows for this request."
    )
    assert r.json()["params"]["advice"] == "kit.advice.json"


def test_a_body_that_is_not_json_names_no_field() -> None:
    errors = [{"type": "json_invalid", "loc": ("body", 7), "msg": "JSON decode error", "ctx": {"error": "x"}}]
    assert invalid_request_body(errors, "zh")["problems"] == [{"field": "", "message": "不是有效的 JSON"}]
    errors = [{"type": "missing", "loc": ("body", 3, "minutes"), "msg": "Field required"}]
    assert invalid_request_body(errors, "zh")["problems"][0]["field"] == "3.minutes"
