"""A site's week from the blocks of its layers (province, city, county, township, village): pure, no
database, so that it is tested by itself.

Where blocks of different levels overlap, the nearer (deeper) level's block plays for the overlap and
the wider one is cut around it: the result never overlaps, and each minute any block covers is
played by the deepest block covering it. Every cut is written down (which block lost which minutes
to which), so that the centre can tell an administrator why the province's block does not play."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Slot:
    """A block as layering sees it: its id, its level (depth of its region: 0 the whole network),
    weekday (ISO) and its minutes of the Beijing day [start, end)."""

    id: int
    depth: int
    weekday: int
    start: int
    end: int


@dataclass(frozen=True)
class Piece:
    """What plays: a block, whole or the part of it left by nearer levels' blocks."""

    block: int
    weekday: int
    start: int
    end: int
    whole: bool  # the block's own times, not cut


@dataclass(frozen=True)
class Override:
    """Block `block` does not play from `start` to `end` on `weekday`: nearer block `by` does."""

    block: int
    by: int
    weekday: int
    start: int
    end: int


def _nearest_first(slots: Iterable[Slot]) -> list[Slot]:
    # Deeper first; within one level (one region: its blocks never overlap) by time, then id, so
    # that even overlapping input gives one answer.
    return sorted(slots, key=lambda s: (-s.depth, s.weekday, s.start, s.end, s.id))


def layer(slots: Sequence[Slot]) -> tuple[list[Piece], list[Override]]:
    """The pieces a site plays, sorted by (weekday, start), and the overrides, sorted alike."""
    taken: dict[int, list[tuple[int, int, int]]] = {}  # weekday -> (start, end, block) played
    pieces: list[Piece] = []
    overrides: list[Override] = []
    for slot in _nearest_first(s for s in slots if s.end > s.start):
        held = sorted(taken.setdefault(slot.weekday, []))
        cursor = slot.start
        free: list[tuple[int, int]] = []
        for start, end, by in held:
            if end <= slot.start or start >= slot.end:
                continue
            lost = (max(start, slot.start), min(end, slot.end))
            overrides.append(Override(slot.id, by, slot.weekday, *lost))
            if lost[0] > cursor:
                free.append((cursor, lost[0]))
            cursor = max(cursor, lost[1])
        if cursor < slot.end:
            free.append((cursor, slot.end))
        whole = free == [(slot.start, slot.end)]
        for start, end in free:
            pieces.append(Piece(slot.id, slot.weekday, start, end, whole))
            taken[slot.weekday].append((start, end, slot.id))
    pieces.sort(key=lambda p: (p.weekday, p.start))
    overrides.sort(key=lambda o: (o.weekday, o.start, o.block))
    return pieces, overrides


def clock(minute: int) -> str:
    """'HH:MM' of a minute of the day (1440 is '24:00', the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minute_of(text: str) -> int | None:
    """The minute of 'HH:MM' (00:00 to 24:00), or None when it is not that."""
    if len(text) != 5 or text[2] != ":" or not (text[:2].isascii() and text[3:].isascii()):
        return None
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > DAY_MINUTES:
        return None
    return value
