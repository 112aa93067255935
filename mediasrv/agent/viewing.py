"""Viewing evidence counted by the site's LAN origin, and its delivery to the server.

`mediasrv-site serve` notes each media segment of a manifest programme it serves to a player (a
200 or 206 answer to a GET; a Range request for part of a segment counts like the whole, once per
player and segment and day). A player is the box's LAN address and User-Agent, hashed with the site
id: the server learns how many players watched, never their addresses. What a player and a segment
are is the contract both sides count by (mediasrv.protocol.viewing).

The serve process appends the events to <dir>/viewing.jsonl (an append per new segment: cheap on
the hot path); the sync run (`mediasrv-site sync` and the daemon, under the directory's sync lock)
takes them into the viewing outbox (agent.outbox: <dir>/viewing/<key>.json, one item per (programme,
day, player) with its segments) and posts them in batches to POST /api/v1/sites/{id}/viewing, oldest
days first. What cannot be delivered stays in the outbox for the next run; the server merges segments
as a set, so a batch sent twice (an answer lost on the way) counts once. Both processes take
<dir>/.viewing.lock around their use of viewing.jsonl, so no append is lost to the sender's take.
An agent from before the outbox folders kept its outbox in <dir>/viewing-outbox.jsonl: the first
take adopts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import posixpath
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx

from mediasrv.agent.layout import Layout
from mediasrv.agent.outbox import KEEP_DAYS, Item, Outbox, Parcel, Run, flocked, read_lines
from mediasrv.protocol.china import CHINA, today_in_china
from mediasrv.protocol.viewing import MAX_SEGMENT, media_segments, player_id, resolve

log = logging.getLogger("mediasrv.agent")

BATCH_VIEWS = 200  # (programme, day, player) lines per request
BATCH_SEGMENTS = 20_000  # and segments: a request body stays well under a megabyte
SEEN_MAX = 200_000  # (day, player, segment) remembered by the serve process before it forgets
KIND = "view"


# --- counting, in the serve process -----------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    programme_ids: tuple[str, ...]  # one asset may be the film of several programmes
    segment: int
    seconds: float


class SegmentIndex:
    """Which programme segment a manifest path is. Built from the manifest and the files its lists
    name (`listed`, Layout.files_of); each media playlist is read from disk when one of its segments
    is first served (a sync may still be fetching it when the manifest is applied; then it is read
    at a later request)."""

    def __init__(self, doc: dict[str, Any], files: Path, listed: Iterable[dict[str, Any]]) -> None:
        self._files = files
        self._lock = threading.Lock()
        by_asset: dict[str, list[str]] = {}
        for p in doc.get("programmes", []):
            if p.get("asset_id"):
                by_asset.setdefault(f"{p['asset_id']}/", []).append(p["id"])
        # folder of a media playlist (<asset>/<generation>/<rendition>) -> (playlist, programmes)
        self._folders: dict[str, tuple[str, tuple[str, ...]]] = {}
        for entry in listed:
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
                self._index = (stamp, SegmentIndex(doc, self.layout.files, self.layout.files_of(doc)))
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
    """The serve process's journal of served segments, taken into the outbox by the sync run."""
    return layout.root / "viewing.jsonl"


def legacy_outbox_path(layout: Layout) -> Path:
    """Where an agent from before the outbox folders kept undelivered views (adopted by `take`)."""
    return layout.root / "viewing-outbox.jsonl"


def locked(layout: Layout) -> contextlib.AbstractContextManager[None]:
    """The lock on viewing.jsonl between the serve process's appends and the sender's take."""
    return flocked(layout.root / ".viewing.lock")


def viewing_outbox(layout: Layout) -> Outbox:
    """<dir>/viewing: one item per (programme, day, player); delivered or refused ones go at once."""
    return Outbox(layout, "viewing")


Key = tuple[str, str, str]  # programme id, day, player


def _item_id(key: Key) -> str:
    return hashlib.sha256("\n".join(key).encode()).hexdigest()[:32]


def _key(item: Item) -> Key:
    b = item.body
    return str(b["programme_id"]), str(b["day"]), str(b["player"])


def _segments(item: Item) -> dict[int, float]:
    return {int(n): float(s) for n, s in item.body["segments"]}


def _item(key: Key, segments: dict[int, float]) -> Item:
    """The outbox item of a view: made (its age, its order) at the start of its Beijing day."""
    start = datetime.combine(date.fromisoformat(key[1]), time(), CHINA)
    body = {"programme_id": key[0], "day": key[1], "player": key[2], "segments": sorted(segments.items())}
    return Item(KIND, _item_id(key), start.astimezone(UTC).isoformat(), body)


def _add_lines(views: dict[Key, dict[int, float]], lines: Iterator[dict[str, Any]]) -> None:
    """Journal events ({"segment", "seconds"}) and old outbox lines ({"segments"}) into `views`."""
    for e in lines:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            key = (str(e["programme_id"]), date.fromisoformat(e["day"]).isoformat(), str(e["player"]))
            segments = views.setdefault(key, {})
            if "segments" in e:
                segments.update((int(n), float(s)) for n, s in e["segments"])
            else:
                segments[int(e["segment"])] = float(e["seconds"])


def _journal(layout: Layout) -> dict[Key, dict[int, float]]:
    views: dict[Key, dict[int, float]] = {}
    _add_lines(views, read_lines(legacy_outbox_path(layout)))
    _add_lines(views, read_lines(queue_path(layout)))
    return views


def pending(layout: Layout) -> dict[Key, dict[int, float]]:
    """Everything not yet delivered: the outbox and what the serve process queued since."""
    views: dict[Key, dict[int, float]] = {}
    for item in viewing_outbox(layout).pending():
        with contextlib.suppress(KeyError, TypeError, ValueError):
            views.setdefault(_key(item), {}).update(_segments(item))
    for key, segments in _journal(layout).items():
        views.setdefault(key, {}).update(segments)
    return views


@dataclass
class ViewingDelivery:
    sent: int  # (programme, day, player) lines the server accepted this time
    queued: int  # lines still waiting
    error: str | None  # why they wait


class ViewingSender:
    def __init__(self, layout: Layout, client: httpx.Client, site_id: int) -> None:
        self.layout, self.client, self.site_id = layout, client, site_id
        self.outbox = viewing_outbox(layout)

    def take(self) -> None:
        """Move the serve process's journal (and an old agent's outbox file) into the outbox, merging
        each view's segments with what waits already; once written there, the journal goes."""
        with locked(self.layout), self.outbox.locked():
            for key, segments in _journal(self.layout).items():
                waiting = self.outbox.get(_item_id(key))
                if waiting is not None:
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        segments = {**_segments(waiting), **segments}
                self.outbox.save(_item(key, segments))
            queue_path(self.layout).unlink(missing_ok=True)
            legacy_outbox_path(self.layout).unlink(missing_ok=True)

    def deliver(self, *, today: date | None = None) -> ViewingDelivery:
        """Post the outbox in batches, oldest days first, stopping when the server cannot be reached."""
        self.take()
        # A view's item is made at the start of its day: counted from today's, KEEP_DAYS whole days.
        midnight = datetime.combine(today or today_in_china(), time(), CHINA)
        if dropped := self.outbox.prune(now=midnight, pending=True):
            log.warning("dropped viewing evidence of %d views over %d days old", dropped, KEEP_DAYS)
        waiting = sorted(self.outbox.pending(), key=lambda i: (i.body["day"], _key(i)))
        url = f"/api/v1/sites/{self.site_id}/viewing"

        def plan(run: Run) -> Iterator[Parcel]:
            todo = list(waiting)
            while todo:
                batch: list[Item] = []
                size = 0
                while todo and len(batch) < BATCH_VIEWS:
                    if batch and size + len(todo[0].body["segments"]) > BATCH_SEGMENTS:
                        break
                    batch.append(todo.pop(0))
                    size += len(batch[-1].body["segments"])
                yield Parcel(batch, "POST", url, {"json": {"views": [i.body for i in batch]}})

        run = self.outbox.deliver(self.client, plan)
        self.take()  # the serve process may have queued more meanwhile: kept too
        queued = len(self.outbox.pending())
        if run.error:
            log.warning("viewing evidence not delivered (%s): %d views queued", run.error, queued)
        return ViewingDelivery(run.sent, queued, run.error)
