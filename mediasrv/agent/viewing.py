"""Viewing evidence counted by the site's LAN origin, and its delivery to the server.

`mediasrv-site serve` notes each media segment of a manifest programme it serves to a player (a
200 or 206 answer to a GET; a Range request for part of a segment counts like the whole, once per
player and segment and day). A player is the box's LAN address and User-Agent, hashed with the site
id (`player_id`): the server learns how many players watched, never their addresses.

The serve process appends the events to <dir>/viewing.jsonl; the sync run (`mediasrv-site sync` and
the daemon, under the directory's sync lock) takes them into <dir>/viewing-outbox.jsonl, one line per
(programme, day, player) with its segments, and posts them in batches to
POST /api/v1/sites/{id}/viewing. What cannot be delivered stays in the outbox for the next run; the
server merges segments as a set, so a batch sent twice (an answer lost on the way) counts once.
Both processes take <dir>/.viewing.lock around their use of viewing.jsonl, so no append is lost to
the sender's take.

What a player and a segment are is the contract both sides count by (mediasrv.protocol.viewing).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import posixpath
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.viewing import MAX_SEGMENT, media_segments, player_id, resolve

if TYPE_CHECKING:
    import httpx

    from mediasrv.agent.layout import Layout

log = logging.getLogger("mediasrv.agent")

KEEP_DAYS = 62  # queued evidence older than this is dropped: two months offline is a lost cause
BATCH_VIEWS = 200  # (programme, day, player) lines per request
BATCH_SEGMENTS = 20_000  # and segments: a request body stays well under a megabyte
SEEN_MAX = 200_000  # (day, player, segment) remembered by the serve process before it forgets


# --- counting, in the serve process -----------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    programme_ids: tuple[str, ...]  # one asset may be the film of several programmes
    segment: int
    seconds: float


class SegmentIndex:
    """Which programme segment a manifest path is. Built from the manifest alone; each media
    playlist is read from disk when one of its segments is first served (a sync may still be
    fetching it when the manifest is applied; then it is read at a later request)."""

    def __init__(self, doc: dict[str, Any], files: Path) -> None:
        self._files = files
        self._lock = threading.Lock()
        by_asset: dict[str, list[str]] = {}
        for p in doc.get("programmes", []):
            if p.get("asset_id"):
                by_asset.setdefault(f"{p['asset_id']}/", []).append(p["id"])
        # folder of a media playlist (<asset>/<generation>/<rendition>) -> (playlist, programmes)
        self._folders: dict[str, tuple[str, tuple[str, ...]]] = {}
        for entry in doc.get("files", []):
            path: str = entry["path"]
            parts = path.split("/")
            if len(parts) >= 4 and path.endswith(".m3u8") and f"{parts[0]}/" in by_asset:
                self._folders[posixpath.dirname(path)] = (path, tuple(by_asset[f"{parts[0]}/"]))
        self._segments: dict[str, tuple[int, float]] = {}
        self._parsed: set[str] = set()

    def lookup(self, path: str) -> Hit | None:
        folder = posixpath.dirname(path)
        found = self._folders.get(folder)
        if found is None or path.endswith(".m3u8"):
            return None
        playlist, programme_ids = found
        with self._lock:
            if folder not in self._parsed:
                try:
                    text = self._files.joinpath(*playlist.split("/")).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    return None  # not on disk yet: try again at the next request
                for number, (uri, seconds) in enumerate(media_segments(text)):
                    if number <= MAX_SEGMENT and (at := resolve(folder, uri)) is not None:
                        self._segments[at] = (number, seconds)
                self._parsed.add(folder)
            hit = self._segments.get(path)
        return Hit(programme_ids, hit[0], hit[1]) if hit is not None else None


class Recorder:
    """Notes served segments in viewing.jsonl: once per (day, player, path) in this process's life
    (a player fetching a segment in Range pieces, or again after seeking back, writes one line)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._lock = threading.Lock()
        self._index: tuple[object, SegmentIndex] | None = None
        self._seen: set[tuple[date, str, str]] = set()

    def _segments(self, stamp: object, doc: dict[str, Any]) -> SegmentIndex:
        with self._lock:
            if self._index is None or self._index[0] != stamp:
                self._index = (stamp, SegmentIndex(doc, self.layout.files))
            return self._index[1]

    def served(
        self,
        stamp: object,
        doc: dict[str, Any],
        path: str,
        *,
        address: str,
        user_agent: str,
        now: datetime | None = None,
    ) -> bool:
        """Note that `path` of the manifest `doc` (whose version is `stamp`) went to a player; True
        when that is new evidence."""
        hit = self._segments(stamp, doc).lookup(path)
        if hit is None:
            return False
        player = player_id(int(doc["site"]["id"]), address, user_agent)
        day = today_in_china(now)
        with self._lock:
            if (day, player, path) in self._seen:
                return False
            if len(self._seen) >= SEEN_MAX:
                self._seen.clear()  # the server's set union keeps a repeat harmless
            self._seen.add((day, player, path))
        lines = b"".join(
            json.dumps(
                {"day": day.isoformat(), "programme_id": p, "player": player, "segment": hit.segment,
                 "seconds": hit.seconds},
                separators=(",", ":"),
            ).encode()
            + b"\n"
            for p in hit.programme_ids
        )  # fmt: skip
        with locked(self.layout), queue_path(self.layout).open("ab") as f:
            f.write(lines)
        return True


def queue_path(layout: Layout) -> Path:
    return layout.root / "viewing.jsonl"


def outbox_path(layout: Layout) -> Path:
    return layout.root / "viewing-outbox.jsonl"


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (waiting for it): between the serve process, which adds to an
    outbox, and the sync run, which takes from it (here and in agent.records)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def locked(layout: Layout) -> contextlib.AbstractContextManager[None]:
    """The lock on viewing.jsonl between the serve process's appends and the sender's take."""
    return flocked(layout.root / ".viewing.lock")


# Answers that say "not now" rather than "never": the record is sent again at the next run. 401 and
# 403 are about the token (revoked, or another site's), not the record: kept until the token is fixed.
RETRY_STATUSES = frozenset({401, 403, 408, 425, 429})
# A 500 is the server failing on this request (often on what it carries): the others may go through.
# 502-504 and the rest say the server (or the way to it) is down: nothing else would get through.
OWN_FAULT_STATUSES = frozenset({500})


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
    import httpx

    from mediasrv.agent.sync import server_message

    try:
        r = client.request(method, url, **kwargs)  # the agent client's time-outs
    except httpx.TransportError as exc:
        return Sent(None, f"{client.base_url} unreachable ({type(exc).__name__})")
    status = r.status_code
    if 300 <= status < 400:
        where = r.headers.get("location") or "nowhere (no Location)"
        return Sent(
            r,
            f"{status} redirect to {where[:200]}: not the mediasrv API's answer "
            "(has the server's address changed, e.g. to https, or is a captive portal in the way?)",
        )
    if status >= 500 or status in RETRY_STATUSES:
        return Sent(r, f"{status} {server_message(r)}".rstrip(), everything=status not in OWN_FAULT_STATUSES)
    if not 200 <= status < 300 and status < 400:  # 1xx: not an answer to keep anything by
        return Sent(r, f"{status} from the server: not an answer of the mediasrv API")
    if not mediasrv_answer(r):
        return Sent(
            r,
            f"{status} {server_message(r)}: not an answer of the mediasrv API "
            "(a proxy, a captive portal or an older server?)",
        )
    return Sent(r, None)


# --- delivery, in the sync run ------------------------------------------------------------------

Key = tuple[str, str, str]  # programme id, day, player


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as f:
            for line in f:
                with contextlib.suppress(ValueError):  # a line torn by a crash
                    value = json.loads(line)
                    if isinstance(value, dict):
                        yield value
    except FileNotFoundError:
        return


def _add_queue(layout: Layout, views: dict[Key, dict[int, float]]) -> dict[Key, dict[int, float]]:
    for e in _lines(queue_path(layout)):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            segments = views.setdefault((e["programme_id"], e["day"], e["player"]), {})
            segments[int(e["segment"])] = float(e["seconds"])
    return views


def pending(layout: Layout) -> dict[Key, dict[int, float]]:
    """Everything not yet delivered: the outbox and what the serve process queued since."""
    views: dict[Key, dict[int, float]] = {}
    for v in _lines(outbox_path(layout)):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            segments = views.setdefault((v["programme_id"], v["day"], v["player"]), {})
            segments.update((int(n), float(s)) for n, s in v["segments"])
    return _add_queue(layout, views)


def _save(layout: Layout, views: dict[Key, dict[int, float]]) -> None:
    from mediasrv.agent.layout import write_atomic

    if not views:
        outbox_path(layout).unlink(missing_ok=True)
        return
    body = b"".join(
        json.dumps(
            {"programme_id": p, "day": d, "player": u, "segments": sorted(segments.items())},
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for (p, d, u), segments in sorted(views.items(), key=lambda kv: kv[0][1])
    )
    write_atomic(outbox_path(layout), body)


@dataclass
class ViewingDelivery:
    sent: int  # (programme, day, player) lines the server accepted this time
    queued: int  # lines still waiting
    error: str | None  # why they wait


class ViewingSender:
    def __init__(self, layout: Layout, client: httpx.Client, site_id: int) -> None:
        self.layout, self.client, self.site_id = layout, client, site_id

    def take(self) -> dict[Key, dict[int, float]]:
        """Move the serve process's queue into the outbox (once written there, the queue goes)."""
        with locked(self.layout):
            views = pending(self.layout)
            _save(self.layout, views)
            queue_path(self.layout).unlink(missing_ok=True)
        return views

    def deliver(self, *, today: date | None = None) -> ViewingDelivery:
        """Post the outbox in batches, oldest days first, stopping at the first failure."""
        views = self.take()
        cutoff = ((today or today_in_china()) - timedelta(days=KEEP_DAYS)).isoformat()
        if old := [k for k in views if k[1] < cutoff]:
            log.warning("dropped viewing evidence of %d views over %d days old", len(old), KEEP_DAYS)
            for k in old:
                del views[k]
        keys = sorted(views, key=lambda k: k[1])
        url = f"/api/v1/sites/{self.site_id}/viewing"
        sent, error = 0, None
        while keys:
            batch: list[Key] = []
            size = 0
            while keys and len(batch) < BATCH_VIEWS:
                if batch and size + len(views[keys[0]]) > BATCH_SEGMENTS:
                    break
                batch.append(keys.pop(0))
                size += len(views[batch[-1]])
            body = {
                "views": [
                    {"programme_id": p, "day": d, "player": u, "segments": sorted(views[(p, d, u)].items())}
                    for p, d, u in batch
                ]
            }
            got = send(self.client, "POST", url, json=body)
            r = got.response
            if got.wait is not None or r is None:
                error = got.wait
            elif got.delivered:
                sent += len(batch)
            elif r.status_code == 422:  # never accepted as it is: keeping it would block the rest
                log.error("the server refused viewing evidence as invalid, dropping it: %s", r.text[:300])
            else:  # 404 and the like: keep it for later
                from mediasrv.agent.sync import server_message

                error = f"{r.status_code} {server_message(r)}"
            if error:
                keys = batch + keys
                break
            for k in batch:
                del views[k]
        with locked(self.layout):  # the serve process may have queued more meanwhile: keep those too
            _save(self.layout, _add_queue(self.layout, {k: views[k] for k in keys}))
            queue_path(self.layout).unlink(missing_ok=True)
        if error:
            log.warning("viewing evidence not delivered (%s): %d views queued", error, len(keys))
        return ViewingDelivery(sent, len(keys), error)
