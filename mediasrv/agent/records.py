"""Study records made at the site, kept until the server has them: sessions (学习记录), their photos,
programme ratings (效果反馈) and topic requests (需求调查).

Members record them on the site view (`mediasrv-site serve`, LAN routes under /records); the village
line is often down, so they wait in the agent's outbox of records (agent.outbox: <dir>/records/<id>.json,
written atomically, readable by the agent's user alone), a photo as <dir>/records/photos/<id>.jpg|png
beside it until delivered (written before its record, so no record lacks its bytes), made again from
its pixels first (no EXIF, no GPS: mediasrv.protocol.photos). The outbox is bounded (MAX_PENDING
records, MAX_BYTES) and never takes the disk the media cache may still need: a record that does not
fit is refused at once, saying so (507), not kept to fail later. The last delivery's outcome is in
<dir>/records-delivery.json (the site view shows its error). The id is a UUID
the site view's form makes once per opened form (32 hex digits; made here when a poster sends none):
the outbox keeps a form sent twice (a second OK, a retry after an answer lost on the LAN) once, the
server records a session, photo or request once however often it arrives, and a rating carries the
time it was made (the newer wins), so sending again after a lost answer or a crash between the
answer and the state's write is harmless.

The sync run (`mediasrv-site sync` and the daemon, under the directory's sync lock) delivers pending
records with the site's token (agent.outbox.send): sessions first, then their photos, then ratings
and requests, oldest first. Only a 2xx answer of the mediasrv API delivers a record. What says
nothing about the record (a network error, 502-504, 408, 429, 401/403: the token; a redirect or a
page that is not the API's: a captive portal, a proxy, an older server) stops the run and keeps
everything for the next; a 500 keeps that record (and its photos) and the run goes on with the
others. A 4xx with mediasrv's JSON error is a refusal: the record stays, "refused", with the
server's message, shown on the site view so the site administrator can act, and is not sent again.
Delivered and refused records are forgotten KEEP_DAYS after they were made.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from mediasrv.agent import outbox
from mediasrv.agent.layout import Layout
from mediasrv.agent.outbox import KEEP_DAYS, Parcel, Run, State
from mediasrv.protocol import photos
from mediasrv.protocol.china import CHINA

log = logging.getLogger("mediasrv.agent")

PHOTO_MAX_BYTES = 10 * 1024 * 1024  # the server's default (MEDIASRV_PHOTO_MAX_BYTES)
PHOTOS_PER_POST = 10
JPEG, PNG = photos.JPEG, photos.PNG
SUFFIX = {JPEG: ".jpg", PNG: ".png"}
# What the outbox may hold: months offline of a busy site, far from what the disk can spare. Beyond
# it, or when the media cache would lose its room on the disk, a new record is refused (507).
MAX_PENDING = 1000  # records waiting to be delivered
MAX_BYTES = 300 * 2**20  # every file of the outbox (records, photos)
_STRIPPING = threading.Lock()  # one photo decoded at a time: the same PC serves the boxes' films
FUTURE_SLACK = timedelta(minutes=15)  # a session cannot start later than now (clocks differ a little)
OLDEST = timedelta(days=KEEP_DAYS)  # nor earlier than the outbox keeps records (a mistyped year)
RECORD_ID = re.compile(r"[0-9a-f]{32}")  # a record's id: the site view's form makes it, once per form
DECIMAL = re.compile(r"[0-9]{1,18}")  # ASCII digits only: "²".isdigit() is True, int("²") raises


class Kind(StrEnum):
    SESSION = "session"
    PHOTO = "photo"
    RATING = "rating"
    DEMAND = "demand"


ORDER: dict[str, int] = {Kind.SESSION: 0, Kind.PHOTO: 1, Kind.RATING: 2, Kind.DEMAND: 2}  # sessions first
Record = outbox.Item  # a study record: an item of the records' outbox, of one of the kinds above


class Invalid(ValueError):
    """A record the member must correct before it is kept; the message says what (Chinese)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status  # the LAN route's answer: 413 too large, 415 not a photo


def _now() -> datetime:
    return datetime.now(UTC)


def _new(kind: Kind, body: dict[str, Any], now: datetime | None, record_id: str | None = None) -> Record:
    return Record(kind, record_id or uuid.uuid4().hex, (now or _now()).astimezone(UTC).isoformat(), body)


def _record_id(data: dict[str, Any]) -> str | None:
    """The id the site view's form made for this record (sent again with a retry or a second OK,
    so the outbox keeps it once); None when the poster sent none (a new one is made)."""
    value = data.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not RECORD_ID.fullmatch(value):
        raise Invalid("记录编号不对（应是 32 位小写十六进制）：请关闭表单后重新填写。")
    return value


# --- checks, as the server makes them (mediasrv.study.schemas), so a mistake is seen at the site ------


def _int(data: dict[str, Any], key: str, name: str, low: int, high: int, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, str) and DECIMAL.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{name}应是 {low} 到 {high} 之间的整数。")
    return value


def _text(data: dict[str, Any], key: str, name: str, most: int, *, required: bool = False) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise Invalid(f"{name}应是文字。")
    value = value.strip()
    if required and not value:
        raise Invalid(f"请填写{name}。")
    if len(value) > most:
        raise Invalid(f"{name}最多 {most} 个字，现在有 {len(value)} 个。")
    return value


def _programme_id(value: Any, known: set[str] | None = None) -> str:
    """A programme id as the server takes it; with `known` (the applied manifest's programmes, when
    the site has one) one of those: a record naming another would be refused by the server."""
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise Invalid("节目编号不对：请从列表中选择节目。")
    if known is not None and value not in known:
        raise Invalid(f"本站点的节目单中没有编号为“{value[:64]}”的节目：请从列表中选择节目。")
    return value


def manifest_programmes(doc: dict[str, Any] | None) -> set[str] | None:
    """The programme ids of the applied manifest (what the site view offers), None without one."""
    if doc is None:
        return None
    listed = doc.get("programmes", [])
    return {p["id"] for p in listed if isinstance(p, dict) and isinstance(p.get("id"), str)}


def new_session(
    data: dict[str, Any], *, now: datetime | None = None, programmes: set[str] | None = None
) -> Record:
    """A session as the member entered it: started_at with its UTC offset (the form sends Beijing
    time, +08:00), minutes, members present, programmes played (ids; one of `programmes` when
    given), notes. It started in the last KEEP_DAYS days: a record older than the outbox keeps
    records, or in the future, is a mistake (a mistyped year) the server would take as it is."""
    record_id = _record_id(data)
    raw = data.get("started_at")
    try:
        started = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        started = None
    if started is None:
        raise Invalid("开始时间不对：请按“年-月-日 时:分”填写。")
    if started.tzinfo is None:
        raise Invalid("开始时间缺少时区：请写成 2026-11-20T19:30+08:00（北京时间）。")
    current = now or _now()
    try:
        started_utc = started.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 with an offset east of UTC
        started_utc = datetime.min.replace(tzinfo=UTC)
    if started_utc > current + FUTURE_SLACK:
        raise Invalid("开始时间晚于现在：请填写已经开始的学习。")
    if started_utc < current - OLDEST:
        raise Invalid(
            f"开始时间 {started.date().isoformat()} 早于 {KEEP_DAYS} 天前："
            f"只能记录最近 {KEEP_DAYS} 天的学习，请检查年份。"
        )
    played = data.get("programmes") or []
    if not isinstance(played, list) or len(played) > 100:
        raise Invalid("播放的节目最多 100 个。")
    ids = [_programme_id(p.get("programme_id") if isinstance(p, dict) else p, programmes) for p in played]
    if len(set(ids)) != len(ids):
        raise Invalid("同一个节目选了两次：每个节目只选一次。")
    body = {
        "started_at": started.isoformat(),
        "minutes": _int(data, "minutes", "学习时长（分钟）", 1, 24 * 60),
        "members_present": _int(data, "members_present", "参学人数", 0, 100_000),
        "notes": _text(data, "notes", "讨论记录", 10_000),
        "programmes": [{"programme_id": i} for i in ids],
    }
    return _new(Kind.SESSION, body, now, record_id)


def new_rating(
    data: dict[str, Any], *, title: str = "", now: datetime | None = None, programmes: set[str] | None = None
) -> Record:
    """Stars (1-5) and a comment for a programme (one of `programmes` when given); `title` only
    for the site view's list."""
    record_id = _record_id(data)
    body = {
        "programme_id": _programme_id(data.get("programme_id"), programmes),
        "rating": _int(data, "rating", "评分", 1, 5),
        "comment": _text(data, "comment", "评语", 2000),
        "rated_at": (now or _now()).astimezone(UTC).isoformat(),
        "title": title,
    }
    return _new(Kind.RATING, body, now, record_id)


def new_demand(data: dict[str, Any], categories: set[str], *, now: datetime | None = None) -> Record:
    """A topic the members need; `categories` the codes it may name (empty: none)."""
    record_id = _record_id(data)
    topic = " ".join(
        unicodedata.normalize("NFKC", _text(data, "topic", "需求主题", 200, required=True)).split()
    )
    category = data.get("category") or None
    if category is not None and not isinstance(category, str):
        raise Invalid("类别应是文字：请从列表中选择，或不选。")
    if category is not None and category not in categories:
        raise Invalid("没有这个类别：请从列表中选择，或不选。")
    body = {
        "topic": topic,
        "category": category,
        "detail": _text(data, "detail", "具体说明", 2000),
        "members": _int(data, "members", "提出需求的人数", 1, 10_000, default=1),
        "requested_at": (now or _now()).astimezone(UTC).isoformat(),
    }
    return _new(Kind.DEMAND, body, now, record_id)


def clean_photo(name: str, data: bytes, limit: int) -> tuple[str, bytes]:
    """The photo as the outbox keeps it: its pixels alone (mediasrv.protocol.photos.strip: no EXIF, no
    GPS, nothing after the image) and its content type; Invalid naming the file otherwise."""
    if not data:
        raise Invalid(f"“{name}”是空文件：请重新选择照片。")
    too_big = Invalid(
        f"“{name}”有 {len(data) / 2**20:.1f} MB，超过 {limit // 2**20} MB 的上限："
        "请在手机上选择较小的尺寸后重新上传。",
        413,
    )
    if len(data) > limit:
        raise too_big
    try:
        with _STRIPPING:
            photo = photos.strip(data)
    except photos.NotAPhoto as exc:
        if exc.reason == "type":
            raise Invalid(f"“{name}”不是 JPEG 或 PNG 照片：请选择相机或手机拍的照片。", 415) from None
        if exc.reason == "pixels":
            raise Invalid(
                f"“{name}”的像素超过 {photos.MAX_PIXELS // 10_000} 万：请在手机上选择较小的尺寸后重新上传。",
                413,
            ) from None
        raise Invalid(f"“{name}”已损坏，无法打开：请重新选择这张照片。", 415) from None
    if len(photo.data) > limit:  # made again it may grow a little (a PNG): the server would refuse it
        raise too_big
    return photo.content_type, photo.data


def new_photo(session: Record, name: str, content_type: str, *, now: datetime | None = None) -> Record:
    body = {"session_id": session.id, "filename": name[-200:] or "photo", "content_type": content_type}
    return _new(Kind.PHOTO, body, now)


# --- the outbox -------------------------------------------------------------------------------------


class Outbox(outbox.Outbox):
    """<dir>/records: the records' outbox (agent.outbox), keeping receipts (the site view lists
    delivered and refused records), bounded at the door, photos in records/photos/ beside them."""

    def __init__(self, layout: Layout, *, max_pending: int = MAX_PENDING, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(
            layout, "records", receipts=True, sidecars="photos", max_pending=max_pending, max_bytes=max_bytes
        )
        self.photos = self.root / "photos"

    def photo_file(self, record: Record) -> Path:
        return self.photos / f"{record.id}{SUFFIX.get(record.body.get('content_type', ''), '.bin')}"

    def sidecar(self, item: Record) -> Path | None:
        return self.photo_file(item) if item.kind == Kind.PHOTO else None

    def _read(self, path: Path) -> Record | None:
        record = super()._read(path)
        if record is not None and record.kind not in ORDER:
            log.error("study record %s of an unknown kind %r, left in place", path, record.kind)
            return None
        return record

    def listing(self, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """For the site view: this Beijing month's records and any not yet delivered, newest first."""
        month = (now or _now()).astimezone(CHINA).strftime("%Y-%m")
        visible = [
            r
            for r in self.all()
            if r.state is not State.DELIVERED or r.created.astimezone(CHINA).strftime("%Y-%m") == month
        ]
        return [shown(r) for r in reversed(visible)]


def shown(r: Record) -> dict[str, Any]:
    """A record as the site view lists it."""
    return {
        "id": r.id,
        "kind": str(r.kind),
        "state": r.state.value,
        "message": r.message,
        "created_at": r.created_at,
        "body": r.body,
    }


def media_room(doc: dict[str, Any] | None, last_sync: dict[str, Any] | None) -> int:
    """Disk the media cache may still claim, which the outbox leaves to it: what the last sync still
    lacked (of the applied manifest or a newer one), and under a quota what the quota allows beyond
    the applied manifest."""
    missing = (last_sync or {}).get("bytes_missing")
    room = missing if isinstance(missing, int) and missing > 0 else 0
    quota, listed = (doc or {}).get("quota_bytes"), (doc or {}).get("bytes")
    if isinstance(quota, int) and isinstance(listed, int):
        room += max(0, quota - listed)
    return room


def photo_limit(doc: dict[str, Any] | None) -> int:
    """The server's photo size limit when the manifest says it (its site part), else its default."""
    value = ((doc or {}).get("site") or {}).get("photo_max_bytes")
    return value if isinstance(value, int) and value > 0 else PHOTO_MAX_BYTES


# --- delivery, in the sync run ----------------------------------------------------------------------


@dataclass
class RecordsDelivery:
    sent: int  # records the server took this run
    refused: int  # records it refused this run (kept, shown with its message)
    queued: int  # records still waiting
    error: str | None  # why they wait


def last_delivery(layout: Layout) -> dict[str, Any]:
    """{"at", "error"} of the last run that tried to deliver records; {} before any."""
    return Outbox(layout).last_delivery()


class RecordSender:
    def __init__(self, layout: Layout, client: httpx.Client, site_id: int) -> None:
        self.layout, self.client, self.site_id = layout, client, site_id
        self.outbox = Outbox(layout)

    def _request(self, r: Record) -> Parcel:
        base = f"/api/v1/sites/{self.site_id}"
        b = r.body
        if r.kind == Kind.SESSION:
            return Parcel([r], "POST", f"{base}/sessions", {"json": {"id": r.id, **b}})
        if r.kind == Kind.RATING:
            body = {"rating": b["rating"], "comment": b["comment"], "rated_at": b["rated_at"]}
            return Parcel([r], "PUT", f"{base}/ratings/{quote(b['programme_id'], safe='')}", {"json": body})
        if r.kind == Kind.DEMAND:
            return Parcel([r], "POST", f"{base}/demands", {"json": {"id": r.id, **b}})
        data = self.outbox.photo_file(r).read_bytes()
        files = {"file": (b["filename"], data, b["content_type"])}
        url = f"{base}/sessions/{quote(b['session_id'], safe='')}/photos"
        return Parcel([r], "POST", url, {"files": files})

    def deliver(self) -> RecordsDelivery:
        """Send what is pending, sessions before photos, oldest first. A "not now" that holds for
        every request (the line, the token, a redirect, 429, a server down) stops the run; one for
        this record alone (a 500) keeps it, and its photos, for the next run and goes on with the rest."""
        records = self.outbox.all()
        by_id = {r.id: r for r in records}
        todo = sorted(
            (r for r in records if r.state is State.PENDING), key=lambda r: (ORDER[r.kind], r.created_at)
        )

        def plan(run: Run) -> Iterator[Parcel]:
            for r in todo:
                if r.kind == Kind.PHOTO:
                    session = by_id.get(r.body["session_id"])
                    if session is not None and session.state is State.REFUSED:
                        self.outbox.settle(r, State.REFUSED, "所属的学习记录被退回，照片无法上传。")
                        run.refused += 1
                        continue
                    if r.body["session_id"] in run.held:  # its session waits (a 500): so does it
                        continue
                    if not self.outbox.photo_file(r).is_file():
                        self.outbox.settle(r, State.REFUSED, "照片文件丢失，请重新上传。")
                        run.refused += 1
                        continue
                yield self._request(r)

        run = self.outbox.deliver(self.client, plan)
        self.outbox.prune()
        queued = len(self.outbox.pending())
        if run.error:
            log.warning("study records not delivered (%s): %d waiting", run.error, queued)
        return RecordsDelivery(run.sent, run.refused, queued, run.error)
