"""Faults reported on the site view (报告故障, mediasrv.agent.faults): kept in their outbox through a line
outage and delivered once, to the centre's fault register; what the centre did comes back with the
heartbeat's answer and shows on the site view. Posts come from the site view only, and are checked."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as LocalClient

from mediasrv.agent import faults
from mediasrv.agent.faults import FaultSender
from mediasrv.agent.layout import Layout
from mediasrv.agent.serve import create_app
from tests.agent.test_records import LAN, SITE_VIEW, LosesAnswers, Site, unreachable


@pytest.fixture
def site(client: TestClient, db: Any, admin: dict[str, str]) -> Site:
    return Site(client, db, admin)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "mediasrv-site")


def report(
    local: LocalClient, kind: str = "tv_broken", note: str = "电视不亮了", **more: Any
) -> httpx.Response:
    body = {"id": uuid.uuid4().hex, "kind": kind, "note": note} | more
    return local.post("/faults", json=body, headers=SITE_VIEW)


def centre_faults(site: Site) -> list[dict[str, Any]]:
    r = site.client.get(f"/api/v1/sites/{site.id}/faults", headers=site.admin, params={"open_only": False})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def sender(site: Site, layout: Layout, client: httpx.Client | None = None) -> FaultSender:
    if client is None:
        site.client.headers.update(site.headers)
        client = site.client
    return FaultSender(layout, client, site.id)


def test_a_fault_reported_during_an_outage_reaches_the_centre_once(
    client: TestClient, layout: Layout, site: Site
) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        made = report(local)
        assert made.status_code == 201, made.text
        body = {"id": made.json()["id"], "kind": "tv_broken", "note": "电视不亮了"}
        assert local.post("/faults", json=body, headers=SITE_VIEW).status_code == 200  # a second OK
        assert [r["state"] for r in local.get("/faults").json()["reports"]] == ["pending"]

    down = sender(site, layout, unreachable(site)).deliver()
    assert (down.sent, down.queued) == (0, 1) and down.error and "unreachable" in down.error
    # The line comes back, but the answer is lost on the way: the centre has it, the site does not know.
    site.client.headers.update(site.headers)
    lost = sender(site, layout, cast(httpx.Client, LosesAnswers(client))).deliver()
    assert (lost.sent, lost.queued) == (0, 1)
    up = sender(site, layout).deliver()
    assert (up.sent, up.refused, up.queued, up.error) == (1, 0, 0, None)
    assert sender(site, layout).deliver().sent == 0
    (fault,) = centre_faults(site)
    assert (fault["kind"], fault["note"], fault["evidence"]["reports"]) == ("tv_broken", "电视不亮了", 1)

    with LocalClient(create_app(layout), base_url=LAN) as local:  # the agent restarted
        (shown,) = local.get("/faults").json()["reports"]
        assert (shown["state"], shown["fault_id"], shown["closed_at"]) == ("delivered", fault["id"], None)
        # The county repairs it; the next heartbeat's answer tells the site, which shows what was done.
        closed = client.post(
            f"/api/v1/faults/{fault['id']}/close", headers=site.admin, json={"note": "换了新电视"}
        )
        assert closed.status_code == 200
        beat = {"manifest_version": None, "bytes_missing": 0, "files_missing": 0, "files_failed": 0,
                "agent_version": "1.0.0"}  # fmt: skip
        ack = client.post(f"/api/v1/sites/{site.id}/heartbeat", headers=site.headers, json=beat).json()
        faults.remember_centre(layout, ack)
        listed = local.get("/faults").json()
        (shown,) = listed["reports"]
        assert shown["closed_at"] is not None and shown["closed_note"] == "换了新电视"
        assert listed["centre_at"] and listed["centre_faults"] == []


def test_a_refused_report_stays_with_the_centres_reason(layout: Layout, site: Site) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        assert report(local).status_code == 201
        refusing = httpx.Client(
            base_url="http://central",
            transport=httpx.MockTransport(
                lambda _: httpx.Response(409, json={"error": "conflict", "message": "编号已被使用"})
            ),
        )
        done = sender(site, layout, refusing).deliver()
        assert (done.sent, done.refused, done.queued) == (0, 1, 0)
        (shown,) = local.get("/faults").json()["reports"]
        assert (shown["state"], shown["message"]) == ("refused", "编号已被使用")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"kind": "silent"}, "请选择故障类型"),
        ({"kind": None}, "请选择故障类型"),
        ({"kind": "other", "note": "  "}, "选择“其他”时"),
        ({"note": "坏" * 2001}, "最多 2000 个字"),
        ({"note": ["坏"]}, "应是文字"),
        ({"note": "a\x00b"}, "控制字符"),
        ({"id": "A" * 32}, "报告编号不对"),
        ({"id": None}, "报告编号不对"),
    ],
    ids=[
        "detected-kind",
        "no-kind",
        "other-without-note",
        "long-note",
        "note-list",
        "control",
        "id-upper",
        "no-id",
    ],
)
def test_a_mistake_is_said_at_the_site(layout: Layout, change: dict[str, Any], says: str) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        body = {"id": uuid.uuid4().hex, "kind": "tv_broken", "note": ""} | change
        r = local.post("/faults", json=body, headers=SITE_VIEW)
        assert r.status_code == 400 and says in r.json()["message"], r.text
    assert faults.Outbox(layout).all() == []


def test_posts_from_elsewhere_or_too_large_are_refused(layout: Layout) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        body = {"id": uuid.uuid4().hex, "kind": "line_down", "note": ""}
        elsewhere = local.post("/faults", json=body, headers={"Origin": "http://evil.example"})
        assert elsewhere.status_code == 403 and "本站点页面" in elsewhere.json()["message"]
        plain = local.post(
            "/faults", content=b"kind=line_down", headers={**SITE_VIEW, "Content-Type": "text/plain"}
        )
        assert plain.status_code == 403
        big = local.post("/faults", json=body | {"note": "x" * 17_000}, headers=SITE_VIEW)
        assert big.status_code == 413 and "16 KB" in big.json()["message"]
    assert faults.Outbox(layout).all() == []


def test_the_site_view_offers_the_report_form_in_chinese(layout: Layout) -> None:
    with LocalClient(create_app(layout), base_url=LAN) as local:
        page = local.get("/").text
    for text in ("报告故障", "电视坏了", "机顶盒丢失或损坏", "网络不通", "其他", "id='fault-form'"):
        assert text in page
