"""The channel's timeline (protocol.schedule): blocks in order cut at their end, replacements for
what is not cached, the loop outside blocks, gaps, and the same answer whatever range is asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from mediasrv.protocol.china import CHINA
from mediasrv.protocol.schedule import GAP, LOOP, REPLACED, SCHEDULED, BadSchedule, Slot, at, parse, timeline

MONDAY = datetime(2026, 12, 7, tzinfo=CHINA)  # a Monday, Beijing midnight
DURATIONS = {"a": 600.0, "b": 900.0, "c": 300.0, "f": 120.0, "card": 30.0}


def block(**kw: object) -> dict[str, object]:
    return {"id": "b1", "weekday": 1, "start": "19:00", "end": "20:00", "title": "周一学习",
            "required": True, "programmes": ["a", "b"], "region": "浙江省/嘉兴市"} | kw  # fmt: skip


def schedule(
    *blocks: dict[str, object], filler: list[str] | None = None, card: str | None = None
) -> dict[str, object]:
    return {"timezone": "Asia/Shanghai", "blocks": list(blocks), "filler": filler or [], "card": card}


def evening(doc: dict[str, object], available: set[str], order: tuple[str, ...] = ()) -> list[Slot]:
    start = MONDAY + timedelta(hours=19)
    return timeline(parse(doc), DURATIONS, available, start, start + timedelta(hours=1), order=order)


def clock(s: Slot) -> tuple[str, str, str | None, str | None, str | None, str]:
    return (
        s.start.strftime("%H:%M:%S"),
        s.end.strftime("%H:%M:%S"),
        s.programme,
        s.block,
        s.replaced,
        s.reason,
    )


def test_a_block_plays_its_programmes_in_order_then_the_filler_loops() -> None:
    slots = evening(schedule(block(), filler=["f"]), {"a", "b", "f"})
    assert [clock(s) for s in slots[:3]] == [
        ("19:00:00", "19:10:00", "a", "b1", None, SCHEDULED),
        ("19:10:00", "19:25:00", "b", "b1", None, SCHEDULED),
        ("19:25:00", "19:27:00", "f", None, None, LOOP),
    ]
    assert slots[-1].end == MONDAY + timedelta(hours=20)  # the loop is cut where the block ends


def test_a_block_is_cut_at_its_end() -> None:
    slots = evening(schedule(block(end="19:15"), filler=["f"]), {"a", "b", "f"})
    assert [clock(s) for s in slots[:3]] == [
        ("19:00:00", "19:10:00", "a", "b1", None, SCHEDULED),
        ("19:10:00", "19:15:00", "b", "b1", None, SCHEDULED),
        ("19:15:00", "19:17:00", "f", None, None, LOOP),  # the loop starts afresh after the block
    ]


def test_a_programme_not_cached_is_replaced_by_the_next_of_its_block_else_the_filler_else_a_gap() -> None:
    slots = evening(schedule(block(programmes=["a", "b", "c"]), filler=["f"]), {"b", "c", "f"})
    assert clock(slots[0]) == ("19:00:00", "19:15:00", "b", "b1", "a", REPLACED)
    alone = evening(schedule(block(programmes=["a"]), filler=["f"]), {"f"})
    assert clock(alone[0]) == ("19:00:00", "19:02:00", "f", "b1", "a", REPLACED)
    nothing = evening(schedule(block(programmes=["a"])), set())
    assert clock(nothing[0]) == ("19:00:00", "19:10:00", None, "b1", "a", GAP)  # what it stands for


def test_outside_blocks_the_filler_else_the_card_else_the_cached_programmes_else_a_gap() -> None:
    def first(doc: dict[str, object], available: set[str]) -> str | None:
        return timeline(
            parse(doc), DURATIONS, available, MONDAY, MONDAY + timedelta(minutes=1), order=("c", "a")
        )[0].programme

    assert first(schedule(filler=["f"], card="card"), {"f", "card", "a"}) == "f"
    assert first(schedule(filler=["f"], card="card"), {"card", "a"}) == "card"
    assert first(schedule(card="card"), {"a", "c"}) == "c"  # manifest order
    assert first(schedule(), set()) is None


def test_the_timeline_does_not_depend_on_the_range_asked() -> None:
    doc = parse(schedule(block(), block(id="b2", weekday=2, start="08:30", end="09:00"), filler=["f", "c"]))
    available = {"a", "b", "c", "f"}
    week = timeline(doc, DURATIONS, available, MONDAY, MONDAY + timedelta(days=7))
    for minutes in (0, 7, 19 * 60 + 11, 24 * 60 + 8 * 60 + 31, 3 * 24 * 60 + 5):
        when = MONDAY + timedelta(minutes=minutes, seconds=13)
        asked = timeline(doc, DURATIONS, available, when, when + timedelta(seconds=1))
        assert asked == [at(week, when)]
    assert all(a.end == b.start for a, b in pairwise(week))  # no holes, no overlaps
    assert {s.start.date() for s in week if s.start.time() == datetime.min.time()} == {
        (MONDAY + timedelta(days=d)).date() for d in range(7)
    }  # every day starts afresh at midnight


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "UTC"},
        {"blocks": [block(weekday=8)]},
        {"blocks": [block(start="19:60")]},
        {"blocks": [block(start="20:00", end="19:00")]},
        {"blocks": [block(), block(id="b2", start="19:30", end="21:00")]},
        {"blocks": [block(programmes="a")]},
        {"card": 3},
    ],
)
def test_a_schedule_of_another_shape_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(BadSchedule):
        parse(schedule() | bad)
