"""Automatic viewing evidence (自动收看记录): which segments of which programme went to which player,
counted by the site agent's LAN origin (source 'agent') and by the central HLS delivery for site
callers (source 'central'), kept apart and shown beside the hand-written logbook.

Storage. One row per (site, Beijing day, programme, source, player) holds the set of segments that
player was served, as a bitmap (bit n: the n-th segment of the media playlist, which all renditions
share), and the sum of their #EXTINF seconds. One row per segment would be ~450 rows for one showing
of a 45-minute film, over 100 million a month at 25,000 sites; one per player and day keeps a month
near a million rows, small enough for the regional roll-up to aggregate on SQLite and PostgreSQL.
Adding segments is a set union: idempotent and order-free, so a batch re-sent after a lost answer,
or the same segment counted by two API processes, changes nothing.

Measures. A player's minutes on a day = the seconds of the distinct segments it was served. A
programme's minutes on a day = the most any one player saw (the film shown on the TV to the
meeting; a second box in the room does not add to it); `players` says how many players saw any of
it. Over a list's period, the daily figures are summed (a film shown over two evenings counts
whole) and capped at the programme's duration (shown twice, it still counts once).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediasrv.catalog.models import Programme
from mediasrv.db import Database, insert_for, utcnow
from mediasrv.ingest.models import Rendition
from mediasrv.kit.errors import ObjectNotFound
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.viewing import MAX_SEGMENT as MAX_SEGMENT  # the schema of posted views checks it
from mediasrv.protocol.viewing import media_segments, player_id, resolve
from mediasrv.sites.models import Site
from mediasrv.storage import ObjectStore, keys
from mediasrv.study.models import ViewingDay, mark_dirty

log = logging.getLogger(__name__)


class Source(StrEnum):
    AGENT = "agent"  # the site's own LAN origin (mediasrv-site serve)
    CENTRAL = "central"  # the central server's /hls and /s/.../hls, for a site's callers


@dataclass(frozen=True)
class View:
    """What one player was served of a programme on a day: segment number -> seconds."""

    programme_id: str
    day: date
    player: str
    segments: dict[int, float]


@dataclass(frozen=True)
class Recorded:
    views: int  # (programme, day, player) rows touched
    added: int  # segments new to the evidence
    unknown: list[str]  # programme ids not in the catalog: ignored


def _merge(bits: bytes, millis: int, segments: dict[int, float]) -> tuple[bytes, int, int]:
    """The union of a stored bitmap with new segments: (bitmap, millis, segments added)."""
    value = int.from_bytes(bits, "little")
    added = 0
    for n, seconds in segments.items():
        if not value >> n & 1:
            value |= 1 << n
            millis += round(seconds * 1000)
            added += 1
    return value.to_bytes((value.bit_length() + 7) // 8, "little"), millis, added


def record(session: Session, site_id: int, source: Source, views: Iterable[View]) -> Recorded:
    """Add views to a site's evidence; segments already known change nothing (see the module doc).

    Rows are first inserted empty if missing (insert-or-ignore), then read for update and merged:
    starting with a write takes SQLite's write lock before the read, and PostgreSQL locks the rows,
    so two writers merging into one row (two API processes, a re-sent batch) never lose a segment."""
    merged: dict[tuple[date, str, str], dict[int, float]] = defaultdict(dict)
    for v in views:
        merged[(v.day, v.programme_id, v.player)].update(
            (n, s) for n, s in v.segments.items() if 0 <= n <= MAX_SEGMENT and s > 0
        )
    wanted = {pid for _, pid, _ in merged}
    known = set(session.scalars(select(Programme.id).where(Programme.id.in_(wanted)))) if wanted else set()
    merged = {k: s for k, s in merged.items() if k[1] in known and s}
    if not merged:
        return Recorded(0, 0, sorted(wanted - known))
    now = utcnow()
    rows = [
        {"site_id": site_id, "day": d, "programme_id": p, "source": source.value, "player": u,
         "segments": b"", "millis": 0, "updated_at": now}
        for d, p, u in sorted(merged)
    ]  # fmt: skip
    session.execute(insert_for(session, ViewingDay).values(rows).on_conflict_do_nothing())
    stored = session.scalars(
        select(ViewingDay)
        .where(
            ViewingDay.site_id == site_id,
            ViewingDay.source == source.value,
            ViewingDay.day.in_({d for d, _, _ in merged}),
            ViewingDay.programme_id.in_({p for _, p, _ in merged}),
            ViewingDay.player.in_({u for _, _, u in merged}),
        )
        .order_by(ViewingDay.day, ViewingDay.programme_id, ViewingDay.player)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    added = 0
    for row in stored:
        segments = merged.get((row.day, row.programme_id, row.player))
        if segments is None:
            continue
        bits, millis, new = _merge(row.segments, row.millis, segments)
        if new:
            row.segments, row.millis, row.updated_at = bits, millis, now
            added += new
    session.flush()
    if added:
        mark_dirty(session, site_id, {d for d, _, _ in merged})
    return Recorded(len(merged), added, sorted(wanted - known))


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyViewing:
    day: date
    programme_id: str
    title: str
    source: Source
    minutes: float  # the most one player saw
    players: int


def daily(session: Session, site_id: int, *, first: date, last: date) -> list[DailyViewing]:
    """A site's days: per day, programme and source, the minutes and the players."""
    query = (
        select(
            ViewingDay.day,
            ViewingDay.programme_id,
            Programme.title,
            ViewingDay.source,
            func.max(ViewingDay.millis).label("millis"),
            func.count().label("players"),
        )
        .join(Programme, Programme.id == ViewingDay.programme_id)
        .where(ViewingDay.site_id == site_id, ViewingDay.day >= first, ViewingDay.day <= last)
        .group_by(ViewingDay.day, ViewingDay.programme_id, Programme.title, ViewingDay.source)
        .order_by(ViewingDay.day, ViewingDay.programme_id, ViewingDay.source)
    )
    return [
        DailyViewing(r.day, r.programme_id, r.title, Source(r.source), round(r.millis / 60_000, 1), r.players)
        for r in session.execute(query)
    ]


def watched(
    session: Session,
    *,
    first: date,
    last: date,
    programme_ids: Sequence[str],
    site_ids: Sequence[int] | None = None,
) -> dict[tuple[int, str, Source], float]:
    """Minutes per (site, programme, source) over [first, last]: the daily most-one-player-saw,
    summed over the days (the caller caps them at the duration). Two grouped passes in the
    database, one row out per (site, programme, source)."""
    if not programme_ids:
        return {}
    conditions = [ViewingDay.day >= first, ViewingDay.day <= last]
    # Given sites: their rows by the primary key (site, day), programmes picked below; a programme
    # condition would send SQLite through the (programme, day) index, across every site.
    if site_ids is not None:
        conditions.append(ViewingDay.site_id.in_(site_ids))
    else:
        conditions.append(ViewingDay.programme_id.in_(programme_ids))
    per_day = (
        select(
            ViewingDay.site_id,
            ViewingDay.programme_id,
            ViewingDay.source,
            func.max(ViewingDay.millis).label("millis"),
        )
        .where(*conditions)
        .group_by(ViewingDay.site_id, ViewingDay.programme_id, ViewingDay.source, ViewingDay.day)
        .subquery()
    )
    query = select(
        per_day.c.site_id, per_day.c.programme_id, per_day.c.source, func.sum(per_day.c.millis)
    ).group_by(per_day.c.site_id, per_day.c.programme_id, per_day.c.source)
    wanted = set(programme_ids)
    return {
        (s, p, Source(src)): float(millis or 0) / 60_000
        for s, p, src, millis in session.execute(query)
        if p in wanted
    }


# --- the central counter -----------------------------------------------------------------------

Event = tuple[int, str, str, str, str, date]  # site, asset, generation, path, player, day


class CentralCounter:
    """Segments the API process served to site callers, kept in memory and written in batches:
    no database work per segment (`note` is a set insert), a flush every `interval` seconds, when
    `batch` events wait, and at shutdown. A segment's number and seconds come from its media
    playlist, read from storage once per rendition and generation (immutable) and kept; a playlist
    served by this process is learnt as it goes out. Events that cannot be written (the database
    is down) are kept for the next flush, up to `limit`."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        *,
        interval: float = 10.0,
        batch: int = 5_000,
        limit: int = 500_000,
    ) -> None:
        self.db, self.store = db, store
        self.interval, self.batch, self.limit = interval, batch, limit
        self._lock = threading.Lock()
        self._pending: set[Event] = set()
        self._playlists: dict[tuple[str, str, str], dict[str, tuple[int, float]]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(
        self,
        *,
        site_id: int,
        asset_id: str,
        generation: str,
        path: str,
        address: str,
        user_agent: str,
        now: datetime | None = None,
    ) -> None:
        if "/" not in path or path.endswith(".m3u8"):
            return  # only segments, which live in a rendition's folder
        event = (
            site_id,
            asset_id,
            generation,
            path,
            player_id(site_id, address, user_agent),
            today_in_china(now),
        )
        with self._lock:
            if len(self._pending) < self.limit:
                self._pending.add(event)
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()

    def learn(self, asset_id: str, generation: str, path: str, text: str) -> None:
        """A media playlist this process just served: no need to read it again from storage."""
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        if folder:
            parsed = _numbered(folder, text)
            with self._lock:
                self._remember((asset_id, generation, folder), parsed)

    def _remember(self, key: tuple[str, str, str], parsed: dict[str, tuple[int, float]]) -> None:
        if len(self._playlists) >= 10_000:
            self._playlists.clear()  # bounded; refilled from storage
        self._playlists[key] = parsed

    def _segments(
        self, session: Session, asset_id: str, generation: str, folder: str
    ) -> dict[str, tuple[int, float]]:
        key = (asset_id, generation, folder)
        with self._lock:
            found = self._playlists.get(key)
        if found is not None:
            return found
        playlist_key = session.scalar(
            select(Rendition.playlist_key).where(Rendition.asset_id == asset_id, Rendition.name == folder)
        )
        parsed: dict[str, tuple[int, float]] = {}
        if playlist_key is not None:  # the generation served may be older than the rendition row's
            name = playlist_key.rsplit("/", 1)[-1]
            try:
                text = b"".join(
                    self.store.read(keys.generation_file(asset_id, generation, f"{folder}/{name}"))
                ).decode()
                parsed = _numbered(folder, text)
            except (ObjectNotFound, UnicodeDecodeError):
                pass  # superseded and deleted: nothing to count it by
        with self._lock:
            self._remember(key, parsed)
        return parsed

    def flush(self) -> int:
        """Write what waits; the number of segment events written."""
        with self._lock:
            events, self._pending = self._pending, set()
        if not events:
            return 0
        try:
            with self.db.session_scope() as session:
                self._write(session, events)
        except Exception:
            log.exception("viewing evidence not written; kept for the next flush")
            with self._lock:
                room = max(0, self.limit - len(self._pending))
                self._pending |= set(list(events)[:room])
            return 0
        return len(events)

    def _write(self, session: Session, events: set[Event]) -> None:
        assets = {e[1] for e in events}
        programmes: dict[str, list[str]] = defaultdict(list)
        for pid, asset_id in session.execute(
            select(Programme.id, Programme.asset_id).where(Programme.asset_id.in_(assets))
        ):
            programmes[asset_id or ""].append(pid)
        by_site: dict[int, dict[tuple[str, date, str], dict[int, float]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for site_id, asset_id, generation, path, player, day in events:
            if not programmes.get(asset_id):
                continue  # not (or no longer) a programme's film: no evidence of anything
            hit = self._segments(session, asset_id, generation, path.rsplit("/", 1)[0]).get(path)
            if hit is None:
                continue
            for pid in programmes[asset_id]:
                by_site[site_id][(pid, day, player)][hit[0]] = hit[1]
        # A site deleted since its player was served has nothing left to judge (and no row to refer to).
        sites = set(session.scalars(select(Site.id).where(Site.id.in_(list(by_site))))) if by_site else set()
        for site_id, views in sorted(by_site.items()):  # in site order, as refreshes lock summaries
            if site_id not in sites:
                continue
            record(
                session,
                site_id,
                Source.CENTRAL,
                [View(p, d, u, segments) for (p, d, u), segments in views.items()],
            )

    # --- the background flusher ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="viewing-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def stop(self) -> None:
        """Stop the flusher and write what waits (at shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


def _numbered(folder: str, text: str) -> dict[str, tuple[int, float]]:
    """A media playlist's segments as rendition-folder paths -> (number, seconds)."""
    found: dict[str, tuple[int, float]] = {}
    for number, (uri, seconds) in enumerate(media_segments(text)):
        if (path := resolve(folder, uri)) is not None:
            found[path] = (number, seconds)
    return found
