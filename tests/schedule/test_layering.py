"""A site's week from its layers' blocks (mediasrv.schedule.layering): never overlapping, the nearest
level's block wherever any block covers a minute, every cut written down."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from mediasrv.schedule.layering import DAY_MINUTES, Override, Piece, Slot, clock, layer, minute_of

# Blocks of one level belong to one region (a site's layers: one region per level), whose blocks the
# service keeps apart: a level is drawn as cut points of one weekday, every other gap a block.


@st.composite
def levels(draw: st.DrawFn) -> list[Slot]:
    slots: list[Slot] = []
    ident = 0
    for level in range(draw(st.integers(1, 5))):
        for weekday in draw(st.sets(st.integers(1, 7), max_size=3)):
            cuts = sorted(draw(st.sets(st.integers(0, DAY_MINUTES), min_size=2, max_size=8)))
            for start, end in zip(cuts[::2], cuts[1::2], strict=False):
                ident += 1
                slots.append(Slot(ident, level, weekday, start, end))
    return slots


def _nearest(slots: list[Slot], weekday: int, minute: int) -> Slot | None:
    covering = [s for s in slots if s.weekday == weekday and s.start <= minute < s.end]
    return max(covering, key=lambda s: s.depth, default=None)


@settings(max_examples=300, deadline=None)
@given(levels())
def test_the_week_never_overlaps_and_the_nearest_level_plays_every_minute(slots: list[Slot]) -> None:
    pieces, overrides = layer(slots)
    assert pieces == sorted(pieces, key=lambda p: (p.weekday, p.start))
    for first, second in pairwise(pieces):
        assert first.weekday < second.weekday or first.end <= second.start, (first, second)
    by_id = {s.id: s for s in slots}
    for weekday in range(1, 8):
        for minute in range(0, DAY_MINUTES, 5):
            nearest = _nearest(slots, weekday, minute)
            playing = [p for p in pieces if p.weekday == weekday and p.start <= minute < p.end]
            if nearest is None:
                assert playing == []
                continue
            [piece] = playing
            assert by_id[piece.block].depth == nearest.depth
            # Every block covering the minute other than the one playing lost it, to the one playing.
            for s in slots:
                if s.weekday == weekday and s.start <= minute < s.end and s.id != piece.block:
                    assert any(
                        o.block == s.id and o.by == piece.block and o.start <= minute < o.end
                        for o in overrides
                    ), (s, piece)
    for o in overrides:
        assert by_id[o.by].depth > by_id[o.block].depth  # only a nearer level overrides
    for p in pieces:
        block = by_id[p.block]
        assert block.start <= p.start < p.end <= block.end
        assert p.whole == ((p.start, p.end) == (block.start, block.end))


def test_a_township_block_inside_the_countys_cuts_it_in_two() -> None:
    county = Slot(1, 3, 3, 9 * 60, 12 * 60)  # 星期三 09:00–12:00
    town = Slot(2, 4, 3, 10 * 60, 11 * 60)  # 10:00–11:00
    province = Slot(3, 1, 4, 0, DAY_MINUTES)  # Thursday, all day: nobody nearer
    pieces, overrides = layer([county, town, province])
    assert pieces == [
        Piece(1, 3, 540, 600, False),
        Piece(2, 3, 600, 660, True),
        Piece(1, 3, 660, 720, False),
        Piece(3, 4, 0, 1440, True),
    ]
    assert overrides == [Override(1, 2, 3, 600, 660)]


def test_times_are_hh_mm_from_midnight_to_midnight() -> None:
    assert [minute_of(t) for t in ("00:00", "09:30", "24:00")] == [0, 570, 1440]
    for bad in ("9:30", "09:60", "24:01", "25:00", "0930", "09:3０", "ab:cd", "", "09:30:00", "-1:00"):
        assert minute_of(bad) is None, bad
    assert clock(0) == "00:00" and clock(570) == "09:30" and clock(1440) == "24:00"
