"""`mediasrv schedule list|add|remove`: the API's rules and Chinese refusals, from the command line."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mediasrv.db import Database
from tests.cli.test_mistakes import chinese, run
from tests.cli.test_mistakes import env as env  # the command line's fixture
from tests.fixtures import ReadyAsset, publish_programme


def test_blocks_from_the_command_line(
    env: dict[str, str | None],
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    film = publish_programme(client, producer, admin, ready_asset(producer), title="乡村振兴")
    county = "河北省/邢台市/信都区"
    made = run(env, "schedule", "add", county, "3", "19:30", "21:00", "周三学习", "--programme", film)
    assert made.exit_code == 0, made.output
    assert "已为“河北省/邢台市/信都区”添加播出时段" in made.output
    listed = run(env, "schedule", "list", "河北省")
    [line] = listed.output.splitlines()
    block_id, region, weekday, times, source, title = line.split("\t")
    assert (region, weekday, times, source, title) == (county, "3", "19:30-21:00", "programmes", "周三学习")
    clash = run(env, "schedule", "add", county, "3", "20:00", "22:00", "又一个", "--category", "党史教育")
    assert "重叠" in chinese(clash) and "周三学习" in clash.stderr
    bad = run(env, "schedule", "add", county, "4", "7点", "9:00", "早间", "--category", "党史教育")
    assert "“7点”的格式不对" in chinese(bad)
    assert "只选一种" in chinese(run(env, "schedule", "add", county, "4", "07:00", "09:00", "早间"))
    assert run(env, "schedule", "remove", block_id).exit_code == 0
    assert run(env, "schedule", "list").output == ""
    log = client.get("/api/v1/audit", headers=admin, params={"target_type": "schedule_block"}).json()
    assert [e["action"] for e in log["items"]] == ["schedule_block.delete", "schedule_block.create"]
