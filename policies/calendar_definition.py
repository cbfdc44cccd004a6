"""How a policy file defines a business-hours calendar (the ``calendars:`` section).

```yaml
calendars:
  support-hours:
    timezone: America/New_York
    hours:
      mon-fri: ["09:00-12:30", "13:30-17:30"]   # a lunch break
      sat: ["10:00-14:00"]
    holidays: {country: US, subdivision: NY}    # and/or ical: company-holidays.ics
    closed: [2026-12-31, "01-02"]               # a date, or a month-day every year
    open:
      "12-24": ["09:00-13:00"]                  # a partial day, every year
      2026-11-28: ["10:00-16:00"]               # an extra open Saturday
```

Times are wall-clock times in ``timezone``. An interval whose end is before its start crosses
midnight (``22:00-06:00``) and belongs to the day it starts on. Precedence for a date: its own
``open``/``closed`` entry, then a month-day entry, then a holiday, then the weekly hours.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from policies.holiday_feed import HolidayFeed, feed_name_problem
from policies.zones import zone

MINUTES_PER_DAY = 1440
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")

Minutes = tuple[int, int]
"""An open interval as minutes after local midnight; the end is above 1440 past midnight."""


def parse_interval(text: str) -> Minutes:
    """``"09:00-17:00"`` to ``(540, 1020)``; ``"22:00-06:00"`` to ``(1320, 1800)``.

    Raises:
        ValueError: the text is not ``HH:MM-HH:MM`` with real times, or opens for no time.
    """
    match = _INTERVAL.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an interval such as 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{text!r} has a time that does not exist (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == start:
        raise ValueError(f"{text!r} is open for no time; write 00:00-24:00 for a whole day")
    if end < start:
        end += MINUTES_PER_DAY  # crosses midnight into the next day
    return start, end


def format_interval(interval: Minutes) -> str:
    """The inverse of :func:`parse_interval`."""
    start, end = interval
    shown_end = end if end <= MINUTES_PER_DAY else end - MINUTES_PER_DAY
    return f"{start // 60:02d}:{start % 60:02d}-{shown_end // 60:02d}:{shown_end % 60:02d}"


def _interval(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an interval such as 09:00-17:00 (quote it in YAML)")
    return format_interval(parse_interval(value))


def _day_set(key: str) -> list[int]:
    """``mon-fri`` / ``sat,sun`` / ``daily`` / ``weekdays`` to weekday numbers (Monday 0)."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if part in {"daily", "everyday"}:
            days += range(7)
        elif part == "weekdays":
            days += range(5)
        elif part == "weekends":
            days += [5, 6]
        elif "-" in part:
            first, _, last = part.partition("-")
            if first not in DAY_NAMES or last not in DAY_NAMES:
                raise ValueError(f"{key!r}: day ranges are like mon-fri")
            a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
            days += range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        elif part in DAY_NAMES:
            days.append(DAY_NAMES.index(part))
        else:
            raise ValueError(
                f"{key!r} is not a day: use mon..sun, a range (mon-fri), a list (sat,sun), "
                "weekdays, weekends or daily"
            )
    return days


def _date_rule(value: Any) -> str:
    """A date (``2026-12-24``) or a month-day every year (``12-24``), as text."""
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    month_day = _MONTH_DAY.match(text)
    try:
        if month_day:
            date(2000, int(month_day[1]), int(month_day[2]))  # 2000 is a leap year: 02-29 is fine
        else:
            text = date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: write 2026-12-24, or 12-24 for every year"
        ) from None
    return text


def _zone(name: str) -> str:
    zone(name)  # raises ValueError naming the zone
    return name


@cache
def supported_countries() -> dict[str, list[str]]:
    """Countries (ISO 3166-1 alpha-2) the ``holidays`` package knows, with their subdivisions."""
    import holidays  # imported late: it is sizeable and only policy validation needs it here

    return {
        code: list(subdivisions)
        for code, subdivisions in holidays.list_supported_countries().items()
    }


OpenInterval = Annotated[str, BeforeValidator(_interval)]
DateRule = Annotated[str, BeforeValidator(_date_rule)]
TimeZoneName = Annotated[str, AfterValidator(_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolvedHolidays(_Strict):
    """Holiday dates fixed when a ticket loads its policy, so a later ``holidays`` release or an
    edited ``.ics`` file cannot move an open ticket's deadlines (or break its replay)."""

    first_year: int
    last_year: int
    dates: dict[date, str]
    ical_sha256: str | None = Field(
        default=None, description="SHA-256 of the ical file whose events are among the dates"
    )


def _feed_name(name: str) -> str:
    problem = feed_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


class HolidaySource(_Strict):
    """Days closed all day: public holidays from the ``holidays`` package (``country``), the
    all-day events of an iCalendar file beside the policy file (``ical``), or both."""

    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code, such as US")
    subdivision: str | None = Field(default=None, description="State or region, such as NY")
    ical: Annotated[str, AfterValidator(_feed_name)] | None = Field(
        default=None, description="An .ics file in the policy file's folder"
    )
    feed: HolidayFeed | None = Field(
        default=None, description="The ical file's events, read by the loader; not written by hand."
    )
    resolved: ResolvedHolidays | None = Field(
        default=None, description="Filled in by load_policy; not written by hand."
    )

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        if self.resolved is not None:
            return self  # already resolved: the package that did so vouched for the country
        if self.feed is not None and self.ical is None:
            raise ValueError("feed: is read from the file named by ical; give ical instead")
        if self.country is None:
            if self.subdivision is not None:
                raise ValueError(
                    f"subdivision {self.subdivision!r} needs a country: {{country: US, "
                    "subdivision: NY}"
                )
            if self.ical is None:
                raise ValueError(
                    "give country (public holidays), ical (an .ics file beside the policy file) "
                    "or both"
                )
            return self
        countries = supported_countries()
        if self.country not in countries:
            raise ValueError(
                f"country {self.country!r} is not supported by the holidays package; use an "
                "ISO 3166-1 alpha-2 code such as US, GB, DE, IN or AU"
            )
        subdivisions = countries[self.country]
        if self.subdivision is not None and self.subdivision not in subdivisions:
            raise ValueError(
                f"subdivision {self.subdivision!r} is not one of {self.country}'s: "
                f"{', '.join(subdivisions) or 'it has none'}"
            )
        return self


def _overlaps(intervals: list[Minutes]) -> list[tuple[Minutes, Minutes]]:
    ordered = sorted(intervals)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b[0] < a[1]]


class CalendarDefinition(_Strict):
    """A business-hours calendar as written in a policy file."""

    timezone: TimeZoneName
    hours: dict[str, list[OpenInterval]]
    holidays: HolidaySource | None = None
    closed: list[DateRule] = []
    open: dict[DateRule, list[OpenInterval]] = {}

    @model_validator(mode="after")
    def _consistent(self) -> CalendarDefinition:
        problems: list[str] = []
        week = self.weekly_minutes_or_problems(problems)
        # Lay the week on a circle of 7 days so Sunday's night shift meets Monday morning.
        circle = [
            (day * MINUTES_PER_DAY + s, day * MINUTES_PER_DAY + e)
            for day, intervals in enumerate(week)
            for s, e in intervals
        ]
        week_end = 7 * MINUTES_PER_DAY
        circle += [(s - week_end, e - week_end) for s, e in circle if e > week_end]
        for a, b in _overlaps(circle):
            problems.append(
                f"hours: {_describe(a)} overlaps {_describe(b)}; each moment may be listed once"
            )
        if not any(week):
            problems.append("hours: the calendar is never open; give at least one interval")
        for rule, intervals in self.open.items():
            parsed = [parse_interval(i) for i in intervals]
            for a, b in _overlaps(parsed):
                problems.append(f"open.{rule}: {format_interval(a)} overlaps {format_interval(b)}")
            if not intervals:
                problems.append(f"open.{rule}: no hours given; list the date under closed instead")
        closed_every_year = {rule for rule in self.closed if len(rule) == 5}
        if len(closed_every_year) >= 366:
            problems.append(
                "closed: every day of the year is closed; the calendar would never open"
            )
        problems += [
            f"closed.{rule}: also listed under open; a date is either open or closed"
            for rule in self.closed
            if rule in self.open
        ]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def weekly_minutes_or_problems(self, problems: list[str]) -> list[list[Minutes]]:
        """Open intervals per weekday (Monday first); bad day keys are added to ``problems``."""
        week: list[list[Minutes]] = [[] for _ in range(7)]
        seen: dict[int, str] = {}
        for key, intervals in self.hours.items():
            try:
                days = _day_set(key)
            except ValueError as exc:
                problems.append(f"hours.{key}: {exc}")
                continue
            for day in days:
                if day in seen:
                    problems.append(
                        f"hours.{key}: {DAY_NAMES[day]} is already given by {seen[day]!r}"
                    )
                    continue
                seen[day] = key
                week[day] = [parse_interval(i) for i in intervals]
        return week

    def weekly_minutes(self) -> list[list[Minutes]]:
        """Open intervals per weekday, Monday first."""
        return self.weekly_minutes_or_problems([])


def _describe(interval: Minutes) -> str:
    day = (interval[0] // MINUTES_PER_DAY) % 7
    start = interval[0] % MINUTES_PER_DAY
    return f"{DAY_NAMES[day]} {format_interval((start, start + interval[1] - interval[0]))}"
