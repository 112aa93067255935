"""The site's own TV channel (本站频道), played from the cache by `mediasrv-site serve`.

The manifest's "schedule" (protocol.schedule) and what the cache holds give one timeline; the live
HLS playlist (/channel.m3u8) and the guide (/epg.xml, /epg.json) both read it, so a box shows what
the guide says. The playlist lists the cached segments of each programme's rendition for this site's
device profile (the media playlist its `play` file names), served by the files route: no
transcoding, and a segment going to a player counts as viewing of its programme (agent.viewing).

Live playlist facts (RFC 8216): a window of the last WINDOW segments that have started, no ENDLIST;
segment n of a Beijing day is numbered day.toordinal() * 2**20 + n and the discontinuity sequence
counts the same way, so every refresh agrees and the numbers only grow. Each slot of the timeline
starts with EXT-X-DISCONTINUITY and EXT-X-PROGRAM-DATE-TIME; a slot cut short (a block's end)
drops the segment it would cut, leaving a gap of less than a segment rather than running late. At
midnight the window starts afresh (numbers of a new day). A changed cache or manifest changes the
timeline from then on: boxes playing then may jump once.

A scheduled programme that is not cached yet is replaced (protocol.schedule's rules) and, when its
slot plays, noted once in <dir>/channel-replaced.jsonl with the replacement. The server has no
report kind for it yet, so it stays on the site and the site view shows it.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import os
import posixpath
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from mediasrv.agent.layout import AgentError, Layout
from mediasrv.protocol.china import CHINA
from mediasrv.protocol.document import ranked
from mediasrv.protocol.schedule import REPLACED, BadSchedule, Schedule, Slot, parse, timeline
from mediasrv.protocol.viewing import media_segments, resolve

log = logging.getLogger("mediasrv.agent")

NAME = "本站频道"
WINDOW = 6  # segments in the live playlist
NUMBERS_PER_DAY = 2**20  # segment and discontinuity numbers of a day: far more than a day holds
RECHECK_SECONDS = 30.0  # how long what the cache holds is trusted before the disk is looked at again
GUIDE_DAYS = 7
EPSILON = 1e-3  # seconds: EXTINF sums in float


@dataclass(frozen=True)
class Media:
    """A programme as the channel plays it: its rendition's segments (manifest paths, seconds)."""

    segments: tuple[tuple[str, float], ...]

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.segments)


@dataclass(frozen=True)
class Holdings:
    """What the channel can play: every programme's media that is wholly on disk."""

    media: Mapping[str, Media]
    titles: Mapping[str, str]
    required: frozenset[str]
    order: tuple[str, ...]
    schedule: Schedule | None
    site_code: str
    target: int  # EXT-X-TARGETDURATION: no segment of the channel is longer

    @property
    def durations(self) -> dict[str, float]:
        return {p: m.seconds for p, m in self.media.items()}


@dataclass(frozen=True)
class Segment:
    start: float  # epoch seconds: when it plays on the channel
    seconds: float
    path: str
    programme: str
    slot: int  # index of its slot in the day's timeline
    first: bool  # the first of its slot: EXT-X-DISCONTINUITY and EXT-X-PROGRAM-DATE-TIME


@dataclass
class Day:
    """One Beijing day of the channel: its timeline and its segments in play order."""

    day: date
    slots: list[Slot]
    segments: list[Segment]
    starts: list[float] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)  # discontinuities before segment n: breaks[n]

    def __post_init__(self) -> None:
        self.starts = [s.start for s in self.segments]
        self.breaks = [0]
        for s in self.segments:
            self.breaks.append(self.breaks[-1] + s.first)


def media_of(layout: Layout, files: Mapping[str, Mapping[str, Any]], play: str) -> Media | None:
    """The media a programme's `play` file leads to (a master's first variant, or a media playlist
    itself), when it is made of TS segments and all of them are on disk at their listed size."""
    text = _read(layout, files, play)
    if text is None:
        return None
    if "#EXTINF:" not in text:  # a master playlist: the profile's rendition is its (first) variant
        lines = [ln.strip() for ln in text.splitlines()]
        uri = next(
            (
                nxt
                for i, ln in enumerate(lines)
                if ln.startswith("#EXT-X-STREAM-INF")
                for nxt in lines[i + 1 :]
                if nxt and not nxt.startswith("#")
            ),
            None,
        )
        media_path = resolve(posixpath.dirname(play), uri) if uri else None
        if media_path is None or (text := _read(layout, files, media_path)) is None:
            return None
    else:
        media_path = play
    folder = posixpath.dirname(media_path)
    segments = []
    for uri, seconds in media_segments(text):
        path = resolve(folder, uri)
        if path is None or not path.endswith(".ts") or path not in files or seconds <= 0:
            return None
        try:
            if layout.file(path).stat().st_size != files[path]["size"]:
                return None
        except (OSError, AgentError):
            return None
        segments.append((path, seconds))
    return Media(tuple(segments)) if segments else None


def _read(layout: Layout, files: Mapping[str, Mapping[str, Any]], path: str) -> str | None:
    if path not in files:
        return None
    try:
        return layout.file(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, AgentError):
        return None


def holdings(
    layout: Layout,
    doc: Mapping[str, Any],
    files: Mapping[str, Mapping[str, Any]],
    held: Mapping[str, Media] | None = None,
) -> Holdings:
    """What the channel can play of the applied manifest `doc` (its files by path). `held`: what was
    found whole under this same manifest before, taken as it is (a sync only adds files to it)."""
    media: dict[str, Media] = {}
    titles: dict[str, str] = {}
    required: set[str] = set()
    order = []
    for p in ranked(doc):
        titles[p["id"]] = " ".join(str(p["title"]).split())  # one line in guides and on screens
        order.append(p["id"])
        if p["required"]:
            required.add(p["id"])
        if found := (held or {}).get(p["id"]) or media_of(layout, files, p["play"]):
            media[p["id"]] = found
    try:
        schedule = parse(doc.get("schedule"))
    except BadSchedule as exc:  # the rest of the channel still plays: the loop of cached programmes
        log.warning("the manifest's schedule is not played: %s", exc)
        schedule = None
    longest = max((s for m in media.values() for _, s in m.segments), default=1.0)
    return Holdings(
        media,
        titles,
        frozenset(required),
        tuple(order),
        schedule,
        str(doc.get("site", {}).get("code", "")),
        max(1, math.ceil(longest - EPSILON)),
    )


def plan_day(held: Holdings, day: date) -> Day:
    """The day's slots and the segments that play them (a slot's last segment only when whole)."""
    midnight = datetime.combine(day, datetime.min.time(), CHINA)
    slots = timeline(
        held.schedule,
        held.durations,
        held.media.keys(),
        midnight,
        midnight + timedelta(days=1),
        order=held.order,
    )
    segments: list[Segment] = []
    for n, slot in enumerate(slots):
        if slot.programme is None or slot.start < midnight:
            continue  # a gap; or yesterday's (slots never cross midnight: safety only)
        start, length, offset, first = (
            slot.start.timestamp(),
            (slot.end - slot.start).total_seconds(),
            0.0,
            True,
        )
        for path, seconds in held.media[slot.programme].segments:
            if offset + seconds > length + EPSILON:
                break
            segments.append(Segment(start + offset, seconds, path, slot.programme, n, first))
            offset, first = offset + seconds, False
    return Day(day, slots, segments)


class Channel:
    """The channel of a site's cache, for the serve process: holdings and days kept while the
    manifest and the disk say the same (RECHECK_SECONDS), so a playlist costs a bisect."""

    def __init__(self, layout: Layout, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._held: tuple[object, float, Holdings] | None = None
        self._checking = False  # a request is looking at the disk
        self._days: dict[date, Day] = {}
        self._noted: set[tuple[str, str, str | None, str]] = set()

    def holdings(
        self, stamp: object, doc: Mapping[str, Any], files: Mapping[str, Mapping[str, Any]]
    ) -> Holdings:
        """What the cache holds: looked at again when the manifest changed, or every RECHECK_SECONDS
        by one request while the others go on with what was found last (a box must not wait)."""
        with self._lock:
            now = self._monotonic()
            before = None
            if self._held is not None and self._held[0] == stamp:
                if self._checking or now - self._held[1] < RECHECK_SECONDS:
                    return self._held[2]
                before = self._held[2].media  # only what was missing is looked for
            self._checking = True
        try:
            held = holdings(self.layout, doc, files, before)  # outside the lock: the disk is slow
        finally:
            with self._lock:
                self._checking = False
        with self._lock:
            if self._held is None or self._held[2] != held:
                self._days.clear()  # a new timeline from now on
            else:
                held = self._held[2]
            self._held = (stamp, now, held)
            return held

    def day(self, held: Holdings, day: date) -> Day:
        with self._lock:
            if self._held is not None and self._held[2] is held and (found := self._days.get(day)):
                return found
        planned = plan_day(held, day)
        with self._lock:
            if self._held is not None and self._held[2] is held:
                if len(self._days) > 3:  # yesterday, today, tomorrow: flat memory
                    self._days.clear()
                self._days[day] = planned
        return planned

    def playlist(self, held: Holdings, now: datetime) -> str | None:
        """The live media playlist at `now`; None when nothing has played in the last window."""
        today = self.day(held, now.astimezone(CHINA).date())
        t = now.timestamp()
        last = bisect.bisect_right(today.starts, t)
        first = max(0, last - WINDOW)
        stale = t - (WINDOW + 1) * held.target  # a window that ended long ago is not live
        while first < last and today.segments[first].start + today.segments[first].seconds < stale:
            first += 1
        if first >= last:
            return None
        base = today.day.toordinal() * NUMBERS_PER_DAY
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{held.target}",
            f"#EXT-X-MEDIA-SEQUENCE:{base + first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{base + today.breaks[first]}",
        ]
        for n in range(first, last):
            s = today.segments[n]
            if s.first:
                lines.append("#EXT-X-DISCONTINUITY")
            if s.first or n == first:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(s.start)}")
            lines += [f"#EXTINF:{s.seconds:.3f},", "files/" + quote(s.path)]
        for n in {today.segments[n].slot for n in range(first, last)}:
            self._note(today, today.slots[n])
        return "\n".join(lines) + "\n"

    def _note(self, today: Day, slot: Slot) -> None:
        """A replacement on air: noted once (per slot) in channel-replaced.jsonl."""
        if slot.reason != REPLACED or slot.replaced is None:
            return
        key = (today.day.isoformat(), slot.block or "", slot.replaced, slot.start.isoformat())
        with self._lock:
            if key in self._noted:
                return
            self._noted = self._noted if len(self._noted) < 10_000 else set()
            self._noted.add(key)
        line = {
            "day": key[0],
            "block": slot.block,
            "start": slot.start.isoformat(),
            "programme_id": slot.replaced,
            "replacement_id": slot.programme,
        }
        try:
            with replaced_path(self.layout).open("a", encoding="utf-8") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:  # a full disk must not stop the channel
            log.warning("channel replacement not noted: %s", exc)

    def slots(self, held: Holdings, start: datetime, *, hours: int = GUIDE_DAYS * 24) -> list[Slot]:
        """The timeline from the slot playing at `start` for `hours` (the guide)."""
        end = start + timedelta(hours=hours)
        return timeline(held.schedule, held.durations, held.media.keys(), start, end, order=held.order)


def replaced_path(layout: Layout) -> Path:
    return layout.root / "channel-replaced.jsonl"


def replacements(layout: Layout, limit: int = 20) -> list[dict[str, Any]]:
    """The latest replacements noted, newest first (the site view shows them)."""
    try:
        with replaced_path(layout).open("rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 64 * 1024))
            tail = f.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for raw in reversed(tail):
        try:
            found.append(json.loads(raw))
        except ValueError:
            continue
        if len(found) >= limit:
            break
    return found


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CHINA).isoformat(timespec="milliseconds")


# --- the guide ----------------------------------------------------------------------------------


def channel_id(held: Holdings) -> str:
    """The channel's tvg-id in the channel list and its id in the guide."""
    return f"mediasrv-{held.site_code or 'site'}"


def _entry(held: Holdings, slot: Slot, blocks: Mapping[str, Any]) -> dict[str, Any]:
    block = blocks.get(slot.block) if slot.block else None
    return {
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "programme_id": slot.programme,
        "title": held.titles.get(slot.programme, slot.programme) if slot.programme else "暂无节目",
        "required": slot.programme in held.required,
        "block_id": slot.block,
        "block_title": block.title if block else None,
        "block_required": bool(block and block.required),
        "replaced_id": slot.replaced,
        "replaced_title": held.titles.get(slot.replaced, slot.replaced) if slot.replaced else None,
        "reason": slot.reason,
    }


def guide_json(held: Holdings, slots: list[Slot], now: datetime) -> dict[str, Any]:
    """The guide for the site view: what plays now and next, and the slots by Beijing day."""
    blocks = {b.id: b for b in held.schedule.blocks} if held.schedule else {}
    entries = [_entry(held, s, blocks) for s in slots]
    current = next((i for i, s in enumerate(slots) if s.start <= now < s.end), None)
    upcoming = next((i for i, s in enumerate(slots) if s.start > now and s.programme), None)
    days: dict[str, list[dict[str, Any]]] = {}
    for s, e in zip(slots, entries, strict=True):
        days.setdefault(s.start.date().isoformat(), []).append(e)
    return {
        "channel": {"id": channel_id(held), "name": NAME},
        "now": now.astimezone(CHINA).isoformat(),
        "current": entries[current] if current is not None else None,
        "next": entries[upcoming] if upcoming is not None else None,
        "days": [
            {"date": d, "weekday": date.fromisoformat(d).isoweekday(), "slots": e} for d, e in days.items()
        ],
    }


def _xmltv_time(when: datetime) -> str:
    return when.astimezone(CHINA).strftime("%Y%m%d%H%M%S +0800")


def guide_xml(held: Holdings, slots: list[Slot]) -> bytes:
    """XMLTV: the channel and its programmes at Beijing times (gaps are left out)."""
    tv = ET.Element("tv", {"generator-info-name": "mediasrv-site"})
    chan = ET.SubElement(tv, "channel", {"id": channel_id(held)})
    ET.SubElement(chan, "display-name", {"lang": "zh"}).text = NAME
    blocks = {b.id: b for b in held.schedule.blocks} if held.schedule else {}
    for slot in slots:
        if slot.programme is None:
            continue
        e = ET.SubElement(
            tv,
            "programme",
            {"start": _xmltv_time(slot.start), "stop": _xmltv_time(slot.end), "channel": channel_id(held)},
        )
        ET.SubElement(e, "title", {"lang": "zh"}).text = held.titles.get(slot.programme, slot.programme)
        desc = []
        if slot.block and (block := blocks.get(slot.block)):
            desc.append(f"{block.title}（{'必学' if block.required else '选学'}）")
        if slot.replaced:
            desc.append(f"代替尚未下载完的《{held.titles.get(slot.replaced, slot.replaced)}》")
        if desc:
            ET.SubElement(e, "desc", {"lang": "zh"}).text = "；".join(desc)
        ET.SubElement(e, "category", {"lang": "zh"}).text = (
            "必学" if slot.programme in held.required else "选学"
        )
    body = ET.tostring(tv, encoding="unicode")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n' + body + "\n"
    ).encode()
