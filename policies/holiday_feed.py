"""A holiday feed: the all-day events of an iCalendar file, and the dates they close.

``policies/ical_feed.py`` reads an ``.ics`` file into a :class:`HolidayFeed`; the loader attaches
it to the calendar whose ``holidays: {ical: ...}`` names the file, and :func:`feed_dates` turns it
into dates for a span of years when the policy loads. Every date is a plain calendar date, read
in the calendar's own time zone like ``closed`` dates, so daylight saving time plays no part.

A yearly repeat (``RRULE:FREQ=YEARLY``) is kept as a :class:`YearlyRule` and expanded here for the
years asked, in the shapes holidays take: a month and day (``BYMONTH=12;BYMONTHDAY=25``), the nth
weekday of a month (``BYMONTH=11;BYDAY=4TH``, ``BYMONTH=5;BYDAY=-1MO``), or ``DTSTART``'s own
month and day, with ``INTERVAL``, ``COUNT`` and ``UNTIL``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_EVENT_DAYS = 366
"""The longest event a feed may hold: a closure of more than a year is a mistake, and the bound
keeps expanding a hostile feed cheap."""

MAX_REPEAT_COUNT = 1000
"""A yearly repeat's ``COUNT``: a thousand years is for ever, and the bound keeps counting cheap
(leave ``COUNT`` out to repeat every year)."""

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
BY_DAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")
"""A ``BYDAY`` entry of a yearly holiday: a weekday, optionally the nth of its month (4TH, -1MO)."""

_FEED_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._ -]{0,95}\.ics", re.IGNORECASE)
_ONE_DAY = timedelta(days=1)


def feed_name_problem(name: str) -> str | None:
    """Why ``name`` is not the plain name of an ``.ics`` file in the policy's folder, or None.

    No separators, no leading dot (so no ``..``), no control characters: the loader joins the
    name to the policy file's folder and must never reach a file outside it.
    """
    if _FEED_NAME.fullmatch(name):  # not match: "$" would allow a trailing newline
        return None
    shown = repr(name[:80])
    if "/" in name or "\\" in name or name.startswith("~"):
        return (
            f"{shown} is a path; give the name of an .ics file in the policy file's folder, "
            "such as company-holidays.ics"
        )
    if not name.lower().endswith(".ics"):
        return f"{shown} is not an .ics file name, such as company-holidays.ics"
    return (
        f"{shown} must be 5-100 letters, digits, '.', '-', '_' or spaces ending in .ics, and not "
        "start with '.' or a space"
    )


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Month = Annotated[int, Field(ge=1, le=12)]
MonthDay = Annotated[int, Field(ge=-31, le=31)]
ByDay = Annotated[str, Field(pattern=BY_DAY.pattern)]


class YearlyRule(_Data):
    """An ``RRULE:FREQ=YEARLY`` as holidays use it.

    ``month_days`` and ``weekdays`` need ``months`` (the reader refuses them alone); with neither,
    the event repeats on ``DTSTART``'s day of each month in ``months`` (or of its own month).
    ``weekdays`` with ``month_days`` keeps the month days that fall on those weekdays.
    """

    interval: int = Field(default=1, ge=1)
    count: int | None = Field(default=None, ge=1, le=MAX_REPEAT_COUNT)
    until: date | None = None
    months: list[Month] = []
    month_days: list[MonthDay] = Field(default=[], description="1..31, or -1 for the last day")
    weekdays: list[ByDay] = Field(default=[], description="MO..SU, or the nth: 4TH, -1MO")


class FeedEvent(_Data):
    """One all-day event: closed ``days`` days from ``start``, and on each yearly repeat."""

    name: str
    start: date
    days: int = Field(default=1, ge=1, le=MAX_EVENT_DAYS)
    repeat: YearlyRule | None = None
    except_on: list[date] = Field(
        default=[], description="Starts of repeats that do not happen (EXDATE, moved instances)"
    )


class HolidayFeed(_Data):
    """An iCalendar file's holidays, as the loader read them."""

    sha256: str = Field(description="Of the file's bytes: which version of the file this is")
    events: list[FeedEvent] = []


def feed_dates(feed: HolidayFeed, first_year: int, last_year: int) -> dict[date, str]:
    """Every date from 1 January ``first_year`` to 31 December ``last_year`` that an event of
    ``feed`` covers, with the event's name (names joined by ``"; "`` where events share a date).
    """
    first, last = date(first_year, 1, 1), date(last_year, 12, 31)
    names: dict[date, list[str]] = {}
    for event in feed.events:
        # An occurrence that starts before the span may still reach into it.
        for start in _starts(event, _shift(first, 1 - event.days), last):
            day, end = max(start, first), min(_shift(start, event.days - 1), last)
            while day <= end:
                on_day = names.setdefault(day, [])
                if event.name not in on_day:
                    on_day.append(event.name)
                if day == date.max:
                    break
                day += _ONE_DAY
    return {day: "; ".join(names[day]) for day in sorted(names)}


def _shift(day: date, days: int) -> date:
    # Clamped: a span next to year 1 or 9999 must not overflow.
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


def _starts(event: FeedEvent, earliest: date, latest: date) -> Iterator[date]:
    skipped = set(event.except_on)
    starts = [event.start] if event.repeat is None else _repeats(event, earliest, latest)
    for start in starts:
        if earliest <= start <= latest and start not in skipped:
            yield start


def _repeats(event: FeedEvent, earliest: date, latest: date) -> Iterator[date]:
    rule, start = event.repeat, event.start
    assert rule is not None  # only called for repeating events
    yield start  # DTSTART is always the first occurrence (RFC 5545, 3.8.5.3)
    count, year = 1, start.year
    if rule.count is None and earliest.year > year:
        # Without a count, earlier years cannot change which later ones repeat: skip them.
        year += (earliest.year - year) // rule.interval * rule.interval
    while year <= latest.year:
        for day in _days_in_year(rule, start, year):
            if day <= start:
                continue
            if (rule.until is not None and day > rule.until) or (
                rule.count is not None and count >= rule.count
            ):
                return
            count += 1
            yield day
        year += rule.interval


def _days_in_year(rule: YearlyRule, start: date, year: int) -> list[date]:
    found: set[date] = set()
    for month in rule.months or [start.month]:
        length = calendar.monthrange(year, month)[1]
        if rule.month_days:
            wanted = {WEEKDAYS.index(spec[-2:]) for spec in rule.weekdays}
            for number in rule.month_days:
                day = number if number > 0 else length + 1 + number
                if 1 <= day <= length and (
                    not wanted or date(year, month, day).weekday() in wanted
                ):
                    found.add(date(year, month, day))
        elif rule.weekdays:
            for spec in rule.weekdays:
                match = BY_DAY.match(spec)
                assert match is not None  # the field's pattern
                first = (WEEKDAYS.index(match[2]) - date(year, month, 1).weekday()) % 7 + 1
                matching = list(range(first, length + 1, 7))
                if match[1] is not None:
                    nth = int(match[1])
                    index = nth - 1 if nth > 0 else nth
                    matching = [matching[index]] if -len(matching) <= index < len(matching) else []
                found.update(date(year, month, day) for day in matching)
        elif start.day <= length:  # a 29 February repeats in leap years only
            found.add(date(year, month, start.day))
    return sorted(found)
