"""The site's own TV channel: its weekly schedule (as the site manifest carries it under "schedule")
and the one timeline that both the guide and the playout read, so the channel at time t plays what
the guide says at t. Standard library only: the agent imports it.

The manifest's shape (the centre layers it per region):

    {"timezone": "Asia/Shanghai",
     "blocks": [{"id", "weekday": 1..7 (ISO, Mon=1), "start": "HH:MM", "end": "HH:MM", "title",
                 "required", "programmes": [ids in play order], "region"}],
     "filler": [programme ids], "card": programme id | null}

Rules of `timeline` (Beijing time, UTC+8, no daylight saving):
- a block plays its programmes in order from its start, each once, cut at the block's end;
- a programme that is not available (not fully cached) is replaced by the next available one of the
  block after it (wrapping round), else by the loop below; the slot names the original (`replaced`);
- time outside blocks, and what a block leaves after its programmes, loops the filler, else the card,
  else the cached programmes in manifest order; each such stretch starts its loop from the first
  item, so it is anchored to the schedule, never to when someone asked. Days are cut at midnight;
- nothing playable: a gap (a slot with no programme).
Every slot starts its programme at its beginning; only a slot's end cuts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from mediasrv.protocol.china import CHINA

TIMEZONE = "Asia/Shanghai"
DAY = 24 * 60 * 60
MICRO = 1_000_000
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
# Why a slot plays what it plays (the guide shows it; the agent reports replacements).
SCHEDULED, REPLACED, LOOP, GAP = "scheduled", "not_cached", "loop", "gap"


class BadSchedule(ValueError):
    """The manifest's schedule does not have the agreed shape."""


@dataclass(frozen=True)
class Block:
    id: str
    weekday: int  # ISO: Monday 1
    start: int  # seconds after Beijing midnight
    end: int
    title: str
    required: bool
    programmes: tuple[str, ...]
    region: str = ""


@dataclass(frozen=True)
class Schedule:
    blocks: tuple[Block, ...] = ()
    filler: tuple[str, ...] = ()
    card: str | None = None
    timezone: str = TIMEZONE


@dataclass(frozen=True)
class Slot:
    """[start, end) on the channel (aware, Beijing): `programme` from its beginning, or None (a gap)."""

    start: datetime
    end: datetime
    programme: str | None
    block: str | None  # the block whose programme this is; None for the loop and gaps
    replaced: str | None  # the scheduled programme this one stands in for
    reason: str  # SCHEDULED, REPLACED, LOOP or GAP


def _seconds(clock: object, what: str) -> int:
    m = _CLOCK.match(clock) if isinstance(clock, str) else None
    if m is None or (m.group(1) == "24" and m.group(2) != "00"):
        raise BadSchedule(f"{what}: {clock!r} is not a time HH:MM")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def _ids(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise BadSchedule(f"{what} must be a list of programme ids")
    return tuple(value)


def parse(doc: Mapping[str, Any] | None) -> Schedule | None:
    """The schedule of a manifest's "schedule" value; None when the site has none. Overlapping
    blocks of one day are refused (the centre sends them resolved)."""
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise BadSchedule("the schedule must be an object")
    zone = doc.get("timezone", TIMEZONE)
    if zone != TIMEZONE:
        raise BadSchedule(f"timezone {zone!r}: only {TIMEZONE} (Beijing time) is played")
    blocks = []
    for n, b in enumerate(doc.get("blocks") or []):
        where = f"block {n + 1}"
        if not isinstance(b, Mapping) or not isinstance(b.get("id"), str):
            raise BadSchedule(f"{where} needs an id")
        weekday = b.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 1 <= weekday <= 7:
            raise BadSchedule(f"{where}: weekday must be 1..7 (Monday 1)")
        start, end = _seconds(b.get("start"), f"{where} start"), _seconds(b.get("end"), f"{where} end")
        if not start < end:
            raise BadSchedule(f"{where} ends before it starts")
        blocks.append(
            Block(
                b["id"],
                weekday,
                start,
                end,
                str(b.get("title") or ""),
                bool(b.get("required")),
                _ids(b.get("programmes", []), f"{where} programmes"),
                str(b.get("region") or ""),
            )
        )
    blocks.sort(key=lambda b: (b.weekday, b.start))
    for a, b in pairwise(blocks):
        if a.weekday == b.weekday and b.start < a.end:
            raise BadSchedule(f"blocks {a.id} and {b.id} overlap")
    card = doc.get("card")
    if card is not None and not isinstance(card, str):
        raise BadSchedule("card must be a programme id or null")
    return Schedule(tuple(blocks), _ids(doc.get("filler") or [], "filler"), card)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA)


def timeline(
    schedule: Schedule | None,
    durations: Mapping[str, float],
    available: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    order: Sequence[str] = (),
) -> list[Slot]:
    """The channel's slots that overlap [start, end), whole (not clipped), in time order. `durations`:
    seconds of each programme; `available`: those fully cached; `order`: the manifest's programmes,
    best first (the last resort of the loop). Depends on nothing else: every caller agrees."""
    length = {p: _us(d) for p, d in durations.items()}  # whole microseconds: sums are exact
    playable = {p for p in available if length.get(p, 0) > 0}
    sched = schedule or Schedule()
    loop = [p for p in sched.filler if p in playable]
    if not loop and sched.card in playable:
        loop = [sched.card]
    if not loop:
        loop = [p for p in order if p in playable]
    by_day: dict[int, list[Block]] = {}
    for b in sched.blocks:
        by_day.setdefault(b.weekday, []).append(b)
    slots: list[Slot] = []
    day = start.astimezone(CHINA).date()
    while (midnight := _day_start(day)) < end:
        since, until = _us((start - midnight).total_seconds()), _us((end - midnight).total_seconds())
        day_plan = _Day(midnight, length, playable, loop, since, until)
        for slot in day_plan.slots(by_day.get(day.isoweekday(), [])):
            if slot.end > start and slot.start < end:
                slots.append(slot)
        day += timedelta(days=1)
    return slots


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


@dataclass
class _Day:
    """One Beijing day's slots, in microseconds after midnight; only those near [since, until) are
    made (whole cycles of the loop before `since` are skipped, the same slots either way)."""

    midnight: datetime
    length: Mapping[str, int]
    playable: set[str]
    loop: list[str]
    since: int
    until: int

    def slots(self, blocks: list[Block]) -> list[Slot]:
        at, found = 0, []
        for b in blocks:
            found += self._loop(at, b.start * MICRO)
            at, block_end = b.start * MICRO, b.end * MICRO
            spare = 0  # where the loop stands when it stands in for programmes of this block
            for n, p in enumerate(b.programmes):
                if at >= block_end:
                    break
                played, reason, replaced = p, SCHEDULED, p if p not in self.playable else None
                if replaced is not None:
                    reason = REPLACED
                    after = b.programmes[n + 1 :] + b.programmes[:n]
                    played = next((q for q in after if q in self.playable), None)  # type: ignore[assignment]
                    if played is None and self.loop:
                        played, spare = self.loop[spare % len(self.loop)], spare + 1
                if played is None:  # nothing at all to play: a gap as long as the missing programme
                    missing = self.length.get(p, 0)
                    stop = min(block_end, at + missing) if missing > 0 else block_end
                else:
                    stop = min(block_end, at + self.length[played])
                found.append(self._slot(at, stop, played, b.id, replaced, reason if played else GAP))
                at = stop
            found += self._loop(at, block_end)
            at = max(at, block_end)
        return found + self._loop(at, DAY * MICRO)

    def _loop(self, start: int, end: int) -> list[Slot]:
        """[start, end) filled by the loop from its first item, the last one cut; a gap without one."""
        if start >= end or end <= self.since or start >= self.until:
            return []  # outside what was asked
        if not self.loop:
            return [self._slot(start, end, None, None, None, GAP)]
        cycle = sum(self.length[p] for p in self.loop)
        skipped = max(0, (self.since - start) // cycle - 1)  # whole cycles that end before `since`
        found, at, n = [], start + skipped * cycle, 0
        while at < end and at < self.until:
            p = self.loop[n % len(self.loop)]
            stop = min(end, at + self.length[p])
            if stop > self.since:
                found.append(self._slot(at, stop, p, None, None, LOOP))
            at, n = stop, n + 1
        return found

    def _slot(
        self,
        start: int,
        end: int,
        programme: str | None,
        block: str | None,
        replaced: str | None,
        reason: str,
    ) -> Slot:
        return Slot(
            self.midnight + timedelta(microseconds=start),
            self.midnight + timedelta(microseconds=end),
            programme,
            block,
            replaced,
            reason,
        )


def at(slots: Sequence[Slot], when: datetime) -> Slot | None:
    """The slot playing at `when`."""
    return next((s for s in slots if s.start <= when < s.end), None)
