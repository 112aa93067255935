"""The agent's outboxes: what the site must tell the server, kept on disk until the server has it.

Three things travel this way, each in its own folder of the site directory: heartbeats
(agent.reports, <dir>/heartbeats/), viewing evidence (agent.viewing, <dir>/viewing/) and study
records with their photos (agent.records, <dir>/records/). One mechanism serves all three:

- Keep: one JSON file per item, <folder>/<id>.json, written atomically and readable by the agent's
  user alone (layout.write_atomic: 0600 files, 0700 folders). An item's id is made once (a report's
  id, a form's id, a view's key), so an item added again is kept once. A side file (a record's
  photo) is written before its item, so no item lacks it.
- Lock: <folder>/.lock, between the serve process, which adds, and the sync run, which sends,
  settles and prunes (`flocked`).
- Send: `send`, one request sorted into delivered (a 2xx answer of the mediasrv API, and only that),
  refused (its 4xx error, and only that) or wait (anything else: no line, a redirect, a captive
  portal's page, a 5xx, 401/403/429...). A wait that holds for every request stops the run and keeps
  everything; a 500 (the server failing on this request) keeps that item and the run goes on.
- Receipts: a delivered or refused item is forgotten at once, or, in an outbox that keeps receipts
  (the records: the site view lists them), kept with its state and the server's word until pruned.
  <dir>/<folder>-delivery.json says when the last run was and why it stopped ({"at", "error"}).
- Prune: by age (items made over `keep_days` ago), by count (the newest `keep` pending items), and
  at the door (an outbox with bounds refuses a new item that does not fit: Full).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from mediasrv.agent.layout import Layout, write_atomic
from mediasrv.agent.words import problem_of_status

log = logging.getLogger("mediasrv.agent")

KEEP_DAYS = 62  # what is still queued after two months offline is a lost cause (viewing, records)
DISK_FLOOR = 256 * 2**20  # left free besides the room the media cache may still claim


class State(StrEnum):
    PENDING = "pending"  # 待上传
    DELIVERED = "delivered"  # 已上传
    REFUSED = "refused"  # 被退回: `message` says why


@dataclass
class Item:
    """One thing to tell the server; its file holds these fields (and keys it does not know, kept)."""

    kind: str
    id: str
    created_at: str  # UTC, ISO 8601: the order items are sent in, and their age
    body: dict[str, Any]  # what the server is sent (and, for a record's display, a title or a name)
    state: State = State.PENDING
    message: str | None = None  # the server's reason, when refused
    status: int | None = None  # and its HTTP status
    delivered_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys of a newer agent, kept

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        known = {
            k: data[k] for k in ("id", "created_at", "body", "message", "status", "delivered_at") if k in data
        }
        extra = {k: v for k, v in data.items() if k not in known and k not in ("kind", "state")}
        return cls(kind=str(data["kind"]), state=State(data.get("state", "pending")), extra=extra, **known)

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


def encoded(item: Item) -> bytes:
    return json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


class Full(Exception):
    """The outbox cannot take an item now: full, or the media cache needs the disk. The message says
    so in Chinese (the site view shows it)."""

    status = 507  # Insufficient Storage: the LAN route's answer


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (waiting for it): between the serve process, which adds to an
    outbox, and the sync run, which takes from it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, skipping a line torn by a crash; none when it is absent."""
    try:
        with path.open("rb") as f:
            for line in f:
                with contextlib.suppress(ValueError):
                    value = json.loads(line)
                    if isinstance(value, dict):
                        yield value
    except FileNotFoundError:
        return


# --- the wire ------------------------------------------------------------------------------------

# Answers that say "not now" rather than "never": the item is sent again at the next run. 401 and
# 403 are about the token (revoked, or another site's), not the item: kept until the token is fixed.
RETRY_STATUSES = frozenset({401, 403, 408, 425, 429})
# A 500 is the server failing on this request (often on what it carries): the others may go through.
# 502-504 and the rest say the server (or the way to it) is down: nothing else would get through.
OWN_FAULT_STATUSES = frozenset({500})


def server_message(r: httpx.Response) -> str:
    """The server's error message when it sent one (mediasrv errors are {"error", "message"}); for
    another answer a line of its text, or what kind of page it was: never a page's raw HTML."""
    try:
        body = r.json()
    except ValueError:
        text = r.text.strip()
        kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if "html" in kind or text[:1] == "<":
            title = re.search(r"<title[^>]*>([^<]{1,200})</title>", text, re.IGNORECASE)
            named = f": {' '.join(title.group(1).split())[:100]!r}" if title else ""
            return f"an HTML page{named} ({len(r.content)} bytes)"
        return " ".join(text.split())[:200]
    return str(body.get("message") or body)[:500] if isinstance(body, dict) else str(body)[:200]


def mediasrv_answer(r: httpx.Response) -> bool:
    """Is this an answer of the mediasrv API? A success is JSON (or a 204), an error its JSON
    {"error", "message"}; anything else (a proxy's or captive portal's page, an older server) is not."""
    if r.status_code == 204 and not r.content:
        return True
    try:
        body = r.json()
    except ValueError:
        return False
    if r.status_code < 400:
        return True
    return isinstance(body, dict) and "error" in body and "message" in body


@dataclass(frozen=True)
class Sent:
    """What became of one request of an outbox to the server."""

    response: httpx.Response | None  # None: it never got there
    wait: str | None  # why it must be sent again later (network, 5xx, RETRY_STATUSES, ...), else None
    everything: bool = True  # the reason to wait holds for every request (stop the run), not just this
    problem: str | None = None  # the wait as agent.words says it to the site administrator

    @property
    def delivered(self) -> bool:
        """The server took it: a 2xx answer of the mediasrv API, and only that."""
        return self.wait is None and self.response is not None and 200 <= self.response.status_code < 300

    @property
    def refused(self) -> bool:
        """The server answered, in its own words, that it will never take it as it is (another 4xx)."""
        return self.wait is None and self.response is not None and self.response.status_code >= 400


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Sent:
    """One request of an outbox, sorted into delivered (a mediasrv 2xx), wait (try again next run)
    or refused (a mediasrv 4xx error). Anything else waits: a redirect (not followed: an http→https
    move, a captive portal), a page that is not the API's answer, a 5xx. The wait says what was
    answered, never a page's raw HTML."""
    try:
        r = client.request(method, url, **kwargs)  # the agent client's time-outs
    except httpx.TransportError as exc:
        return Sent(None, f"{client.base_url} unreachable ({type(exc).__name__})", problem="unreachable")
    status = r.status_code
    if 300 <= status < 400:
        where = r.headers.get("location") or "nowhere (no Location)"
        return Sent(
            r,
            f"{status} redirect to {where[:200]}: not the mediasrv API's answer "
            "(has the server's address changed, e.g. to https, or is a captive portal in the way?)",
            problem="not_mediasrv",
        )
    if status >= 500 or status in RETRY_STATUSES:
        return Sent(
            r,
            f"{status} {server_message(r)}".rstrip(),
            everything=status not in OWN_FAULT_STATUSES,
            problem=problem_of_status(status),
        )
    if not 200 <= status < 300 and status < 400:  # 1xx: not an answer to keep anything by
        return Sent(r, f"{status} from the server: not an answer of the mediasrv API", problem="not_mediasrv")
    if not mediasrv_answer(r):
        return Sent(
            r,
            f"{status} {server_message(r)}: not an answer of the mediasrv API "
            "(a proxy, a captive portal or an older server?)",
            problem="not_mediasrv",
        )
    return Sent(r, None)


# --- the outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parcel:
    """One request carrying one item or several (a batch of views)."""

    items: list[Item]
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One delivery run of an outbox, as it goes: what the plan of the run may look at."""

    sent: int = 0  # items the server took
    refused: int = 0  # items it refused (or the plan settled as refused)
    error: str | None = None  # why something waits
    problem: str | None = None  # the same as agent.words says it
    held: set[str] = field(default_factory=set)  # ids kept for the next run after a 500 on them
    answer: Any = None  # the JSON of the server's last delivering answer (a heartbeat's ack)


class Outbox:
    """<dir>/<name>/: one file per item, side files in `sidecars` beside them. The serve process only
    adds items; the sync run only settles and removes them; `locked` keeps an add from meeting a
    clean-up. `receipts`: settled items stay (with their state) until pruned, else they go at once.
    `keep_days`: the age at which `prune` forgets an item. `max_pending` / `max_bytes`: bounds at the
    door (add refuses what does not fit: Full)."""

    def __init__(
        self,
        layout: Layout,
        name: str,
        *,
        keep_days: int = KEEP_DAYS,
        receipts: bool = False,
        sidecars: str | None = None,
        max_pending: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.root = layout.root / name
        self.status_file = layout.root / f"{name}-delivery.json"
        self.sidecars = self.root / sidecars if sidecars else None
        self.keep_days, self.receipts = keep_days, receipts
        self.max_pending, self.max_bytes = max_pending, max_bytes

    def path(self, item_id: str) -> Path:
        return self.root / f"{item_id}.json"

    def sidecar(self, item: Item) -> Path | None:
        """The side file an item needs until it is settled (records: its photo); None here."""
        return None

    def locked(self) -> contextlib.AbstractContextManager[None]:
        for folder in (self.root, self.sidecars):  # and folders made before they were private
            if folder is not None:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                folder.chmod(0o700)
        return flocked(self.root / ".lock")

    def save(self, item: Item) -> None:
        write_atomic(self.path(item.id), encoded(item))

    def add(self, item: Item, side: bytes | None = None, *, reserve: int = 0) -> Item:
        """Keep a new item (and its side file's bytes); the one kept already when its id is taken.
        Full when there is no room for it (check_room)."""
        return self.add_many([(item, side)], reserve=reserve)[0]

    def add_many(self, items: list[tuple[Item, bytes | None]], *, reserve: int = 0) -> list[Item]:
        """`add` for several items at once: all kept, or none (Full)."""
        with self.locked():
            kept: list[Item] = []
            new: list[tuple[Item, bytes | None]] = []
            for item, side in items:
                if (old := self.get(item.id)) is not None:
                    kept.append(old)
                else:
                    kept.append(item)
                    new.append((item, side))
            if new and (self.max_pending is not None or self.max_bytes is not None):
                incoming = sum(len(encoded(i)) + len(s or b"") for i, s in new)
                self.check_room(incoming, reserve, items=len(new))
            for item, side in new:
                if side is not None and (where := self.sidecar(item)) is not None:
                    write_atomic(where, side)
                self.save(item)
        return kept

    def check_room(self, incoming: int, reserve: int, *, items: int = 1) -> None:
        """Full (with what to do, in Chinese) unless `items` more items of `incoming` bytes fit: under
        max_pending waiting and max_bytes on disk, and leaving the disk `reserve` (the room the media
        cache may still claim) plus DISK_FLOOR free. Media comes first."""
        waiting = len(self.pending())
        if self.max_pending is not None and waiting + items > self.max_pending:
            raise Full(
                f"待上传的记录已满（已有 {waiting} 条，最多 {self.max_pending} 条），"
                "请先接通网络上传后再记录。"
            )
        used = self.size()
        if self.max_bytes is not None and used + incoming > self.max_bytes:
            raise Full(
                f"待上传的记录已满（已占用 {used / 2**20:.1f} MB，最多 {self.max_bytes / 2**20:.1f} MB），"
                "请先接通网络上传后再记录。"
            )
        free = shutil.disk_usage(self.root if self.root.exists() else self.root.parent).free
        if free - incoming < reserve + DISK_FLOOR:
            raise Full(
                f"本机磁盘空间不足（剩余 {free / 2**20:.0f} MB，节目同步还需 {reserve / 2**20:.0f} MB）："
                "请清理磁盘，或先接通网络上传后再记录。"
            )

    def size(self) -> int:
        """Bytes of every file the outbox holds."""
        total = 0
        for folder in (f for f in (self.root, self.sidecars) if f is not None):
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(folder):
                    with contextlib.suppress(FileNotFoundError):
                        if entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
        return total

    def get(self, item_id: str) -> Item | None:
        if not (item_id.isascii() and item_id.isalnum()):
            return None  # not a name this outbox made: never a path elsewhere
        return self._read(self.path(item_id))

    def _read(self, path: Path) -> Item | None:
        try:
            return Item.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.error("unreadable outbox item %s, left in place", path)
            return None

    def all(self) -> list[Item]:
        """Every item kept, oldest first."""
        found = [i for p in self._files() if (i := self._read(p)) is not None]
        return sorted(found, key=lambda i: i.created_at)

    def pending(self) -> list[Item]:
        """The items still to deliver, oldest first."""
        return [i for i in self.all() if i.state is State.PENDING]

    def _files(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from (p for p in self.root.iterdir() if p.suffix == ".json" and not p.name.startswith("."))

    def settle(self, item: Item, state: State, message: str | None = None, status: int | None = None) -> None:
        """The server's word on `item`: kept as a receipt, or the item forgotten; its side file goes."""
        item.state, item.message, item.status = state, message, status
        if state is State.DELIVERED:
            item.delivered_at = datetime.now(UTC).isoformat()
        if self.receipts or state is State.PENDING:
            self.save(item)
        else:
            self.path(item.id).unlink(missing_ok=True)
        if state is not State.PENDING and (side := self.sidecar(item)) is not None:
            side.unlink(missing_ok=True)  # delivered, or refused for good

    def prune(self, *, now: datetime | None = None, pending: bool = False, keep: int | None = None) -> int:
        """Forget settled items made over keep_days before `now` (pending ones too with `pending`),
        then all but the newest `keep` pending items, then side files no pending item needs. Returns
        how many pending items were dropped."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.keep_days)
        dropped = 0
        with self.locked():
            items = self.all()
            old = [i for i in items if i.created < cutoff and (pending or i.state is not State.PENDING)]
            gone = {i.id for i in old}
            waiting = [i for i in items if i.state is State.PENDING and i.id not in gone]
            if keep is not None and len(waiting) > keep:
                old += waiting[: len(waiting) - keep]
                waiting = waiting[len(waiting) - keep :]
            for i in old:
                self.path(i.id).unlink(missing_ok=True)
                if i.state is State.PENDING:
                    dropped += 1
            if self.sidecars is not None and self.sidecars.is_dir():
                wanted = {side.name for i in waiting if (side := self.sidecar(i)) is not None}
                for p in self.sidecars.iterdir():
                    if p.name not in wanted and not p.name.startswith("."):
                        p.unlink(missing_ok=True)
        return dropped

    def deliver(self, client: httpx.Client, plan: Callable[[Run], Iterable[Parcel]]) -> Run:
        """Send the parcels `plan` yields, in its order (it may look at the run so far: what was held),
        and settle their items by the answers; a wait for everything ends the run. The outcome goes
        to the status file."""
        run = Run()
        for parcel in plan(run):
            got = send(client, parcel.method, parcel.url, **parcel.kwargs)
            first, n = parcel.items[0], len(parcel.items)
            what = f"{first.kind} {first.id}" if n == 1 else f"{n} {first.kind}s"
            if got.wait is not None or got.response is None:
                run.error = got.wait or "no answer"
                run.problem = got.problem or "unreachable"
                if got.everything:
                    break
                log.warning("%s not delivered (%s): kept for the next run", what, got.wait)
                run.held.update(i.id for i in parcel.items)
                continue
            if got.refused:
                message = server_message(got.response)
                log.error("the server refused %s: %s", what, message)
                for item in parcel.items:
                    self.settle(item, State.REFUSED, message, got.response.status_code)
                run.refused += len(parcel.items)
            else:
                for item in parcel.items:
                    self.settle(item, State.DELIVERED)
                run.sent += len(parcel.items)
                with contextlib.suppress(ValueError):
                    run.answer = got.response.json() if got.response.content else None
        write_atomic(
            self.status_file,
            json.dumps(
                {"at": datetime.now(UTC).isoformat(), "error": run.error, "problem": run.problem}
            ).encode(),
        )
        return run

    def last_delivery(self) -> dict[str, Any]:
        """{"at", "error", "problem"} of the last run that tried to deliver; {} before any."""
        try:
            value = json.loads(self.status_file.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}
