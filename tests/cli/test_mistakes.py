"""The `mediasrv` command's foreseeable mistakes: each prints one line in the operator's language (Chinese
unless LANG or --lang says English) and exits 2, never a traceback; --debug shows one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from mediasrv.accounts.auth import Role
from mediasrv.cli import cli, producers
from mediasrv.cli import client as cli_client
from mediasrv.cli.administration import ensure_cli_token
from mediasrv.cli.client import api_token
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.sites.models import RegionLanguages, Site
from tests.fixtures import make_token
from tests.servers import free_port

CJK = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "长城-Great-Wall-2026\n"


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str | None]:
    """The data directory of `settings`, a config folder of the test's own, the locale unset."""
    return {
        "MEDIASRV_DATA_DIR": str(settings.data_dir),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LANG": None,
        "LC_ALL": None,
        "LC_MESSAGES": None,
        "MEDIASRV_TOKEN": None,
    }


def run(env: dict[str, str | None], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input)


def one_line(r: Result) -> str:
    """The one line the command printed on failing (prompts aside), checked to be no traceback."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit), r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def chinese(r: Result) -> str:
    line = one_line(r)
    assert CJK.search(line), line
    return line


def test_a_username_too_short(env: dict[str, str | None]) -> None:
    r = run(env, "user", "create", "a", "--role", "admin", "--password-stdin", input=PASSWORD)
    assert "用户名为 2 到 64 个字符" in chinese(r)


def test_a_taken_name(env: dict[str, str | None]) -> None:
    assert run(env, "user", "create", "chenjing", "--role", "admin", "--no-password").exit_code == 0
    r = run(env, "user", "create", "chenjing", "--role", "admin", "--no-password")
    assert chinese(r) == "用户名“chenjing”已被使用。"


def test_a_producer_without_a_department_is_told_the_option_as_typed(env: dict[str, str | None]) -> None:
    line = chinese(run(env, "user", "create", "wangfang", "--role", "producer", "--no-password"))
    assert "--org-unit" in line and "org_unit_id" not in line


def test_a_duplicate_site_code(env: dict[str, str | None]) -> None:
    assert run(env, "site", "create", "hb-xt-0012", "--name", "西塘村").exit_code == 0
    line = one_line(run(env, "site", "create", "hb-xt-0012", "--name", "西塘村"))
    assert "hb-xt-0012" in line  # TRANSITION: Chinese once the sites package's raises are converted


@pytest.mark.parametrize("quota", ["nan", "inf", "-1", "0"])
def test_a_quota_that_is_no_size_is_refused_by_the_api_s_rules(
    env: dict[str, str | None], quota: str
) -> None:
    r = run(env, "site", "create", "hb-xt-0013", "--name", "东村", "--quota-gb", quota)
    assert chinese(r).startswith("--quota-gb：")
    assert run(env, "site", "create", "hb-xt-0013", "--name", "东村", "--quota-gb", "2.5").exit_code == 0


def test_no_token(env: dict[str, str | None], tmp_path: Path) -> None:
    r = run(env, "status", "x")
    assert "没有找到 API 令牌" in chinese(r) and "--token" in r.stderr


def test_the_server_down(env: dict[str, str | None]) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    r = run(env, "status", "x", "--token", "t", "--server", server)
    assert chinese(r).startswith(f"连不上服务器 {server}")
    r = run(env, "--lang", "en", "status", "x", "--token", "t", "--server", server)
    assert one_line(r).startswith(f"Cannot reach the server at {server}")


@pytest.fixture
def served(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    """The commands' HTTP requests go to the test app; the list collects them."""
    sent: list[httpx.Request] = []

    def connect(server: str, token: str, *, timeout: Any = 30.0) -> httpx.Client:
        test_client = TestClient(client.app, headers=cli_client.request_headers(token))
        test_client.event_hooks["request"].append(sent.append)
        return test_client

    monkeypatch.setattr(producers, "connect", connect)
    yield sent


def test_an_unknown_asset_shows_the_server_s_message_as_it_is(
    env: dict[str, str | None], db: Database, served: list[httpx.Request]
) -> None:
    token = make_token(db, Role.PRODUCER)["Authorization"].removeprefix("Bearer ")
    line = chinese(run(env, "status", "[x]", "--token", token))
    assert line.startswith("服务器拒绝了请求（HTTP 404）") and "[x]" in line  # rich markup would eat [x]
    assert served[0].headers["Accept-Language"] == "zh-CN"
    english = one_line(run(env, "--lang", "en", "status", "[x]", "--token", token))
    assert (
        english.startswith("The server refused (HTTP 404)") and served[1].headers["Accept-Language"] == "en"
    )


def test_the_locale_chooses_and_lang_wins(env: dict[str, str | None]) -> None:
    args = ("user", "create", "a", "--role", "admin", "--no-password")
    assert one_line(run({**env, "LANG": "en_US.UTF-8"}, *args)).startswith("A username is")
    assert one_line(run({**env, "LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, *args)).startswith("用户名")
    assert one_line(run({**env, "LANG": "C.UTF-8"}, *args)).startswith("用户名")
    assert one_line(run({**env, "LANG": "zh_CN.UTF-8"}, "--lang", "en", *args)).startswith("A username is")


def test_debug_shows_the_traceback(env: dict[str, str | None]) -> None:
    r = run(env, "--debug", "user", "create", "a", "--role", "admin", "--no-password")
    assert r.exit_code == 1 and type(r.exception).__name__ == "MediaError"


def test_the_category_is_checked_before_the_upload(env: dict[str, str | None], tmp_path: Path) -> None:
    film = tmp_path / "film.mp4"
    film.write_bytes(b"\0" * 1024)
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens: an upload would say so
    r = run(env, "upload", str(film), "--token", "t", "--server", server, "--category", "党史")
    assert "没有“党史”这个栏目" in chinese(r) and "党史教育" in r.stderr
    r = run(env, "upload", str(film), "--token", "t", "--server", server)
    assert "--category" in chinese(r) and "--no-programme" in r.stderr
    assert producers.category_code("党史教育") == producers.category_code("party-history") == "party-history"


def test_upload_makes_a_draft_programme_titled_by_the_file(
    env: dict[str, str | None], client: TestClient, db: Database, served: list[httpx.Request], tmp_path: Path
) -> None:
    token = make_token(db, Role.PRODUCER)
    pdf = tmp_path / "党课讲义.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    r = run(
        env, "upload", str(pdf), "--token", token["Authorization"][7:], "--category", "党史教育", "--no-wait"
    )
    assert r.exit_code == 0, r.output
    assert "已在“党史教育”栏目中生成节目草稿" in r.stderr
    asset_id = r.stdout.strip()
    [programme] = client.get("/api/v1/programmes", headers=token).json()["items"]
    assert programme["asset_id"] == asset_id and programme["status"] == "draft"
    assert programme["title"] == "党课讲义" and programme["category"]["code"] == "party-history"
    bare = run(env, "upload", str(pdf), "--token", token["Authorization"][7:], "--no-programme", "--no-wait")
    assert bare.exit_code == 0 and "草稿" not in bare.stderr


def test_the_token_is_found_from_any_folder(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ensure_cli_token(settings)
    written = (settings.data_dir / "cli-token").read_text().strip()
    shared = tmp_path / "config" / "mediasrv" / "cli-token"
    assert shared.stat().st_mode & 0o777 == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no var/ here, and MEDIASRV_DATA_DIR unset
    monkeypatch.delenv("MEDIASRV_DATA_DIR", raising=False)
    assert api_token(Settings(), None) == written
    monkeypatch.setenv("MEDIASRV_DATA_DIR", str(settings.data_dir))
    shared.unlink()
    assert api_token(Settings(), None) == written  # the data directory first


@pytest.mark.parametrize(
    ("locale", "args", "said"),
    [("zh_CN.UTF-8", (), "连不上服务器"), ("C.UTF-8", ("--lang", "en"), "Cannot reach the server")],
)
def test_the_installed_command_prints_one_line(locale: str, args: tuple[str, ...], said: str) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "MEDIASRV_"))}
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "mediasrv"),
            *args,
            "status",
            "x",
            "--token",
            "t",
            "--server",
            server,
        ],
        env={**environ, "LANG": locale},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 2 and r.stderr.strip().startswith(said) and len(r.stderr.strip().splitlines()) == 1


def test_usage_errors_in_the_operator_s_language(env: dict[str, str | None]) -> None:
    line = chinese(run(env, "user", "create", "--role", "admin"))
    assert line.startswith("缺少参数 USERNAME。运行 ") and line.endswith("user create --help 可以查看用法。")
    assert chinese(run(env, "--lang", "fr", "status", "x")).startswith("--lang 只能是 zh、en 之一。")
    assert chinese(run(env, "user", "create", "x", "--role", "boss")).startswith(
        "--role 只能是 producer、admin、site 之一。"
    )
    assert chinese(run(env, "user", "create", "x", "--rol", "admin")).startswith(
        "没有 --rol 这个选项，您要写的是不是 --role？"
    )
    assert chinese(run(env, "nosuch")).startswith("没有 nosuch 这个命令。")
    english = one_line(run(env, "--lang", "en", "user", "create", "--role", "admin"))
    assert english.startswith("Missing argument USERNAME. Run ") and english.endswith("--help for its usage.")


def test_the_password_prompt_in_chinese(env: dict[str, str | None], db: Database) -> None:
    r = run(
        env,
        "user",
        "create",
        "chenjing",
        "--role",
        "admin",
        input="长城-Great-Wall-2026\n别的-Pass-2026\n" + PASSWORD * 2,
    )
    assert r.exit_code == 0, r.output
    assert (
        "密码：" in r.output
        and "两次输入的密码不一样，请重新输入。" in r.stderr
        and "do not match" not in r.output
    )
    cancelled = run(env, "user", "create", "lihua", "--role", "admin", input="")
    assert cancelled.exit_code == 1 and cancelled.stderr.strip() == "已取消。"


def test_sites_and_regions_get_their_languages_from_the_command_line(
    env: dict[str, str | None], db: Database
) -> None:
    assert (
        run(
            env, "site", "create", "hb-xt-0020", "--name", "西塘村", "--region", "河北省/邢台市/信都区/西塘村"
        ).exit_code
        == 0
    )
    r = run(env, "site", "languages", "藏语", "--region", "河北省/邢台市/信都区")
    assert r.exit_code == 0 and "藏语" in r.stderr, r.output
    r = run(env, "site", "languages", "", "--site", "hb-xt-0020")
    assert r.exit_code == 0 and "藏语" in r.stderr, r.output  # none of its own: the county's
    r = run(env, "site", "languages", "ug、bo", "--site", "hb-xt-0020")
    assert r.exit_code == 0 and "维吾尔语、藏语" in r.stderr, r.output
    with db.session_scope() as s:
        assert s.get_one(RegionLanguages, "河北省/邢台市/信都区").languages == ["bo"]
        assert s.query(Site).filter_by(code="hb-xt-0020").one().languages == ["ug", "bo"]
    assert "火星语" in chinese(run(env, "site", "languages", "火星语", "--site", "hb-xt-0020"))
    assert "--site" in chinese(run(env, "site", "languages", "bo"))
    assert "hb-none" in chinese(run(env, "site", "languages", "bo", "--site", "hb-none"))
