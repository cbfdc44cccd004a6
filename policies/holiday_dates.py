"""Public holidays from the ``holidays`` package, and fixing them into a loaded policy.

Workflows never call the package: ``load_policy`` resolves each calendar's holidays into plain
dates for the years a ticket can reach, and the policy (with those dates) is recorded in the
ticket's history. A later ``holidays`` release that adds or moves a holiday then changes new
tickets only, and never an open ticket's deadlines or its replay.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from policies.calendar_definition import ResolvedHolidays
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


def resolve_holidays(policy: Policy, year: int) -> Policy:
    """``policy`` with every calendar's holidays fixed as dates for the years around ``year``."""
    first, last = year - YEARS_BEFORE, year + YEARS_AFTER
    calendars = {}
    for name, definition in policy.calendars.items():
        source = definition.holidays
        if source is not None and source.resolved is None:
            resolved = ResolvedHolidays(
                first_year=first,
                last_year=last,
                dates=holiday_dates(source.country, source.subdivision, range(first, last + 1)),
            )
            definition = definition.model_copy(
                update={"holidays": source.model_copy(update={"resolved": resolved})}
            )
        calendars[name] = definition
    return policy.model_copy(update={"calendars": calendars})
