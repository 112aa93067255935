"""Range and If-None-Match as both origins (the server, the site agent's LAN origin) read them."""

from __future__ import annotations

import pytest

from mediasrv.protocol.http import Unsatisfiable, etag_matches, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=90-500", 100, (90, 99)),  # a last byte past the end is clamped
        ("bytes=-10", 100, (90, 99)),  # the last ten bytes
        ("bytes=-500", 100, (0, 99)),
        (" bytes=0-0 ", 100, (0, 0)),
        ("bytes=0-9,20-29", 100, None),  # several ranges: the whole object (RFC 9110 allows it)
        ("bytes=-", 100, None),
        ("items=0-9", 100, None),
        ("bytes=a-b", 100, None),
    ],
)
def test_a_single_range_is_parsed_and_anything_else_means_the_whole(
    header: str | None, size: int, expected: tuple[int, int] | None
) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=9-5", "bytes=-0"])
def test_a_range_outside_the_object_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        (None, False),
        ('"abc"', True),
        ('"x", "abc"', True),
        (' "x" ,"abc" ', True),
        ("*", True),
        ('"abcd"', False),
        ('W/"abc"', False),  # a weak tag is another tag
        ("", False),
    ],
)
def test_if_none_match_names_the_tag_or_says_any(if_none_match: str | None, matches: bool) -> None:
    assert etag_matches(if_none_match, '"abc"') is matches
