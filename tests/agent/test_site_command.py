"""`mediasrv-site` with the line down: one sentence a village administrator can act on, in Chinese
unless asked for English; no `(server: None)`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediasrv.agent.cli import app
from mediasrv.agent.layout import AgentConfig, Layout
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
