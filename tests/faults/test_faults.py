"""The fault loop end to end on loopback: the sweep opens and closes faults as time moves (an injected
clock, never a sleep), a real SMTP server (aiosmtpd) receives one Chinese digest per region, a real HTTP
receiver gets the webhook JSON, escalation happens once, an unreachable mail server leaves the digest
pending until it is delivered later; reported faults, the register and the fleet's fault rate."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.faults import detect, loop, notify
from mediasrv.faults.limits import Limits
from mediasrv.faults.models import ContactKind, Delivery, Fault, FaultKind, Notice, NoticeKind
from mediasrv.faults.service import add_contact, set_limits
from mediasrv.fleet import status as fleet
from mediasrv.kit.caller import Caller, Role
from mediasrv.protocol.china import today_in_china
from mediasrv.sites.models import Site
from mediasrv.sites.registry import create_site
from tests.cli.test_mistakes import env as env  # the command line's fixture
from tests.cli.test_mistakes import run
from tests.fixtures import ACTOR

COUNTY = "河北省/邢台市/信都区"
XITANG = f"{COUNTY}/西黄村镇/西塘村"
DONGZHUANG = f"{COUNTY}/西黄村镇/东庄村"
NANHE = "河北省/邢台市/南和区/和阳镇/北关村"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the loopback SMTP server received: one parsed message per DATA."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def texts(self) -> list[str]:
        out = []
        for _, m in self.messages:
            part = m.get_body(("plain",))
            assert part is not None
            out.append(str(m["Subject"]) + "\n" + part.get_content())
        return out


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


def _start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[Inbox]:
    controller, inbox = _start_smtp(smtp_port)
    yield inbox
    controller.stop()


@dataclass
class Hook:
    url: str
    bodies: list[dict[str, Any]]


@pytest.fixture
def webhook() -> Iterator[Hook]:
    bodies: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            bodies.append({"path": self.path, **json.loads(self.rfile.read(length))})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Hook(f"http://127.0.0.1:{server.server_port}/robot", bodies)
    server.shutdown()
    server.server_close()


def _mail_settings(settings: Settings, port: int) -> Settings:
    # The loopback webhook receiver is an internal host: allowed here as an intranet robot would be.
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "faults@example.org",
            "fault_webhook_internal": True,
        }
    )  # fmt: skip


def _site(db: Database, code: str, name: str, region: str, *, created: datetime) -> int:
    with db.session_scope() as s:
        site = create_site(s, actor=ACTOR, code=code, name=name, region=region)
        site.created_at = created
        s.flush()
        return site.id


def _beat(db: Database, site_id: int, at: datetime, **report: Any) -> None:
    values: dict[str, Any] = {
        "manifest_version": None, "bytes_missing": 0, "files_missing": 0, "files_failed": 0,
        "failed_paths": [], "free_bytes": 100 * 1024**3, "used_bytes": 1024**3, "agent_version": "0.1.0",
        "address": "10.0.0.1",
    } | report  # fmt: skip
    caller = Caller(role=Role.SITE, name=f"site:{site_id}", via="token", site_id=site_id)
    with db.session_scope() as s:
        fleet.record_heartbeat(s, caller, site_id, fleet.Report(**values), now=at)


def _open(db: Database) -> dict[tuple[int, FaultKind], Fault]:
    with db.session_scope() as s:
        rows = s.scalars(select(Fault).where(Fault.closed_at.is_(None))).all()
        return {(f.site_id, f.kind): f for f in rows}


# --- detection -------------------------------------------------------------------------------------


def test_a_silent_site_opens_a_fault_after_its_limit_and_it_closes_when_the_site_reports(
    db: Database, settings: Settings
) -> None:
    t0 = utcnow()
    site = _site(db, "xt-1", "西塘村活动室", XITANG, created=t0 - timedelta(days=60))
    _beat(db, site, t0)
    loop.sweep(db, settings, now=t0 + timedelta(hours=23))
    assert _open(db) == {}
    loop.sweep(db, settings, now=t0 + timedelta(hours=25))
    (fault,) = _open(db).values()
    assert fault.kind is FaultKind.SILENT and fault.opened_at == t0 + timedelta(hours=25)
    assert fault.evidence["limit_hours"] == 24
    # Still silent: the same fault, seen again; no second one.
    result = loop.sweep(db, settings, now=t0 + timedelta(hours=27))
    assert (result.opened, result.refreshed) == (0, 1)
    _beat(db, site, t0 + timedelta(hours=28))
    result = loop.sweep(db, settings, now=t0 + timedelta(hours=28))
    assert result.closed == 1 and _open(db) == {}
    with db.session_scope() as s:
        closed = s.get(Fault, fault.id)
        assert closed is not None and closed.repair_seconds == 3 * 3600
        assert closed.last_seen_at == t0 + timedelta(hours=27)


def test_a_region_sets_its_own_silence_limit(db: Database, settings: Settings) -> None:
    t0 = utcnow()
    strict = _site(db, "xt-1", "西塘村", XITANG, created=t0 - timedelta(days=60))
    other = _site(db, "nh-1", "北关村", NANHE, created=t0 - timedelta(days=60))
    for site in (strict, other):
        _beat(db, site, t0)
    with db.session_scope() as s:
        set_limits(s, actor=ACTOR, region=COUNTY, silent_hours=6, escalate_hours=None)
    loop.sweep(db, settings, now=t0 + timedelta(hours=7))
    assert set(_open(db)) == {(strict, FaultKind.SILENT)}


def test_one_open_fault_per_site_and_kind_is_the_database_s_rule(db: Database) -> None:
    site = _site(db, "xt-1", "西塘村", XITANG, created=utcnow())
    with db.session_scope() as s:
        s.add(Fault(site_id=site, kind=FaultKind.DISK))
    with pytest.raises(IntegrityError), db.session_scope() as s:
        s.add(Fault(site_id=site, kind=FaultKind.DISK))
    with db.session_scope() as s:  # a closed one does not count
        s.execute(update(Fault).values(closed_at=utcnow()))
        s.add(Fault(site_id=site, kind=FaultKind.DISK))


def _facts(**overrides: Any) -> detect.SiteFacts:
    now = utcnow()
    values: dict[str, Any] = {
        "site_id": 1, "region": XITANG, "created_at": now - timedelta(days=90), "last_seen_at": now,
        "has_manifest": True, "in_sync": True, "over_quota": False, "bytes_missing": 0, "files_missing": 0,
        "files_failed": 0, "failed_paths": [], "free_bytes": 50 * 1024**3, "used_bytes": 1024**3,
        "quota_bytes": None, "agent_version": "0.2.0", "last_complete_day": today_in_china(now),
        "served_recently": True,
    } | overrides  # fmt: skip
    return detect.SiteFacts(**values)


def _kinds(facts: detect.SiteFacts, *, required: bool = True, min_version: str = "0.2.0") -> set[FaultKind]:
    now = utcnow()
    t = detect.Thresholds(3, 2 * 1024**3, 30, min_version, 24, 72)
    limits = Limits({}, {}, 24, 72)
    found = detect.conditions(
        facts, now=now, today=today_in_china(now), limits=limits, t=t, required=required
    )
    return {kind for kind, _ in found}


def test_each_condition_the_heartbeats_tell() -> None:
    today = today_in_china(utcnow())
    assert _kinds(_facts()) == set()
    assert _kinds(_facts(in_sync=False, last_complete_day=today - timedelta(days=2))) == set()
    stalled = _facts(in_sync=False, last_complete_day=today - timedelta(days=4), files_missing=7)
    assert _kinds(stalled) == {FaultKind.SYNC_STALLED}
    assert _kinds(_facts(in_sync=False, last_complete_day=None)) == {FaultKind.SYNC_STALLED}
    assert _kinds(_facts(in_sync=False, has_manifest=False, last_complete_day=None)) == set()
    assert _kinds(_facts(files_failed=2, failed_paths=["a.ts"])) == {FaultKind.FILES_FAILED}
    assert _kinds(_facts(free_bytes=1024**3)) == {FaultKind.DISK}
    assert _kinds(_facts(over_quota=True)) == {FaultKind.DISK}
    assert _kinds(_facts(agent_version="0.1.9")) == {FaultKind.AGENT_OLD}
    assert _kinds(_facts(agent_version="0.10.0")) == set()  # by number: 0.10 is newer than 0.2
    assert _kinds(_facts(agent_version="0.1.0"), min_version="") == set()
    assert _kinds(_facts(served_recently=False)) == {FaultKind.IDLE}
    assert _kinds(_facts(served_recently=False), required=False) == set()
    silent = _facts(last_seen_at=utcnow() - timedelta(days=40), served_recently=False)
    assert _kinds(silent) == {FaultKind.SILENT}  # silent, not idle: it cannot tell what it played
    assert _kinds(_facts(last_seen_at=None, created_at=utcnow() - timedelta(days=2))) == {FaultKind.SILENT}


def test_the_sweep_reads_failed_files_and_disk_from_the_heartbeat(db: Database, settings: Settings) -> None:
    t0 = utcnow()
    site = _site(db, "xt-1", "西塘村", XITANG, created=t0 - timedelta(days=60))
    _beat(db, site, t0, files_failed=3, failed_paths=["v/1.ts"], free_bytes=512 * 1024**2)
    loop.sweep(db, settings, now=t0)
    faults = _open(db)
    assert set(faults) == {(site, FaultKind.FILES_FAILED), (site, FaultKind.DISK)}
    assert faults[site, FaultKind.FILES_FAILED].evidence["paths"] == ["v/1.ts"]
    _beat(db, site, t0 + timedelta(minutes=5))  # repaired
    loop.sweep(db, settings, now=t0 + timedelta(minutes=5))
    assert _open(db) == {}


# --- notification ----------------------------------------------------------------------------------


def _two_silent_sites(db: Database, settings: Settings, t0: datetime) -> tuple[int, int]:
    a = _site(db, "xt-1", "西塘村活动室", XITANG, created=t0 - timedelta(days=60))
    b = _site(db, "dz-1", "东庄村活动室", DONGZHUANG, created=t0 - timedelta(days=60))
    for s in (a, b):
        _beat(db, s, t0)
    loop.sweep(db, settings, now=t0 + timedelta(hours=25))
    return a, b


def test_one_chinese_digest_per_region_by_email_and_webhook(
    db: Database, settings: Settings, smtp: Inbox, smtp_port: int, webhook: Hook
) -> None:
    t0 = utcnow()
    _two_silent_sites(db, settings, t0)
    other = _site(db, "nh-1", "北关村活动室", NANHE, created=t0 - timedelta(days=60))  # not this county's
    with db.session_scope() as s:
        add_contact(s, actor=ACTOR, region=COUNTY, email="zzb@example.org", webhook=None, name="县委组织部")
        add_contact(s, actor=ACTOR, region=COUNTY, email=None, webhook=webhook.url, internal_ok=True)
    done = loop.notify_and_deliver(db, _mail_settings(settings, smtp_port), now=t0 + timedelta(hours=26))
    assert (done.notices, done.sent, done.failed) == (1, 2, 0)
    (rcpt, _), = smtp.messages  # fmt: skip
    assert rcpt == ["zzb@example.org"]
    (text,) = smtp.texts()
    assert "信都区新发现 2 个故障" in text
    assert "西塘村活动室" in text and "东庄村活动室" in text and "失去联系" in text
    assert "北关村活动室" not in text
    (hook,) = webhook.bodies
    assert (
        hook["path"] == "/robot" and "西塘村活动室" in hook["message"] and "东庄村活动室" in hook["message"]
    )
    assert "新发现 2 个故障" in hook["title"]
    # The next run says nothing: both were told; a new fault within the interval waits for the next.
    _beat(db, other, t0)
    loop.sweep(db, settings, now=t0 + timedelta(hours=26))
    with db.session_scope() as s:
        add_contact(s, actor=ACTOR, region="河北省/邢台市", email="city@example.org", webhook=None)
    done = loop.notify_and_deliver(
        db, _mail_settings(settings, smtp_port), now=t0 + timedelta(hours=26, minutes=5)
    )
    assert done.notices == 1 and len(smtp.messages) == 2  # only the city's, for 北关村
    assert "北关村活动室" in smtp.texts()[1] and "西塘村" not in smtp.texts()[1]


@dataclass
class Recorder:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, kind: ContactKind, target: str, title: str, body: str) -> None:
        self.sent.append((target, title, body))


def test_a_fault_open_past_the_limit_escalates_once_to_the_level_above(
    db: Database, settings: Settings
) -> None:
    t0 = utcnow()
    _two_silent_sites(db, settings, t0)
    with db.session_scope() as s:
        add_contact(s, actor=ACTOR, region=COUNTY, email="county@example.org", webhook=None)
        add_contact(s, actor=ACTOR, region="河北省/邢台市", email="city@example.org", webhook=None)
        add_contact(s, actor=ACTOR, region="河北省", email="province@example.org", webhook=None)
    send = Recorder()
    loop.notify_and_deliver(db, settings, now=t0 + timedelta(hours=26), send=send)
    assert [t for t, _, _ in send.sent] == ["county@example.org"]
    loop.notify_and_deliver(db, settings, now=t0 + timedelta(hours=25 + 71), send=send)
    assert len(send.sent) == 1  # not yet past 72 hours
    for hours in (25 + 73, 25 + 80, 25 + 200):
        loop.notify_and_deliver(db, settings, now=t0 + timedelta(hours=hours), send=send)
    assert [t for t, _, _ in send.sent] == ["county@example.org", "city@example.org"]
    _, title, body = send.sent[1]
    assert "故障升级" in title and "2 个故障" in title and "西塘村活动室" in body and "时限 72 小时" in body
    with db.session_scope() as s:
        kinds = [n.kind for n in s.scalars(select(Notice).order_by(Notice.id))]
    assert kinds == [NoticeKind.DIGEST, NoticeKind.ESCALATION]


def test_an_unreachable_mail_server_leaves_the_digest_pending_and_it_goes_out_later(
    db: Database, settings: Settings, client: TestClient, admin: dict[str, str], smtp_port: int
) -> None:
    t0 = utcnow()
    _two_silent_sites(db, settings, t0)
    with db.session_scope() as s:
        add_contact(s, actor=ACTOR, region=COUNTY, email="zzb@example.org", webhook=None)
    mail = _mail_settings(settings, smtp_port)  # nothing listens there yet
    done = loop.notify_and_deliver(db, mail, now=t0 + timedelta(hours=26))
    assert (done.notices, done.sent, done.failed) == (1, 0, 1)
    (contact,) = client.get("/api/v1/fault-contacts", headers=admin).json()
    assert contact["pending"] == 1 and contact["last_error"], contact
    # Not due again before its back-off; then the server is up and the same digest goes out, once.
    assert loop.notify_and_deliver(db, mail, now=t0 + timedelta(hours=26, seconds=30)).failed == 0
    controller, inbox = _start_smtp(smtp_port)
    try:
        done = loop.notify_and_deliver(db, mail, now=t0 + timedelta(hours=26, minutes=2))
        assert (done.notices, done.sent) == (0, 1)
        assert "西塘村活动室" in inbox.texts()[0] and "东庄村活动室" in inbox.texts()[0]
    finally:
        controller.stop()
    with db.session_scope() as s:
        (delivery,) = s.scalars(select(Delivery)).all()
        assert delivery.attempts == 2 and delivery.sent_at is not None
    assert client.get("/api/v1/fault-contacts", headers=admin).json()[0]["pending"] == 0


def test_webhook_urls_apprise_reads() -> None:
    assert notify.webhook_url("http://10.0.0.9:8080/hook") == "json://10.0.0.9:8080/hook"
    assert notify.webhook_url("https://ops.example.org/hook") == "jsons://ops.example.org/hook"
    assert notify.webhook_url("https://oapi.dingtalk.com/robot/send?access_token=abc") == "dingtalk://abc/"
    wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
    assert notify.webhook_url(wecom) == wecom
    with pytest.raises(Exception, match="not a WeCom"):
        notify.webhook_url("ftp://x")


# --- the API -----------------------------------------------------------------------------------------


def test_a_reported_fault_is_closed_by_a_person_only(
    client: TestClient, db: Database, settings: Settings, admin: dict[str, str]
) -> None:
    t0 = utcnow()
    site = _site(db, "xt-1", "西塘村活动室", XITANG, created=t0 - timedelta(days=60))
    _beat(db, site, t0)
    body = {"site_id": site, "kind": "tv_broken", "note": "村支书来电：电视不亮"}
    made = client.post("/api/v1/faults", headers=admin, json=body)
    assert (
        made.status_code == 201
        and made.json()["reported"]
        and made.json()["summary"].startswith("电视机损坏")
    )
    again = client.post("/api/v1/faults", headers=admin, json=body | {"note": "又来电"})
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    assert "又来电" in again.json()["note"]
    detected = client.post("/api/v1/faults", headers=admin, json=body | {"kind": "silent"})
    assert detected.status_code == 400 and detected.json()["code"] == "faults.kind_not_reported"
    loop.sweep(db, settings, now=t0 + timedelta(minutes=1))  # the sweep never closes it
    listed = client.get("/api/v1/faults", headers=admin).json()
    assert [f["kind"] for f in listed["items"]] == ["tv_broken"]
    assert client.get(f"/api/v1/sites/{site}/faults", headers=admin).json()["total"] == 1
    fid = made.json()["id"]
    assert client.post(f"/api/v1/faults/{fid}/close", headers=admin, json={"note": ""}).status_code == 422
    closed = client.post(f"/api/v1/faults/{fid}/close", headers=admin, json={"note": "换了电视"})
    assert closed.status_code == 200 and closed.json()["closed_note"] == "换了电视"
    assert client.post(f"/api/v1/faults/{fid}/close", headers=admin, json={"note": "x"}).status_code == 409
    assert client.get("/api/v1/faults", headers=admin).json()["total"] == 0
    # A detected fault closes by itself, not by a person.
    _beat(db, site, t0 + timedelta(minutes=2), files_failed=1)
    loop.sweep(db, settings, now=t0 + timedelta(minutes=2))
    (auto,) = client.get("/api/v1/faults", headers=admin).json()["items"]
    refused = client.post(f"/api/v1/faults/{auto['id']}/close", headers=admin, json={"note": "x"})
    assert refused.status_code == 409 and "自动关闭" in refused.json()["message"]


def test_the_register_by_region_and_month_and_the_fault_rate_in_fleet_status(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    now = utcnow()
    month = today_in_china(now).strftime("%Y-%m")
    start = datetime.combine(date.fromisoformat(month + "-01"), datetime.min.time()).astimezone()
    sites = [_site(db, f"s-{i}", f"站点{i}", XITANG if i < 3 else NANHE, created=now) for i in range(5)]
    with db.session_scope() as s:
        for i, hours in enumerate((1, 2, 10)):  # three closed repairs at 西塘村
            opened = max(start, now - timedelta(hours=30))
            s.add(Fault(site_id=sites[i], kind=FaultKind.DISK, opened_at=opened, last_seen_at=opened,
                        closed_at=opened + timedelta(hours=hours), repair_seconds=hours * 3600))  # fmt: skip
        s.add(Fault(site_id=sites[3], kind=FaultKind.SILENT, opened_at=now, last_seen_at=now))  # open, 北关村
    reg = client.get("/api/v1/fault-register", headers=admin, params={"month": month, "level": 5}).json()
    totals = reg["totals"]
    assert (totals["sites"], totals["faulty_sites"], totals["opened"], totals["closed"], totals["open"]) == (
        5, 4, 4, 3, 1,
    )  # fmt: skip
    assert totals["fault_percent"] == 80.0
    assert totals["mean_repair_hours"] == round(13 / 3, 1) and totals["p90_repair_hours"] == 10.0
    rows = {r["region"]: r for r in reg["regions"]}
    assert rows[XITANG]["faulty_sites"] == 3 and rows[NANHE]["open"] == 1 and rows[NANHE]["sites"] == 2
    params: dict[str, str | int] = {"month": month, "level": 5}
    text = client.get("/api/v1/fault-register.csv", headers=admin, params=params).text
    csv_rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert (
        csv_rows[0][0] == "地区 region" and csv_rows[-1][0].startswith("合计") and csv_rows[-1][4] == "80.0"
    )
    xlsx = client.get("/api/v1/fault-register.xlsx", headers=admin, params={"month": month, "level": 5})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet["A1"].value == "地区 region" and sheet.max_row == 4
    fleet_out = client.get("/api/v1/fleet", headers=admin, params={"region": "河北省/邢台市"}).json()
    assert fleet_out["totals"]["faulty"] == 1 and fleet_out["totals"]["fault_percent"] == 20.0
    by_region = {r["region"]: r for r in fleet_out["regions"]}
    assert by_region["河北省/邢台市/南和区"]["faulty"] == 1 and by_region[COUNTY]["faulty"] == 0


def test_contacts_from_the_command_line(settings: Settings, env: dict[str, str | None]) -> None:
    added = run(env, "contact", "add", COUNTY, "--email", "zzb@example.org", "--name", "县委组织部")
    assert added.exit_code == 0, added.output
    listed = run(env, "contact", "list")
    assert "zzb@example.org" in listed.output and COUNTY in listed.output
    both = run(env, "contact", "add", COUNTY, "--email", "a@example.org", "--webhook", "http://x/")
    assert both.exit_code != 0 and "只填写一个" in both.output
    with Database(settings.resolved_database_url).session_scope() as s:
        assert s.scalar(select(Site).limit(1)) is None  # nothing else made


def test_the_beat_runs_the_sweep_and_the_notices(settings: Settings) -> None:
    import workers.tasks  # noqa: F401  # registers the tasks on the workers' app
    from mediasrv.jobs import FAULT_NOTIFY, FAULT_SWEEP, QUEUES
    from workers.celery_app import app, make_celery

    beat = {entry["task"]: entry["schedule"] for entry in make_celery(settings).conf.beat_schedule.values()}
    assert beat[FAULT_SWEEP] == settings.fault_sweep_interval_seconds and beat[FAULT_NOTIFY] == 60.0
    assert {FAULT_SWEEP, FAULT_NOTIFY} <= set(app.tasks) and QUEUES[FAULT_SWEEP] == "default"
