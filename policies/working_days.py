"""Targets in working days (``2bd``, ``eod``, ``2bd eod``) as exact business durations.

A working-day target becomes a plain business duration the moment its clock starts: the business
time from the start to the instant it falls due. The clock keeps that duration as its target, so
pauses, priority changes and late events treat it as any other target. The rules, all in the
calendar's own zone (``24x7``: UTC, every date open 00:00-24:00):

- A *working day* is a local date with open hours. An interval belongs to the date it starts on,
  so a night shift 22:00-06:00 is one working day, and its *close* is the end of its last
  interval (06:00 the next morning).
- The clock's *start day* is the working day of the first instant it counts: the start itself
  when the calendar is open then, else its next opening. A clock started in a lunch break starts
  on that same day; one started at night or at the weekend, on the next working day.
- ``Nbd`` (1 to 60) falls due at the wall-clock time of day the clock started counting, on the
  Nth working day after the start day, kept within that day: no earlier than the close of the
  working day before it, no later than its own close. From 10:00 on a Monday, ``1bd`` on a
  Mon-Fri 09:00-17:00 calendar is due on Tuesday at 10:00: one full working day. So a day that
  opens only after that time of day adds nothing, and one that closes before it adds all its
  hours. Across a DST change the wall time is kept (the day is an hour shorter or longer, as
  lived); a wall time skipped in spring moves forward by the gap, and in the hour repeated in
  autumn a clock started in either pass is due at its own wall time.
- ``eod`` falls due at the close of the start day; ``Nbd eod`` at the close of the Nth working
  day after it.

Closed time counts nothing, so a due instant in a closed stretch (a day that opens later than
the clock started, a lunch break) is the same business moment as the close before it, and the
clock shows it due there, as it does any target that runs out at a closing time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from policies.business_timeline import BeyondReach
from policies.calendar import AlwaysOpen, BusinessCalendar, Calendar
from policies.calendar_definition import Minutes
from policies.durations import TargetSpec, WorkingDays
from policies.model import ALWAYS_OPEN, ClockName, Policy, Targets

SEARCH_DAYS = 400 * 366
"""How far ahead a working day is looked for: as far as the calendar math reaches."""

_WHOLE_DAY: tuple[Minutes, ...] = ((0, 1440),)

Interval = tuple[datetime, datetime]


def resolve_target(
    target: TargetSpec | None, calendar: Calendar, start: datetime
) -> timedelta | None:
    """The business time a clock that starts at ``start`` on ``calendar`` has for ``target``.

    A duration is returned as it is, and None (no target) stays None. Working days become the
    business time from ``start`` to :func:`working_days_due`; None when the calendar does not
    reach that day within :data:`SEARCH_DAYS` (for SLA purposes, never).
    """
    if not isinstance(target, WorkingDays):
        return target
    try:
        return calendar.elapsed(start, working_days_due(target, calendar, start))
    except (BeyondReach, OverflowError):  # OverflowError: past the year 9999
        return None


def clock_target(
    targets: Targets, clock: ClockName, start: datetime, policy: Policy
) -> timedelta | None:
    """The business-time target of ``clock`` under ``targets``, for a clock that started (or
    starts) counting at ``start``; None when it has no target.

    Only a target in working days builds its calendar (from ``policy``): plain durations cost
    nothing beyond the lookup.
    """
    target = targets.for_clock(clock)
    if not isinstance(target, WorkingDays):
        return target
    calendar: Calendar = (
        AlwaysOpen()
        if targets.calendar == ALWAYS_OPEN
        else BusinessCalendar.from_definition(policy.calendars[targets.calendar])
    )
    return resolve_target(target, calendar, start)


def working_days_due(target: WorkingDays, calendar: Calendar, start: datetime) -> datetime:
    """The instant ``target`` falls due for a clock that starts at ``start``, in ``start``'s
    zone (see the module's rules).

    Raises:
        BeyondReach: no working day within :data:`SEARCH_DAYS`.
        OverflowError: the due day would lie past the year 9999.
        TypeError: ``calendar`` is neither the built-in 24x7 nor a :class:`BusinessCalendar`.
    """
    days = _WorkingDays(calendar)
    first = calendar.next_open(start).astimezone(UTC)
    start_day = day = days.containing(first)
    before = close = days.close(day)
    for _ in range(target.days):
        day = days.after(day)
        # A running maximum: dated hours may overlap the night shift of the day before.
        before, close = close, max(close, days.close(day))
    if target.end_of_day:
        due = close
    else:
        # The wall-clock time of day the clock started counting, on the due day; a night shift
        # counted past midnight keeps its offset from its own day's midnight (26:00 is 02:00
        # the next morning).
        offset = first.astimezone(days.zone).replace(tzinfo=None) - datetime.combine(
            start_day, time()
        )
        due = min(max(_wall(day, offset, days.zone), before), close)
    return due.astimezone(start.tzinfo)


class _WorkingDays:
    """The working days of one calendar, as UTC intervals per local date."""

    def __init__(self, calendar: Calendar) -> None:
        self.zone, self._hours_on = _day_hours(calendar)

    def intervals(self, day: date) -> list[Interval]:
        """The open intervals of ``day`` that have real time, as the calendar lays them out:
        wall times with fold=0, so one inside a skipped DST hour is left out."""
        midnight = datetime.combine(day, time(), tzinfo=self.zone)
        found = []
        for start, end in self._hours_on(day):
            # Aware arithmetic here is wall-clock arithmetic, as in the calendar's timeline.
            opens = (midnight + timedelta(minutes=start)).astimezone(UTC)
            closes = (midnight + timedelta(minutes=end)).astimezone(UTC)
            if closes > opens:
                found.append((opens, closes))
        return found

    def close(self, day: date) -> datetime:
        """When the working day ``day`` ends: the end of its last interval."""
        return max(end for _, end in self.intervals(day))

    def containing(self, moment: datetime) -> date:
        """The working day whose hours hold the open instant ``moment``: its own local date,
        or the date before when a night shift runs past midnight (the earlier one wins)."""
        local = moment.astimezone(self.zone).date()
        for day in (local - timedelta(days=1), local):
            if any(opens <= moment < closes for opens, closes in self.intervals(day)):
                return day
        # Unreachable: the calendar's open time is exactly the union of its dates' intervals.
        raise AssertionError(f"{moment.isoformat()} is open on no working day")

    def after(self, day: date) -> date:
        """The first working day after ``day``."""
        for _ in range(SEARCH_DAYS):
            day += timedelta(days=1)
            if self.intervals(day):
                return day
        raise BeyondReach(f"the calendar has no working day within {SEARCH_DAYS} days")


def _day_hours(calendar: Calendar) -> tuple[tzinfo, Callable[[date], Sequence[Minutes]]]:
    if isinstance(calendar, AlwaysOpen):
        return UTC, lambda day: _WHOLE_DAY
    if isinstance(calendar, BusinessCalendar):
        # The calendar's own reading of a date (dated entry, month-day entry, holiday, weekly
        # hours), so working days can never disagree with the time it counts.
        return calendar.zone, calendar.hours_on
    raise TypeError(f"working days need a 24x7 or business calendar, not {calendar!r}")


def _wall(day: date, offset: timedelta, zone: tzinfo) -> datetime:
    """The instant of wall time ``offset`` after local midnight of ``day`` (fold=0)."""
    return (datetime.combine(day, time()) + offset).replace(tzinfo=zone).astimezone(UTC)
