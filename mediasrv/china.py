"""Beijing time, which the users live in: months, days and clocks on pages and in counts are Beijing's.
China has one zone, UTC+8, with no daylight saving, so no tz database is needed (the site agent's
boxes often lack one). Standard library only: the agent imports it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def today_in_china(now: datetime | None = None) -> date:
    """The Beijing day of `now` (default: now)."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def this_month(now: datetime | None = None) -> str:
    """The Beijing month of `now` (default: now) as YYYY-MM, the months study records count under."""
    return today_in_china(now).strftime("%Y-%m")
