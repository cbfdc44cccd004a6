"""Holiday dates from a calendar's ``holidays:`` sources, and fixing them into a loaded policy.

Workflows never call the ``holidays`` package or read an iCalendar file: ``load_policy`` resolves
each calendar's holidays (public holidays, and the events of its ``ical`` file, which the loader
has read) into plain dates for the years a ticket can reach, and the policy (with those dates) is
recorded in the ticket's history. A later ``holidays`` release, or an edited ``.ics`` file, then
changes new tickets only, and never an open ticket's deadlines or its replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import lru_cache

from policies.calendar_definition import HolidaySource, ResolvedHolidays
from policies.holiday_feed import HolidayFeed, feed_dates
from policies.model import Policy

YEARS_BEFORE = 1
YEARS_AFTER = 5
"""Resolved years around the load year: a ticket's clocks rarely reach further, and days beyond
count as ordinary days of the week (documented in the policy reference)."""


def holiday_dates(country: str, subdivision: str | None, years: Iterable[int]) -> dict[date, str]:
    """Public holidays by date, from the ``holidays`` package."""
    import holidays  # imported late: sizeable, and only policy loading needs it

    found = holidays.country_holidays(country, subdiv=subdivision, years=list(years))
    return {day: str(name) for day, name in sorted(found.items())}


def source_dates(source: HolidaySource, first_year: int, last_year: int) -> dict[date, str]:
    """Every holiday ``source`` gives from ``first_year`` to ``last_year`` (both included):
    public holidays and the ical file's events, names joined by ``"; "`` on a shared date.

    Raises:
        ValueError: ``source`` names an ical file that was not read (a policy validated from
            text has no folder to read it from: use ``policies.loader.read_policy_file``).
    """
    years = range(first_year, last_year + 1)
    parts: list[dict[date, str]] = []
    if source.country is not None:
        parts.append(holiday_dates(source.country, source.subdivision, years))
    if source.ical is not None:
        parts.append(feed_dates(_read_feed(source), first_year, last_year))
    if len(parts) == 1:
        return parts[0]
    names: dict[date, list[str]] = {}
    for part in parts:
        for day, name in part.items():
            on_day = names.setdefault(day, [])
            if name not in on_day:
                on_day.append(name)
    return {day: "; ".join(names[day]) for day in sorted(names)}


def resolve_holidays(policy: Policy, year: int) -> Policy:
    """``policy`` with every calendar's holidays fixed as dates for the years around ``year``.

    The ical file's events give way to their dates and the file's digest (``ical_sha256``): the
    resolved policy travels in every ticket's history, and the dates are all a ticket needs.

    Raises:
        ValueError: a calendar names an ical file that was not read (see :func:`source_dates`).
    """
    first, last = year - YEARS_BEFORE, year + YEARS_AFTER
    calendars = {}
    for name, definition in policy.calendars.items():
        source = definition.holidays
        if source is not None and source.resolved is None:
            resolved = ResolvedHolidays(
                first_year=first,
                last_year=last,
                dates=source_dates(source, first, last),
                ical_sha256=source.feed.sha256 if source.feed is not None else None,
            )
            definition = definition.model_copy(
                update={"holidays": source.model_copy(update={"resolved": resolved, "feed": None})}
            )
        calendars[name] = definition
    return policy.model_copy(update={"calendars": calendars})


def holiday_lookup(source: HolidaySource | None) -> Callable[[date], bool]:
    """Whether a date is a holiday of ``source``.

    A resolved source answers from its fixed dates only, so the answer never depends on the
    installed package. An unresolved one (engineers' own tools, policy checks) asks the package
    and expands the ical file's events for any year, a year at a time.

    Raises:
        ValueError: ``source`` names an ical file that was not read (see :func:`source_dates`).
    """
    if source is None:
        return lambda day: False
    if source.resolved is not None:
        return frozenset(source.resolved.dates).__contains__
    if source.ical is None and source.country is not None:
        country, subdivision = source.country, source.subdivision
        return lambda day: day in _package_holidays(country, subdivision, day.year)
    if source.ical is not None:
        _read_feed(source)  # fail now, not at the first date asked
    by_year: dict[int, frozenset[date]] = {}

    def is_holiday(day: date) -> bool:
        dates = by_year.get(day.year)
        if dates is None:
            # Calendars are shared between threads: two filling one year store equal sets.
            dates = by_year[day.year] = frozenset(source_dates(source, day.year, day.year))
        return day in dates

    return is_holiday


def _read_feed(source: HolidaySource) -> HolidayFeed:
    if source.feed is None:
        raise ValueError(
            f"holidays.ical: {source.ical} has not been read; read the policy from its file "
            "(policies.loader.read_policy_file) so the file beside it is read too"
        )
    return source.feed


@lru_cache(maxsize=512)
def _package_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holiday_dates(country, subdivision, [year]))
