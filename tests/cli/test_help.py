"""`--help` of both command lines in the operator's language: every command, option and argument
writes its help as a key of a catalogue (mediasrv/cli/messages.json for `mediasrv`, agent.words.HELP
for `mediasrv-site`), with a Chinese text; the help shown follows the messages' rule (--lang, then
LANG / LC_ALL / LC_MESSAGES, Chinese by default)."""

from __future__ import annotations

import re
import string
from typing import Annotated

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner, Result

from mediasrv.agent import words
from mediasrv.agent.cli import app as site_cli
from mediasrv.cli import cli
from mediasrv.kit import i18n
from mediasrv.protocol.helptext import Helped, help_texts

CJK = re.compile(r"[\u4e00-\u9fff]")
NO_LOCALE = {"LANG": None, "LC_ALL": None, "LC_MESSAGES": None}


def _untranslated(helped: list[Helped], catalogue: dict[str, tuple[str, str]]) -> list[str]:
    """What has no help, or help that is not a key of `catalogue` with Chinese in its zh text."""
    wrong = []
    for item in helped:
        if item.key is None:
            wrong.append(f"{item.where}: no help")
        elif item.key not in catalogue:
            wrong.append(f"{item.where}: {item.key!r} is not a catalogue key")
        elif not CJK.search(catalogue[item.key][0]):
            wrong.append(f"{item.where}: {item.key} has no Chinese")
    return wrong


def test_every_help_of_mediasrv_is_a_catalogue_key_with_chinese() -> None:
    helped = help_texts(get_command(cli), "mediasrv")
    assert "mediasrv site create --device-profile" in {h.where for h in helped}  # the walk goes deep
    assert _untranslated(helped, i18n.MESSAGES) == []


def test_every_help_of_mediasrv_site_is_a_catalogue_key_with_chinese() -> None:
    helped = help_texts(get_command(site_cli), "mediasrv-site")
    assert "mediasrv-site import --public-key" in {h.where for h in helped}
    assert _untranslated(helped, words.HELP) == []


def test_the_agent_s_help_texts_are_in_both_languages() -> None:
    """agent.words.HELP is not one of the server's catalogues (the agent imports none of the server):
    its keys are checked here as tests/kit/test_i18n.py checks theirs."""
    fields = string.Formatter()
    for key, (zh, en) in words.HELP.items():
        assert key.startswith("agent.help.") and CJK.search(zh) and en.strip() and not CJK.search(en), key
        assert {f[1] for f in fields.parse(zh)} == {f[1] for f in fields.parse(en)}, key
        assert key not in i18n.MESSAGES, key  # defined once


def test_the_walk_finds_an_option_without_a_translation() -> None:
    """The completeness tests can fail: an English help, and an option with none."""
    app = typer.Typer(help="cli.help.site")

    @app.command(help="cli.help.site.create")
    def create(
        code: Annotated[str, typer.Argument(help="cli.help.site.create.code")],
        region: Annotated[str, typer.Option(help="province/city/county")] = "",
        languages: Annotated[str, typer.Option()] = "",
    ) -> None: ...

    @app.command(help="cli.help.site.import")
    def other() -> None: ...

    assert _untranslated(help_texts(get_command(app), "x"), i18n.MESSAGES) == [
        "x create --region: 'province/city/county' is not a catalogue key",
        "x create --languages: no help",
    ]


def help_of(app: typer.Typer, *args: str, **env: str | None) -> str:
    """The help of `app args`, in a terminal wide enough to hold a line of it whole."""
    r: Result = CliRunner().invoke(app, [*args, "--help"], env={**NO_LOCALE, "COLUMNS": "200", **env})
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("args", [(), ("--lang", "zh")], ids=["locale", "--lang zh"])
def test_mediasrv_help_reads_chinese(args: tuple[str, ...]) -> None:
    shown = help_of(cli, *args, LANG="zh_CN.UTF-8" if not args else "en_US.UTF-8")
    for said in (
        "用法：",
        "节目库与课件分发服务器",
        "选项",
        "命令",
        "显示本帮助并退出",
        "人员账号",
        "离线包",
    ):
        assert said in shown
    for english in ("Usage", "Options", "Commands", "Show this message", "people's accounts"):
        assert english not in shown
    site = help_of(cli, *args, "site", "create", LANG="zh_CN.UTF-8" if not args else "en_US.UTF-8")
    assert "登记一个终端站点" in site and "站点编码" in site and "[必填]" in site and "[默认 iptv]" in site


def test_mediasrv_help_reads_english_when_asked() -> None:
    for shown in (help_of(cli, "--lang", "en"), help_of(cli, LANG="en_US.UTF-8")):
        assert "media library and courseware distribution server" in shown
        assert "Usage: " in shown and "Options" in shown and "Show this message and exit." in shown
        assert not CJK.search(shown)
    site = help_of(cli, "--lang", "en", "site", "create")
    assert "Register a terminal site." in site and "[required]" in site and "[default: iptv]" in site


def test_chinese_by_default() -> None:
    assert "节目库与课件分发服务器" in help_of(cli)
    assert "令牌" in help_of(site_cli, "init")


def test_mediasrv_site_help_follows_the_same_rule() -> None:
    shown = help_of(site_cli, LANG="zh_CN.UTF-8")
    assert "让终端站点的节目缓存保持完整" in shown and "选项" in shown and "显示本帮助并退出" in shown
    assert "用法：" in shown
    sync = help_of(site_cli, "sync", LC_ALL="zh_CN.UTF-8", LANG="en_US.UTF-8")
    assert "同步一次" in sync and "本站点的缓存目录" in sync and "[环境变量 MEDIASRV_SITE_DIR]" in sync
    english = help_of(site_cli, "--lang", "en", "import", LANG="zh_CN.UTF-8")
    assert "Verify an offline bundle" in english and "[env var: MEDIASRV_SITE_DIR]" in english
    assert not CJK.search(english)


def test_a_long_chinese_help_wraps_instead_of_being_cut() -> None:
    """rich breaks lines at spaces; a Chinese sentence has none and was cut off with "…"."""
    shown = help_of(cli, "token", "create", COLUMNS="80")
    assert "…" not in shown
    assert "机顶盒能访问到的地址" in re.sub(r"[\s│]+", "", shown)
