"""Beijing time, which the users live in: months, days and clocks on pages and in counts are Beijing's.
China has one zone, UTC+8, with no daylight saving, so no tz database is needed (the site agent's
boxes often lack one). Standard library only: the agent imports it.

This is the one clock of the server and the agent: every "today", "this month" and download window is
read from `utc_now()` through the functions below, never from `date.today()` or a naive
`datetime.now()`, which follow the machine's zone (UTC on most servers: yesterday in Beijing until 08:00).
Tests move time by replacing `utc_now`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def utc_now() -> datetime:
    """Now, as an aware UTC datetime: the clock every function here reads."""
    return datetime.now(UTC)


def now_in_china(now: datetime | None = None) -> datetime:
    """`now` (default: now) on the Beijing clock, aware."""
    return (now or utc_now()).astimezone(CHINA)


def today_in_china(now: datetime | None = None) -> date:
    """The Beijing day of `now` (default: now)."""
    return now_in_china(now).date()


def this_month(now: datetime | None = None) -> str:
    """The Beijing month of `now` (default: now) as YYYY-MM, the months study records count under."""
    return today_in_china(now).strftime("%Y-%m")
