"""Calendars say which seconds count towards an SLA target.

The SLA clock math only ever asks a calendar two things: how much business time lies between
two instants, and at which instant a given amount of business time has passed. This module
defines that interface and the always-open calendar; business-hours calendars (time zones,
holidays, lunch breaks) implement the same two methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from policies.model import ALWAYS_OPEN


class Calendar(Protocol):
    """Business time on one calendar. Arguments and results are timezone-aware datetimes."""

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        """The instant when ``business_duration`` of business time has passed since ``start``."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between ``start`` and ``end`` (zero if ``end`` is not after ``start``)."""
        ...


class AlwaysOpen:
    """The 24x7 calendar: every second is business time."""

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        _require_aware(start)
        return start + business_duration

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        _require_aware(start)
        _require_aware(end)
        return max(end - start, timedelta(0))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; SLA math needs aware datetimes")


CalendarSet = Mapping[str, Calendar]
"""Calendars by the names policies use for them."""


def builtin_calendars() -> dict[str, Calendar]:
    """The calendars every policy has without declaring them."""
    return {ALWAYS_OPEN: AlwaysOpen()}
