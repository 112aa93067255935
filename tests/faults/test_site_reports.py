"""Faults a site reports from its site view, as its agent delivers them (POST
/api/v1/sites/{id}/fault-reports): kept once by the form's id, one open fault per site and kind, a
site reports for itself only, and the heartbeat's answer carries what became of them. Webhooks that
would reach inside the centre are refused, when added and when sent."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.faults import loop, notify
from mediasrv.faults.models import ContactKind, Delivery, Fault, FaultKind, FaultReport
from mediasrv.faults.service import add_contact
from mediasrv.kit.caller import Role
from mediasrv.kit.errors import MediaError
from mediasrv.sites.models import Site
from tests.fixtures import ACTOR, make_token

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"


def _site(db: Database, code: str) -> tuple[int, dict[str, str]]:
    headers = make_token(db, Role.SITE, code)
    with db.session_scope() as s:
        site = s.scalars(select(Site).where(Site.code == code)).one()
        site.region, site.name = XITANG, f"{code}活动室"
        return site.id, headers


def _report(kind: str = "tv_broken", note: str = "电视不亮", **more: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "kind": kind, "note": note, "reported_at": utcnow().isoformat()} | more


def _post(client: TestClient, site_id: int, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/sites/{site_id}/fault-reports", headers=headers, json=body)


def test_a_report_delivered_twice_is_one_fault_and_a_second_report_joins_it(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    site, headers = _site(db, "xt-1")
    first = _report(reported_at=(utcnow() - timedelta(hours=5)).isoformat())
    made = _post(client, site, headers, first)
    assert made.status_code == 201, made.text
    again = _post(client, site, headers, first)  # the answer was lost on the line: sent again
    assert again.status_code == 200 and again.json()["fault_id"] == made.json()["fault_id"]
    assert again.json()["first"] is False and again.json()["received_at"] == made.json()["received_at"]
    second = _post(client, site, headers, _report(note="换了插座也不行"))
    assert second.status_code == 201 and second.json()["fault_id"] == made.json()["fault_id"]
    other_kind = _post(client, site, headers, _report(kind="line_down", note=""))
    assert other_kind.status_code == 201 and other_kind.json()["fault_id"] != made.json()["fault_id"]
    faults = client.get(f"/api/v1/sites/{site}/faults", headers=admin).json()["items"]
    tv = next(f for f in faults if f["kind"] == "tv_broken")
    assert len(faults) == 2 and tv["reported"] and "电视不亮" in tv["note"] and "换了插座也不行" in tv["note"]
    assert tv["evidence"]["reports"] == 2 and tv["evidence"]["source"] == "site"
    # A report made earlier but delivered later (a PC offline for days) moves the first, not the last.
    earlier = (utcnow() - timedelta(hours=8)).isoformat()
    assert _post(client, site, headers, _report(note="", reported_at=earlier)).status_code == 201
    evidence = client.get(f"/api/v1/faults/{tv['id']}", headers=admin).json()["evidence"]
    assert evidence["reports"] == 3 and evidence["first_reported_at"] == earlier.replace("Z", "+00:00")
    assert evidence["last_reported_at"] == tv["evidence"]["last_reported_at"] > first["reported_at"]
    with db.session_scope() as s:
        assert len(s.scalars(select(FaultReport)).all()) == 4
        fault = s.get_one(Fault, tv["id"])
        # It started when the member reported it (the site's clock), not when the line came back.
        assert timedelta(hours=4, minutes=59) < utcnow() - fault.opened_at < timedelta(hours=5, minutes=1)
    # Closed by a person: the next report of that kind opens a new fault.
    closed = client.post(f"/api/v1/faults/{tv['id']}/close", headers=admin, json={"note": "换了电视"})
    assert closed.status_code == 200
    assert _post(client, site, headers, first).json()["fault_id"] == tv["id"]  # still the same report
    reopened = _post(client, site, headers, _report())
    assert reopened.status_code == 201 and reopened.json()["fault_id"] != tv["id"]


def test_a_site_reports_for_itself_only_and_what_it_sends_is_checked(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    site, headers = _site(db, "xt-1")
    other, _ = _site(db, "dz-1")
    refused = _post(client, other, headers, _report())
    assert refused.status_code == 403 and "本站点" in refused.json()["message"]
    assert _post(client, site, admin, _report()).status_code == 403  # an administrator is not a site
    assert _post(client, 999_999, headers, _report()).status_code == 404
    assert _post(client, site, headers, _report(kind="silent")).status_code == 400  # the sweep's
    assert _post(client, site, headers, _report() | {"id": "not-an-id"}).status_code == 422
    assert _post(client, site, headers, _report(note="x" * 2001)).status_code == 422
    body = _report()
    assert _post(client, site, headers, body).status_code == 201
    taken = _post(client, site, headers, body | {"kind": "box_lost"})  # another form's id
    assert taken.status_code == 409
    # The body is capped before it is read: far less than other JSON routes take.
    big = client.post(
        f"/api/v1/sites/{site}/fault-reports",
        headers=headers | {"Content-Type": "application/json"},
        content=b'{"note": "' + b"x" * (20 * 1024) + b'"}',
    )
    assert big.status_code == 413
    assert client.get("/api/v1/faults", headers=admin).json()["total"] == 1


def test_the_heartbeat_answer_tells_the_site_what_became_of_its_faults(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    site, headers = _site(db, "xt-1")
    other, other_headers = _site(db, "dz-1")
    made = _post(client, site, headers, _report()).json()
    _post(client, other, other_headers, _report(kind="box_lost"))
    beat = {
        "manifest_version": None,
        "bytes_missing": 0,
        "files_missing": 0,
        "files_failed": 0,
        "agent_version": "1.0.0",
    }
    answer = client.post(f"/api/v1/sites/{site}/heartbeat", headers=headers, json=beat)
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert [(f["id"], f["kind"], f["closed_at"]) for f in ack["faults"]] == [
        (made["fault_id"], "tv_broken", None)
    ]
    client.post(f"/api/v1/faults/{made['fault_id']}/close", headers=admin, json={"note": "换了电视"})
    ack = client.post(f"/api/v1/sites/{site}/heartbeat", headers=headers, json=beat).json()
    (closed,) = ack["faults"]
    assert closed["closed_at"] is not None and closed["closed_note"] == "换了电视"


# --- webhooks that would reach inside ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "https://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.100.100.200/latest/meta-data/",
        "http://0.0.0.0/hook",
        "json://127.0.0.1:9/hook",
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_when_added(url: str) -> None:
    with pytest.raises(MediaError) as caught:
        notify.check_webhook(url, internal_ok=False)
    assert caught.value.key == "faults.webhook_internal" and "内部地址" in caught.value.render("zh")
    notify.check_webhook(url, internal_ok=True)  # an intranet robot, when the setting allows it


def test_public_and_robot_webhooks_pass() -> None:
    for url in (
        "https://8.8.8.8/hook",
        "https://oapi.dingtalk.com/robot/send?access_token=abc",  # not resolved when added offline
        "wecombot://key",
        "dingtalk://token/",
    ):
        notify.check_webhook(url, internal_ok=False)


def test_the_api_refuses_an_internal_webhook_in_chinese(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/fault-contacts", headers=admin, json={"region": "河北省", "webhook": "http://127.0.0.1/x"}
    )
    assert r.status_code == 400 and "内部地址" in r.json()["message"], r.text


def test_a_name_that_comes_to_point_inside_fails_at_send_and_stays_pending(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, _ = _site(db, "xt-1")
    with db.session_scope() as s:
        add_contact(s, actor=ACTOR, region=XITANG, email=None, webhook="https://hooks.example.org/robot")
        s.add(Fault(site_id=site, kind=FaultKind.TV_BROKEN, note="电视不亮"))

    def inside(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", inside)  # DNS now answers an intranet address
    done = loop.notify_and_deliver(db, settings, now=utcnow() + timedelta(minutes=1))
    assert (done.notices, done.sent, done.failed) == (1, 0, 1)
    with db.session_scope() as s:
        (delivery,) = s.scalars(select(Delivery)).all()
        assert delivery.kind is ContactKind.WEBHOOK and delivery.sent_at is None
        assert "内部地址 10.0.0.5" in delivery.last_error
