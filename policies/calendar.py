"""Calendars say which seconds count towards an SLA target.

The SLA clock math only ever asks a calendar how much business time lies between two instants,
and at which instant a given amount of business time has passed. :class:`AlwaysOpen` (the
built-in ``24x7``) and :class:`BusinessCalendar` (opening hours in a time zone, holidays, lunch
breaks, night shifts) both answer, exactly to the microsecond.

Semantics shared by both, which the property tests pin down:

- ``add(start, d)`` is the *earliest* instant ``t >= start`` with ``elapsed(start, t) == d``:
  a target that runs out at 17:00 closing time falls due at 17:00, not at the next opening.
- ``elapsed(s, add(s, d)) == d``; ``add(add(s, a), b) == add(s, a + b)``; both are monotonic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Protocol

from policies.business_timeline import MICROSECOND, Timeline, from_us, to_us
from policies.calendar_definition import CalendarDefinition, Minutes, parse_interval
from policies.holiday_dates import holiday_lookup
from policies.model import ALWAYS_OPEN, Policy
from policies.zones import zone


class Calendar(Protocol):
    """Business time on one calendar. Arguments and results are timezone-aware datetimes."""

    @property
    def timezone(self) -> str:
        """The IANA name of the zone its hours are in (``UTC`` for 24x7)."""
        ...

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        """The instant when ``business_duration`` of business time has passed since ``start``."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between ``start`` and ``end`` (zero if ``end`` is not after ``start``)."""
        ...

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the instant it next opens."""
        ...


class AlwaysOpen:
    """The 24x7 calendar: every second is business time."""

    timezone = "UTC"

    # Arithmetic goes through UTC: Python adds and subtracts aware datetimes that share a
    # ZoneInfo by wall clock, which is an hour off across a DST change.

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        _require_aware(start)
        due = start.astimezone(UTC) + max(business_duration, timedelta(0))
        return due.astimezone(start.tzinfo)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        _require_aware(start)
        _require_aware(end)
        return max(end.astimezone(UTC) - start.astimezone(UTC), timedelta(0))

    def next_open(self, at: datetime) -> datetime:
        _require_aware(at)
        return at


class BusinessCalendar:
    """Opening hours in one time zone, with holidays and dated exceptions.

    Build it from a policy's calendar (:meth:`from_definition`) or from plain arguments in the
    policy file's own shapes::

        BusinessCalendar(
            timezone="Europe/Berlin",
            hours={"mon-fri": ["09:00-12:00", "13:00-17:00"]},
            holidays={"country": "DE", "subdivision": "BE"},
            open={"12-24": ["09:00-13:00"]},
        )

    Raises:
        pydantic.ValidationError: the arguments do not describe a calendar; the message names
            the field.
    """

    def __init__(self, **definition: Any) -> None:
        self._init(CalendarDefinition.model_validate(definition))

    @classmethod
    def from_definition(cls, definition: CalendarDefinition) -> BusinessCalendar:
        """The calendar a policy defines; shared between tickets with the same definition."""
        return _shared_calendar(definition.model_dump_json())

    def _init(self, definition: CalendarDefinition) -> None:
        self.definition = definition
        self._zone = zone(definition.timezone)
        self._weekly = [tuple(day) for day in definition.weekly_minutes()]
        self._dated: dict[date, tuple[Minutes, ...]] = {}
        self._annual: dict[tuple[int, int], tuple[Minutes, ...]] = {}
        for rule in definition.closed:
            self._set_rule(rule, ())
        for rule, intervals in definition.open.items():
            self._set_rule(rule, tuple(parse_interval(i) for i in intervals))
        self._holidays = holiday_lookup(definition.holidays)
        self._timeline = Timeline(self._zone, self.hours_on)

    def _set_rule(self, rule: str, hours: tuple[Minutes, ...]) -> None:
        if len(rule) == 5:  # MM-DD, every year
            self._annual[(int(rule[:2]), int(rule[3:]))] = hours
        else:
            self._dated[date.fromisoformat(rule)] = hours

    def hours_on(self, day: date) -> Sequence[Minutes]:
        """The open intervals of local date ``day``: its dated entry, else its month-day entry,
        else none on a public holiday, else the weekly hours (minutes after local midnight)."""
        dated = self._dated.get(day)
        if dated is not None:
            return dated
        annual = self._annual.get((day.month, day.day))
        if annual is not None:
            return annual
        if self._holidays(day):
            return ()
        return self._weekly[day.weekday()]

    @property
    def timezone(self) -> str:
        """The IANA name of the calendar's zone."""
        return self.definition.timezone

    @property
    def zone(self) -> tzinfo:
        """The calendar's zone, for showing due times in local time."""
        return self._zone

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        """The earliest instant at which ``business_duration`` of business time has passed
        since ``start``; in ``start``'s zone."""
        _require_aware(start)
        due = self._timeline.add(to_us(start), business_duration // MICROSECOND)
        return from_us(due).astimezone(start.tzinfo)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between ``start`` and ``end``; zero if ``end`` is not after it."""
        _require_aware(start)
        _require_aware(end)
        return timedelta(microseconds=self._timeline.elapsed(to_us(start), to_us(end)))

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the instant it next opens; in ``at``'s
        zone."""
        _require_aware(at)
        return from_us(self._timeline.next_open(to_us(at))).astimezone(at.tzinfo)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` is business time."""
        # Compared as instants: aware datetimes sharing a ZoneInfo compare by wall clock, which
        # cannot tell the two 01:30s of an autumn night apart.
        return to_us(self.next_open(at)) == to_us(at)


@lru_cache(maxsize=256)
def _shared_calendar(definition_json: str) -> BusinessCalendar:
    # Keyed on the definition's JSON: tickets of one policy share one calendar and its built
    # timeline, which is a pure function of the definition, so sharing cannot leak state.
    calendar = BusinessCalendar.__new__(BusinessCalendar)
    calendar._init(CalendarDefinition.model_validate_json(definition_json))
    return calendar


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; SLA math needs aware datetimes")


CalendarSet = Mapping[str, Calendar]
"""Calendars by the names policies use for them."""


def builtin_calendars() -> dict[str, Calendar]:
    """The calendars every policy has without declaring them."""
    return {ALWAYS_OPEN: AlwaysOpen()}


def policy_calendars(policy: Policy) -> dict[str, Calendar]:
    """The built-in calendars plus every calendar ``policy`` defines."""
    calendars = builtin_calendars()
    for name, definition in policy.calendars.items():
        calendars[name] = BusinessCalendar.from_definition(definition)
    return calendars
