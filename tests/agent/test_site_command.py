"""`mediasrv-site` speaks the operator's language: with the line down, one sentence a village
administrator can act on (no `(server: None)`); each foreseeable mistake one line and exit 2; typer's
usage errors too; the sync summary and the status in Chinese unless asked for English."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from mediasrv.agent.cli import _summary, app
from mediasrv.agent.layout import AgentConfig, Layout
from mediasrv.agent.reports import Delivery
from mediasrv.agent.sync import SyncResult
from mediasrv.agent.words import OPERATOR
from tests.servers import free_port


@pytest.mark.parametrize(
    ("args", "said"), [((), "暂时连不上县里的服务器"), (("--lang", "en"), "The county's server")]
)
def test_sync_with_the_server_down(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    layout = Layout(tmp_path / "site")
    layout.ensure()
    server = f"http://127.0.0.1:{free_port()}"
    layout.save_config(AgentConfig(server=server, site_id=1, site_code="hb-xt-0012", public_key="k"))
    layout.save_token("t")
    r = CliRunner().invoke(
        app, [*args, "sync", "--dir", str(layout.root), "--attempts", "1"], env={"LANG": None, "LC_ALL": None}
    )
    assert r.exit_code == 2, r.output
    assert said in r.output and server in r.output and "server: None" not in r.output, r.output
    assert "Traceback" not in r.output


CJK = re.compile(r"[\u4e00-\u9fff]")
ENV: dict[str, str | None] = {"LANG": None, "LC_ALL": None, "LC_MESSAGES": None, "MEDIASRV_SITE_DIR": None}


def one_line(r: Result, code: int = 2) -> str:
    """The one line the command printed, checked to be no traceback."""
    assert r.exit_code == code and "Traceback" not in r.output, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1, r.output
    return lines[0]


def site(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=ENV)


def test_a_folder_that_is_no_site_folder(tmp_path: Path) -> None:
    for command in ("sync", "status", "daemon"):
        line = one_line(site(command, "--dir", str(tmp_path)))
        assert line.startswith(f"{tmp_path} 还不是站点目录") and f"--dir {tmp_path}" in line, line
    english = one_line(site("--lang", "en", "sync", "--dir", str(tmp_path)))
    assert (
        english
        == f"{tmp_path} is not set up: run `mediasrv-site init --server URL --token T --dir {tmp_path}`."
    )


def test_a_damaged_config_is_said_not_thrown(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_text("{", encoding="utf-8")
    assert "已损坏" in one_line(site("status", "--dir", str(tmp_path)))


def test_no_such_bundle_folder_and_a_bad_bundle(tmp_path: Path) -> None:
    missing = tmp_path / "usb"
    assert one_line(site("import", str(missing), "--dir", str(tmp_path / "site"))).startswith(
        "找不到离线包目录"
    )
    missing.mkdir()
    line = one_line(site("import", str(missing), "--dir", str(tmp_path / "site"), "--public-key", "k"))
    assert "不是完整的离线包" in line and CJK.search(line), line


def session_answering(status: int, body: dict[str, Any]) -> Callable[..., httpx.Client]:
    real = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return real(**kwargs, transport=httpx.MockTransport(lambda _: httpx.Response(status, json=body)))

    return client


@pytest.mark.parametrize(
    ("status", "body", "said", "english"),
    [
        (401, {"error": "unauthorized"}, "不接受这个令牌", "refused the token"),
        (
            200,
            {"role": "producer", "username": "wangfang", "site_id": None},
            "不是站点的令牌",
            "not to a site",
        ),
        (404, {}, "可能不是县里的 mediasrv 服务器", "is this a mediasrv server"),
    ],
)
def test_init_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: dict[str, Any],
    said: str,
    english: str,
) -> None:
    monkeypatch.setattr(httpx, "Client", session_answering(status, body))
    args = ("init", "--server", "http://county", "--token", "t", "--dir", str(tmp_path))
    assert said in one_line(site(*args))
    assert english in one_line(site("--lang", "en", *args))


def test_usage_errors_in_the_operator_s_language() -> None:
    assert one_line(site("init", "--server", "http://county")).startswith("缺少选项 --token。运行 ")
    assert "--help" in one_line(site("init", "--server", "http://county"))
    assert one_line(site("--lang", "fr", "status")).startswith("--lang 只能是 zh、en 之一。")
    assert one_line(site("sync", "--attempts", "0")).startswith("--attempts 要在 1 到 20 之间。")
    assert one_line(site("--lang", "en", "sync", "--atempts", "3")).startswith(
        "There is no option --atempts; did you mean --attempts?"
    )


def test_the_unexpected_is_one_said_line_and_debug_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Layout) -> AgentConfig:
        raise RuntimeError("boom")

    monkeypatch.setattr(Layout, "load_config", broken)
    r = site("status", "--dir", str(tmp_path))
    assert (
        r.exit_code == 1 and "Traceback" not in r.output and "同步没有完成" in r.output and "boom" in r.output
    )
    assert isinstance(site("--debug", "status", "--dir", str(tmp_path)).exception, RuntimeError)


def test_the_sync_summary_in_chinese() -> None:
    result = SyncResult(version=3, target_version=4, files_fetched=2, bytes_downloaded=3 * 1024 * 1024)
    result.files_missing, result.bytes_missing = 1, 2048
    delivery = Delivery(sent=0, queued=2, ack=None, error="down")
    OPERATOR[0] = "zh"
    try:
        said = _summary(result, delivery)
    finally:
        OPERATOR[0] = "zh"
    assert (
        said == "节目单版本 3（服务器上是 4）；下载了 2 个文件（3.0 MiB）；还缺 1 个文件（2.0 KiB）；"
        "状态报告暂存（2 份待发）"
    )
    OPERATOR[0] = "en"
    try:
        assert _summary(result, delivery).startswith(
            "version 3 (server: 4); 2 files fetched (3.0 MiB downloaded)"
        )
    finally:
        OPERATOR[0] = "zh"


def test_status_in_chinese_with_beijing_time(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "site")
    layout.ensure()
    layout.save_config(AgentConfig(server="http://county", site_id=1, site_code="hb-xt-0012", public_key="k"))
    state = layout.load_state()
    state.last_sync = {"finished_at": "2026-03-01T02:00:00+00:00", "complete": True, "files_fetched": 3}
    layout.save_state(state)
    r = site("status", "--dir", str(layout.root))
    assert r.exit_code == 0, r.output
    assert "站点 hb-xt-0012（编号 1），服务器 http://county" in r.output and "还没有节目单" in r.output
    assert "上次同步 2026-03-01 10:00:00（北京时间）：已完成" in r.output
