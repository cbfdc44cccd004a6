"""Read an iCalendar (``.ics``) file's bytes into a :class:`HolidayFeed`, with the ``icalendar``
package; no file access here (``policies/loader.py`` reads the file).

What counts as a holiday, and what is refused with a message naming the event:

- every ``VEVENT`` with an all-day ``DTSTART`` (``VALUE=DATE``): closed from ``DTSTART`` up to,
  not including, ``DTEND``; for ``DURATION`` whole days; one day when neither is given;
- a yearly repeat (``RRULE:FREQ=YEARLY``, see ``policies/holiday_feed.py``) with its ``EXDATE``,
  ``RDATE`` dates and moved or cancelled instances (``RECURRENCE-ID``);
- ``STATUS:CANCELLED`` events do not count; other components (to-dos, time zones) are ignored.

Refused: an event with a time of day (a half-day closure would otherwise close the whole day, and
its date would depend on a zone the feed and the calendar may not share: give partial days under
``open``), other repeat frequencies (a weekly closure belongs in ``hours``), and files that are
not UTF-8 iCalendar text.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from policies.holiday_feed import BY_DAY, MAX_EVENT_DAYS, FeedEvent, HolidayFeed, YearlyRule

MAX_REPEATING_EVENTS = 200
"""Repeating events in one file: a company has a few dozen yearly holidays, and each repeat
costs a walk through the years up to the resolved ones."""
MAX_NAME_CHARS = 100
"""A holiday's name as kept (its ``SUMMARY``): names travel in every ticket's history."""
MAX_FEED_DAYS = 10_000
"""Days closed by a file's dated events, all together: decades of a company's holidays take a
few thousand; the bound keeps fixing them into dates cheap."""
MAX_DATES_PER_YEAR = 31
"""Dates one yearly repeat may give in a year (a month of them, such as Fridays in summer)."""
MAX_PROBLEMS_SHOWN = 10

_RULE_FIELDS = {"interval": "INTERVAL", "count": "COUNT", "months": "BYMONTH", "until": "UNTIL"}
_RULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "WKST"}


def parse_feed(data: bytes, default_name: str) -> HolidayFeed:
    """The holidays in iCalendar ``data``; an event without a ``SUMMARY`` is named
    ``default_name`` (the file's name).

    Raises:
        ValueError: the data is not an iCalendar file, or events in it cannot be holidays; one
            problem per line, each naming the event (``VEVENT 3 'Founders Day': ...``).
    """
    import icalendar  # imported late: only loading a policy with a feed needs it

    text = _text(data)
    try:
        found = icalendar.Calendar.from_ical(text, multiple=True)
    except ValueError as exc:
        raise ValueError(f"not a valid iCalendar file: {_shown(str(exc))}") from None
    calendars = [c for c in found if isinstance(c, icalendar.Calendar)]
    if not calendars:
        raise ValueError("not an iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR")
    events = [event for cal in calendars for event in cal.walk("VEVENT")]
    reader = _Reader(default_name, _moved_instances(events))
    for number, event in enumerate(events, 1):
        reader.read(number, event)
    repeating = sum(event.repeat is not None for event in reader.events)
    if repeating > MAX_REPEATING_EVENTS:
        reader.problems.append(
            f"{repeating} events repeat; a holiday file may hold at most {MAX_REPEATING_EVENTS} "
            "repeating events (give the others as dated events)"
        )
    dated = sum(event.days for event in reader.events if event.repeat is None)
    if dated > MAX_FEED_DAYS:
        reader.problems.append(
            f"its dated events close {dated:,} days in all; a holiday file closes at most "
            f"{MAX_FEED_DAYS:,}: remove past years, or give long closures as fewer events"
        )
    if reader.problems:
        shown = reader.problems[:MAX_PROBLEMS_SHOWN]
        if len(reader.problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"and {len(reader.problems) - MAX_PROBLEMS_SHOWN} more problems")
        raise ValueError("\n".join(shown))
    return HolidayFeed(sha256=hashlib.sha256(data).hexdigest(), events=reader.events)


def _text(data: bytes) -> str:
    if b"\x00" in data:
        raise ValueError("holds binary data (NUL bytes), not iCalendar text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not UTF-8 text (byte {exc.start:,} cannot be decoded); save it as UTF-8"
        ) from None
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise ValueError("is not an iCalendar file: it must begin with BEGIN:VCALENDAR")
    return text


def _shown(text: str, limit: int = 80) -> str:
    # The parser quotes lines of the file; keep what reaches an error (and a ticket's history)
    # short and free of control characters.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _name(value: Any, default: str) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value or "")).split())
    if len(text) > MAX_NAME_CHARS:
        text = text[: MAX_NAME_CHARS - 3].rstrip() + "..."
    return text or default


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _moved_instances(events: list[Any]) -> dict[str, set[date]]:
    # A RECURRENCE-ID event replaces one instance of the repeating event with its UID.
    moved: dict[str, set[date]] = {}
    for event in events:
        try:
            instance = event.RECURRENCE_ID
        except ValueError:
            continue  # reported when the event itself is read
        if instance is not None:
            moved.setdefault(str(event.get("UID", "")), set()).add(_day(instance))
    return moved


class _Reader:
    """Turns VEVENTs into feed events, collecting every problem."""

    def __init__(self, default_name: str, moved: dict[str, set[date]]) -> None:
        self.default_name = default_name
        self.moved = moved
        self.events: list[FeedEvent] = []
        self.problems: list[str] = []

    def read(self, number: int, event: Any) -> None:
        summary = event.get("SUMMARY")
        label = f"VEVENT {number}" + (f" {_name(summary, '')[:40]!r}" if summary else "")
        try:
            self._read(event, _name(summary, self.default_name))
        except ValueError as exc:
            self.problems.append(f"{label}: {_shown(str(exc), 200)}")

    def _read(self, event: Any, name: str) -> None:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            return  # its instance, if it is one, is skipped by _moved_instances
        if event.errors:
            prop, problem = event.errors[0]
            raise ValueError(f"cannot read {prop}: {problem}")
        start = event.DTSTART
        if start is None:
            raise ValueError("has no DTSTART")
        if isinstance(start, datetime):
            raise ValueError(
                f"starts at a time of day ({start:%Y-%m-%d %H:%M}); only all-day events are "
                "holidays: make it an all-day event, or give that day's hours under open"
            )
        days = _length(event, start)
        instance = event.get("RECURRENCE-ID")
        if isinstance(instance, list):
            raise ValueError(f"has {len(instance)} RECURRENCE-IDs; give one")
        if instance is not None and instance.params.get("RANGE"):
            raise ValueError("moves this and all later instances (RANGE); edit the series itself")
        skipped = {_day(day) for day in event.exdates}
        repeat = None
        if instance is None:
            repeat = _repeat(event.rrules)
            skipped |= self.moved.get(str(event.get("UID", "")), set())
        extras = []
        for extra, period in event.rdates:
            if period is not None or isinstance(extra, datetime):
                raise ValueError("has an RDATE with a time of day; give extra dates as dates")
            if extra not in skipped:
                extras.append(FeedEvent(name=name, start=extra, days=days))
        self.events.append(
            FeedEvent(name=name, start=start, days=days, repeat=repeat, except_on=sorted(skipped))
        )
        self.events += extras


def _length(event: Any, start: date) -> int:
    """Days the event closes: DTEND is exclusive (RFC 5545, 3.6.1)."""
    end, duration = event.DTEND, event.DURATION
    days: int
    if end is not None:
        if isinstance(end, datetime):
            raise ValueError("DTEND has a time of day but DTSTART is a date")
        days = (end - start).days
        if days < 1:
            raise ValueError(
                f"ends ({end}) before it starts ({start}); DTEND is the day after the last one"
            )
    elif duration is not None:
        if duration < timedelta(days=1) or duration % timedelta(days=1):
            raise ValueError(f"DURATION {duration} is not a whole number of days")
        days = duration.days
    else:
        days = 1
    if days > MAX_EVENT_DAYS:
        raise ValueError(f"lasts {days:,} days; a holiday event is at most {MAX_EVENT_DAYS} days")
    if (date.max - start).days < days - 1:
        raise ValueError("ends after the year 9999")
    return days


def _repeat(rules: list[Any]) -> YearlyRule | None:
    if not rules:
        return None
    if len(rules) > 1:
        raise ValueError(f"has {len(rules)} RRULEs; give one")
    parts = {str(key).upper(): list(values) for key, values in rules[0].items()}
    frequency = [str(value).upper() for value in parts.get("FREQ", [])]
    if frequency != ["YEARLY"]:
        raise ValueError(
            f"repeats {'/'.join(frequency) or 'without FREQ'}; only yearly repeats "
            "(FREQ=YEARLY) are holidays: give weekly closures in the calendar's hours"
        )
    unknown = sorted(set(parts) - _RULE_PARTS)
    if unknown:
        raise ValueError(
            f"its RRULE uses {', '.join(unknown)}; a yearly holiday may use BYMONTH with "
            "BYMONTHDAY or BYDAY (such as 4TH or -1MO), INTERVAL, COUNT and UNTIL"
        )
    months = parts.get("BYMONTH", [])
    if any(getattr(month, "leap", False) for month in months):
        raise ValueError("its RRULE names a leap month (BYMONTH=5L); use a Gregorian month")
    weekdays = [str(day).upper() for day in parts.get("BYDAY", [])]
    month_days = [int(day) for day in parts.get("BYMONTHDAY", [])]
    _check_shape({int(month) for month in months}, set(month_days), set(weekdays))
    interval = parts.get("INTERVAL", [1])[0]
    count = parts.get("COUNT", [None])[0]
    until = parts.get("UNTIL", [None])[0]
    try:
        return YearlyRule(
            interval=int(interval),
            count=None if count is None else int(count),
            until=None if until is None else _day(until),
            months=sorted({int(month) for month in months}),
            month_days=sorted(set(month_days)),
            weekdays=sorted(set(weekdays)),
        )
    except ValidationError as exc:  # a value out of range: BYMONTH=13, INTERVAL=0, COUNT=5000
        problem = exc.errors(include_url=False)[0]
        part = _RULE_FIELDS.get(str(problem["loc"][0]), str(problem["loc"][0]))
        raise ValueError(f"its RRULE's {part} is out of range: {problem['msg']}") from None


def _check_shape(months: set[int], month_days: set[int], weekdays: set[str]) -> None:
    bad = sorted(day for day in weekdays if not BY_DAY.match(day))
    if bad:
        raise ValueError(
            f"BYDAY {bad[0]}: give a weekday (MO..SU), or the nth of its month (1..5 or -5..-1, "
            "such as 4TH or -1MO)"
        )
    if 0 in month_days:
        raise ValueError("BYMONTHDAY 0: days of a month are 1..31, or -1 for the last")
    if (month_days or weekdays) and not months:
        raise ValueError("its RRULE has BYMONTHDAY or BYDAY without BYMONTH; name the month")
    if month_days and any(len(day) > 2 for day in weekdays):
        raise ValueError("its RRULE has BYMONTHDAY with an nth weekday (BYDAY=4TH); give one")
    # Bounds the work of counting a repeat through the years, as COUNT needs.
    per_month = len(month_days) or sum(1 if len(day) > 2 else 5 for day in weekdays) or 1
    if max(len(months), 1) * per_month > MAX_DATES_PER_YEAR:
        raise ValueError(
            f"its RRULE gives up to {max(len(months), 1) * per_month} dates a year; a yearly "
            f"holiday gives at most {MAX_DATES_PER_YEAR}: give long closures as dated events"
        )
