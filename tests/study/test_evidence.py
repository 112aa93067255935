"""Automatic viewing evidence on the server: distinct segments per player, the most one player saw,
players counted, re-sent batches harmless, Beijing days, who may post, and compliance showing the
agent's and the central delivery's minutes beside the logbook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mediasrv import migrations
from mediasrv.catalog.models import Programme
from mediasrv.catalog.service import seed_categories
from mediasrv.db import Database
from mediasrv.ingest.models import Asset
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.taxonomy import CATEGORIES
from mediasrv.protocol.viewing import media_segments, player_id
from mediasrv.sites.registry import create_site
from mediasrv.study import evidence
from mediasrv.study.evidence import Source, View
from tests.fixtures import ACTOR, ReadyAsset, publish_programme
from tests.servers import PostgresServer
from tests.study.test_lists import site_with

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"
TV, PHONE = "a" * 16, "b" * 16


@pytest.fixture
def film(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> str:
    """A published programme whose film lasts ten minutes (100 segments of 6 s)."""
    pid = publish_programme(client, producer, admin, ready_asset(producer), title="党史学习")
    with db.session_scope() as s:
        asset_id = client.get(f"/api/v1/programmes/{pid}", headers=admin).json()["asset_id"]
        s.get_one(Asset, asset_id).duration_seconds = 600
    return pid


def post(client: TestClient, site: tuple[int, dict[str, str]], *views: dict[str, Any]) -> Any:
    r = client.post(f"/api/v1/sites/{site[0]}/viewing", headers=site[1], json={"views": list(views)})
    assert r.status_code == 200, r.text
    return r.json()


def view(programme: str, day: str, player: str, segments: range | list[int]) -> dict[str, Any]:
    return {"programme_id": programme, "day": day, "player": player, "segments": [[n, 6.0] for n in segments]}


def daily(client: TestClient, admin: dict[str, str], site_id: int, month: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/sites/{site_id}/viewing", headers=admin, params={"month": month})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def test_distinct_segments_per_player_and_the_most_one_player_saw(
    client: TestClient, db: Database, admin: dict[str, str], film: str
) -> None:
    xitang = site_with(client, db, admin, "xitang", XITANG)
    first = post(
        client, xitang, view(film, "2026-11-20", TV, range(0, 30)), view(film, "2026-11-20", PHONE, [0, 1])
    )
    assert (first["views"], first["added"], first["unknown"]) == (2, 32, [])
    # The TV seeks back over segments it had (counted once) and goes on: 30 + 20 distinct segments.
    again = post(client, xitang, view(film, "2026-11-20", TV, range(20, 50)))
    assert again["added"] == 20
    # The same batch re-sent (its answer was lost on the way): nothing changes.
    assert post(client, xitang, view(film, "2026-11-20", TV, range(20, 50)))["added"] == 0
    rows = daily(client, admin, xitang[0], "2026-11")
    assert [(r["day"], r["programme_id"], r["source"], r["minutes"], r["players"]) for r in rows] == [
        ("2026-11-20", film, "agent", 5.0, 2)  # 50 segments of 6 s on the TV; the phone adds no minutes
    ]
    assert rows[0]["title"] == "党史学习"
    assert daily(client, admin, xitang[0], "2026-10") == []


def test_unknown_programmes_are_ignored_and_bad_batches_refused(
    client: TestClient, db: Database, admin: dict[str, str], film: str
) -> None:
    xitang = site_with(client, db, admin, "xitang", XITANG)
    got = post(
        client, xitang, view("no-such-programme", "2026-11-20", TV, [1]), view(film, "2026-11-20", TV, [1])
    )
    assert (got["views"], got["added"], got["unknown"]) == (1, 1, ["no-such-programme"])
    for bad in (
        view(film, "2026-11-20", "192.168.1.20", [1]),  # an address in clear is not a player hash
        view(film, "2026-11-20", TV, [-1]),
        {**view(film, "2026-11-20", TV, [1]), "segments": [[1, 0]]},
    ):
        r = client.post(f"/api/v1/sites/{xitang[0]}/viewing", headers=xitang[1], json={"views": [bad]})
        assert r.status_code == 422, bad


def test_a_site_posts_and_reads_only_its_own(
    client: TestClient, db: Database, admin: dict[str, str], film: str
) -> None:
    xitang = site_with(client, db, admin, "xitang", XITANG)
    taiyuan = site_with(client, db, admin, "taiyuan", "山西省/太原市/小店区")
    body = {"views": [view(film, "2026-11-20", TV, [1])]}
    assert client.post(f"/api/v1/sites/{xitang[0]}/viewing", headers=taiyuan[1], json=body).status_code == 403
    # Evidence is the agent's word: not even an administrator writes it.
    assert client.post(f"/api/v1/sites/{xitang[0]}/viewing", headers=admin, json=body).status_code == 403
    assert client.get(f"/api/v1/sites/{xitang[0]}/viewing", headers=taiyuan[1]).status_code == 403
    assert client.get(f"/api/v1/sites/{xitang[0]}/viewing", headers=xitang[1]).status_code == 200
    assert daily(client, admin, xitang[0], "2026-11") == []


def test_today_in_chinas_and_player_ids() -> None:
    # 16:30 UTC on 30 November is 00:30 on 1 December in Beijing: December's evidence.
    assert today_in_china(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert today_in_china(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == date(2026, 11, 30)
    tv = player_id(7, "192.168.1.20", "Mozilla/5.0 (Linux; STB)")
    assert len(tv) == 16 and "192.168" not in tv
    assert tv == player_id(7, "192.168.1.20", "Mozilla/5.0 (Linux; STB)")
    assert tv != player_id(8, "192.168.1.20", "Mozilla/5.0 (Linux; STB)")  # another site
    assert tv != player_id(7, "192.168.1.21", "Mozilla/5.0 (Linux; STB)")  # another box
    assert tv != player_id(7, "192.168.1.20", "VLC/3.0")  # another player on the same PC


def test_media_playlist_numbers_and_seconds() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_0.ts\n#EXTINF:2.5,\nseg_1.ts\n#EXT-X-ENDLIST\n"
    )
    assert media_segments(text) == [("seg_0.ts", 6.0), ("seg_1.ts", 2.5)]


def test_compliance_shows_both_sources_beside_the_logbook(
    client: TestClient, db: Database, admin: dict[str, str], film: str
) -> None:
    xitang = site_with(client, db, admin, "xitang", XITANG)
    listed = client.post(
        "/api/v1/study-lists",
        headers=admin,
        json={"title": "11月必学", "starts_on": "2026-11-01", "ends_on": "2026-11-30", "expected_hours": 1,
              "regions": ["河北省"], "programme_ids": [film]},
    ).json()  # fmt: skip
    assert client.post(f"/api/v1/study-lists/{listed['id']}/publish", headers=admin).status_code == 200
    # The logbook says 3 minutes; the LAN origin saw half on the 10th and the rest on the 12th, and
    # the central delivery saw a phone play one minute on 31 October's Beijing night (outside).
    r = client.post(
        f"/api/v1/sites/{xitang[0]}/sessions",
        headers=xitang[1],
        json={"id": str(uuid.uuid4()), "started_at": "2026-11-10T19:00:00+08:00", "minutes": 60,
              "members_present": 8, "programmes": [{"programme_id": film, "minutes": 3}]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    post(
        client,
        xitang,
        view(film, "2026-11-10", TV, range(0, 50)),
        view(film, "2026-11-12", TV, range(50, 95)),
    )
    with db.session_scope() as s:
        evidence.record(
            s, xitang[0], Source.CENTRAL, [View(film, date(2026, 11, 5), PHONE, {0: 30.0, 1: 30.0})]
        )
        evidence.record(s, xitang[0], Source.CENTRAL, [View(film, date(2026, 10, 31), PHONE, {5: 60.0})])

    got = client.get(f"/api/v1/sites/{xitang[0]}/compliance", headers=xitang[1], params={"month": "2026-11"})
    assert got.status_code == 200, got.text
    [lst] = got.json()["lists"]
    [p] = lst["programmes"]
    # Side by side: the logbook's partly (3 of 10 minutes), the agent's 9.5, the central 1.0.
    assert (p["state"], p["watched_minutes"], p["agent_minutes"], p["central_minutes"]) == (
        "partly",
        3.0,
        9.5,
        1.0,
    )
    assert p["evidenced"] and lst["evidenced"] == 1 and (lst["fully"], lst["partly"]) == (0, 1)

    # Shown twice, it still counts once: capped at the duration.
    post(client, xitang, view(film, "2026-11-20", PHONE, range(0, 100)))
    again = client.get(
        f"/api/v1/sites/{xitang[0]}/compliance", headers=admin, params={"month": "2026-11"}
    ).json()
    assert again["lists"][0]["programmes"][0]["agent_minutes"] == 10.0

    roll = client.get("/api/v1/compliance", headers=admin, params={"month": "2026-11", "level": 1}).json()
    assert (roll["totals"]["required"], roll["totals"]["fully"], roll["totals"]["evidenced"]) == (1, 0, 1)
    assert roll["totals"]["evidenced_percent"] == 100.0


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of each kind the server runs on."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'e.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    db = Database(url)
    migrations.upgrade(db)
    yield db
    db.dispose()


def test_merging_on_both_backends(backend: Database) -> None:
    with backend.session_scope() as s:
        seed_categories(s)
        site = create_site(s, actor=ACTOR, code="xitang", name="西塘村", region=XITANG)
        film = Programme(title="党史学习", category_code=CATEGORIES[0][0])
        s.add(film)
        s.flush()
        site_id, pid = site.id, film.id
    day = date(2026, 11, 20)
    with backend.session_scope() as s:
        done = evidence.record(
            s, site_id, Source.AGENT, [View(pid, day, TV, {0: 6.0, 1: 6.0}), View("gone", day, TV, {0: 6.0})]
        )
        assert (done.views, done.added, done.unknown) == (1, 2, ["gone"])
    with backend.session_scope() as s:  # the batch again, and more: only the new segment counts
        assert (
            evidence.record(s, site_id, Source.AGENT, [View(pid, day, TV, {0: 6.0, 1: 6.0, 300: 2.5})]).added
            == 1
        )
        evidence.record(s, site_id, Source.CENTRAL, [View(pid, day, TV, {7: 6.0})])
    with backend.session_scope() as s:
        rows = evidence.daily(s, site_id, first=day, last=day)
        assert [(r.source, r.minutes, r.players) for r in rows] == [
            (Source.AGENT, 0.2, 1),
            (Source.CENTRAL, 0.1, 1),
        ]
        seen = evidence.watched(s, first=day, last=day, programme_ids=[pid])
        assert seen == {(site_id, pid, Source.AGENT): 14.5 / 60, (site_id, pid, Source.CENTRAL): 0.1}
