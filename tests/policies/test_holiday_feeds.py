"""Holiday feeds: an iCalendar file beside a policy file, read when the policy loads and fixed as
dates with the country's holidays. All-day events, multi-day events, the years window, yearly
repeats (checked against dateutil), daylight saving time, and hostile names and files: every
refusal is a PolicyError naming the file, ``calendars.NAME.holidays.ical`` and the problem."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]  # the reference only
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policies.calendar import BusinessCalendar
from policies.holiday_dates import holiday_dates, holiday_lookup, resolve_holidays
from policies.holiday_feed import HolidayFeed, feed_dates
from policies.ical_feed import MAX_FEED_DAYS, MAX_NAME_CHARS, MAX_REPEATING_EVENTS, parse_feed
from policies.loader import MAX_FEED_BYTES, PolicyError, parse_policy, read_policy_file
from policies.model import Policy

EXAMPLE = Path(__file__).parents[1] / "data" / "holidays" / "company-holidays.ics"
FEED = "company-holidays.ics"
WHERE = f"calendars.support.holidays.ical: {FEED}"
SECRET = "s3cr3t-canary-value"

POLICY = """\
name: feeds
version: 1
targets:
  P1: {first_response: 1h, resolution: 4h, calendar: support}
contacts:
  manager: [m@example.com]
levels:
  - name: breached
    when: {clock: resolution, at: 100%}
    notify: [manager]
calendars:
  support:
    timezone: TIMEZONE
    hours: HOURS
    holidays: HOLIDAYS
"""


def policy_text(
    holidays: str = f"{{ical: {FEED}}}",
    timezone: str = "America/New_York",
    hours: str = '{mon-fri: ["09:00-17:00"]}',
) -> str:
    return (
        POLICY.replace("HOLIDAYS", holidays).replace("TIMEZONE", timezone).replace("HOURS", hours)
    )


def write_policy(folder: Path, holidays: str = f"{{ical: {FEED}}}", **more: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feeds.yaml"
    path.write_text(policy_text(holidays, **more), encoding="utf-8")
    return path


def ics(*events: list[str]) -> bytes:
    """An iCalendar file with one VEVENT per list of content lines (CRLF, as RFC 5545 says)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//feeds//EN"]
    for number, event in enumerate(events):
        uid = [] if any(line.startswith("UID:") for line in event) else [f"UID:event-{number}"]
        lines += ["BEGIN:VEVENT", *uid, *event, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def all_day(start: date, end: date | None = None, summary: str = "Closed") -> list[str]:
    lines = [f"DTSTART;VALUE=DATE:{start:%Y%m%d}", f"SUMMARY:{summary}"]
    return lines + ([f"DTEND;VALUE=DATE:{end:%Y%m%d}"] if end else [])


def dates_of(data: bytes, first_year: int = 2025, last_year: int = 2031) -> dict[date, str]:
    return feed_dates(parse_feed(data, FEED), first_year, last_year)


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def load_problems(folder: Path, data: bytes | None = None, holidays: str | None = None) -> str:
    """The PolicyError of reading a policy in ``folder`` whose feed file holds ``data``."""
    path = write_policy(folder, holidays or f"{{ical: {FEED}}}")
    if data is not None:
        (folder / FEED).write_bytes(data)
    with pytest.raises(PolicyError) as failure:
        read_policy_file(path)
    message = str(failure.value)
    assert message.startswith(f"{path}: invalid policy:\n  "), message
    assert SECRET not in message
    return message


# -- an exported calendar, resolved with the country's holidays ------------------------------


def test_an_exported_calendar_adds_its_events_to_the_countrys_holidays(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / FEED)
    policy = read_policy_file(write_policy(tmp_path, f"{{country: US, ical: {FEED}}}"))
    read = policy.calendars["support"].holidays
    assert read is not None
    assert read.feed is not None
    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert read.feed.sha256 == digest

    resolved = resolve_holidays(policy, 2026).calendars["support"].holidays
    assert resolved is not None
    assert resolved.resolved is not None
    # Where the dates came from stays in the policy; the events give way to their dates.
    assert (resolved.country, resolved.ical, resolved.feed) == ("US", FEED, None)
    assert resolved.resolved.ical_sha256 == digest
    dates = resolved.resolved.dates
    assert {day.year for day in dates} == set(range(2025, 2032))
    # A nine-day shutdown: DTEND (2 January) is the first day open again.
    shutdown = [day for day, name in dates.items() if "Year-end shutdown" in name]
    assert shutdown == days(date(2026, 12, 24), 9)
    assert dates[date(2026, 12, 25)] == "Christmas Day; Year-end shutdown"
    assert dates[date(2027, 1, 1)] == "New Year's Day; Year-end shutdown"
    # Yearly from 2025; 2027's moved to Monday the 15th (RECURRENCE-ID), 2028's skipped (EXDATE).
    founders = [day for day, name in dates.items() if name.startswith("Founders' Day")]
    assert founders == [
        date(2025, 3, 14),
        date(2026, 3, 14),
        date(2027, 3, 15),
        date(2029, 3, 14),
        date(2030, 3, 14),
        date(2031, 3, 14),
    ]
    # The Friday between the 23rd and the 29th: always the day after the package's Thanksgiving.
    thanksgivings = [day for day, name in dates.items() if name == "Thanksgiving Day"]
    assert len(thanksgivings) == 7
    for thanksgiving in thanksgivings:
        assert dates[thanksgiving + timedelta(days=1)] == "Day after Thanksgiving"
    assert date(2026, 8, 21) not in dates  # the cancelled summer party
    for day, name in holiday_dates("US", None, range(2025, 2032)).items():
        assert name in dates[day]


def test_a_resolved_policy_needs_the_file_no_more(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / FEED)
    policy = read_policy_file(write_policy(tmp_path))
    recorded = resolve_holidays(policy, 2026).model_dump_json()
    (tmp_path / FEED).unlink()  # replay reads the history, never the file
    replayed = Policy.model_validate_json(recorded)
    assert replayed == Policy.model_validate_json(replayed.model_dump_json())
    support = BusinessCalendar.from_definition(replayed.calendars["support"])
    new_york = ZoneInfo("America/New_York")
    opened = datetime(2026, 12, 23, 16, 0, tzinfo=new_york)  # Wednesday, before the shutdown
    due = support.add(opened, timedelta(hours=2))
    assert due == datetime(2027, 1, 4, 10, 0, tzinfo=new_york)
    # Founders' Day 2032 lies beyond the resolved years: an ordinary Monday.
    assert support.is_open(datetime(2032, 3, 15, 10, 0, tzinfo=new_york))


def test_without_its_folder_a_policy_names_the_unread_file() -> None:
    policy = parse_policy(policy_text(), "feeds.yaml")  # text only: no folder, no file read
    source = policy.calendars["support"].holidays
    assert source is not None
    assert (source.ical, source.feed) == (FEED, None)
    with pytest.raises(ValueError, match=f"holidays.ical: {FEED} has not been read"):
        resolve_holidays(policy, 2026)
    with pytest.raises(ValueError, match="read_policy_file"):
        holiday_lookup(source)


def test_an_unresolved_calendar_expands_the_feed_for_any_year(tmp_path: Path) -> None:
    # Engineers' tools read the policy without resolving it: every year counts.
    shutil.copy(EXAMPLE, tmp_path / FEED)
    policy = read_policy_file(write_policy(tmp_path, f"{{country: US, ical: {FEED}}}"))
    is_holiday = holiday_lookup(policy.calendars["support"].holidays)
    assert is_holiday(date(2040, 3, 14))  # Founders' Day
    assert is_holiday(date(2040, 11, 22))  # Thanksgiving, from the package
    assert is_holiday(date(2040, 11, 23))  # the day after, from the feed
    assert not is_holiday(date(2040, 3, 13))
    support = BusinessCalendar.from_definition(policy.calendars["support"])
    assert not support.is_open(datetime(2040, 3, 14, 10, 0, tzinfo=ZoneInfo("America/New_York")))


# -- what an event closes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (all_day(date(2026, 4, 1), date(2026, 4, 4)), days(date(2026, 4, 1), 3)),
        ([*all_day(date(2026, 4, 1)), "DURATION:P2D"], days(date(2026, 4, 1), 2)),
        (all_day(date(2026, 4, 1)), [date(2026, 4, 1)]),
        (["DTSTART:20260401", "DTEND:20260402"], [date(2026, 4, 1)]),
        # Across a year's end, and across February of a leap year.
        (all_day(date(2027, 12, 31), date(2028, 1, 2)), days(date(2027, 12, 31), 2)),
        (all_day(date(2028, 2, 28), date(2028, 3, 1)), days(date(2028, 2, 28), 2)),
    ],
)
def test_an_all_day_event_closes_from_its_start_up_to_its_end(
    lines: list[str], expected: list[date]
) -> None:
    assert list(dates_of(ics(lines))) == expected


def test_only_the_resolved_years_count() -> None:
    data = ics(
        all_day(date(2024, 12, 30), date(2025, 1, 3), "Straddles the start"),
        all_day(date(2031, 12, 30), date(2032, 1, 5), "Straddles the end"),
        all_day(date(2040, 1, 1), summary="Far away"),
        all_day(date(2024, 7, 4), summary="Last year"),
        # Repeats from 1776: expanded for the years asked only, not walked from the start.
        [*all_day(date(1776, 7, 4), summary="Independence"), "RRULE:FREQ=YEARLY"],
    )
    dates = dates_of(data)
    assert [day for day, name in dates.items() if name != "Independence"] == [
        date(2025, 1, 1),
        date(2025, 1, 2),
        date(2031, 12, 30),
        date(2031, 12, 31),
    ]
    assert [day for day, name in dates.items() if name == "Independence"] == [
        date(year, 7, 4) for year in range(2025, 2032)
    ]


def test_events_on_one_date_share_it_and_names_are_made_safe() -> None:
    long = "Inventory " * 50
    data = ics(
        all_day(date(2026, 5, 1), summary="Staff day"),
        all_day(date(2026, 5, 1), summary="Staff day"),
        all_day(date(2026, 5, 1), summary="Move\\, and paint\\nthe office\x1b[31m\u202e"),
        all_day(date(2026, 5, 4), summary=long),
        all_day(date(2026, 5, 5), summary=""),
        ["DTSTART;VALUE=DATE:20260506"],  # no SUMMARY: the file's name stands in
        [*all_day(date(2026, 5, 7)), "STATUS:CANCELLED"],
        [*all_day(date(2026, 5, 8)), "STATUS:cancelled"],
    )
    dates = dates_of(data)
    assert dates[date(2026, 5, 1)] == "Staff day; Move, and paint the office [31m"
    assert dates[date(2026, 5, 4)] == long.strip()[: MAX_NAME_CHARS - 3].rstrip() + "..."
    assert dates[date(2026, 5, 5)] == FEED
    assert dates[date(2026, 5, 6)] == FEED
    assert date(2026, 5, 7) not in dates
    assert date(2026, 5, 8) not in dates
    assert all(name.isprintable() for name in dates.values())


# -- daylight saving time ------------------------------------------------------------------------

CHANGE_DAYS = [date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29), date(2026, 10, 25)]
"""Sundays the clocks change: New York's spring (23 h) and autumn (25 h), then Europe's."""


@pytest.mark.parametrize(
    "timezone", ["America/New_York", "Europe/London", "Pacific/Auckland", "UTC"]
)
def test_a_closed_date_is_closed_whole_whatever_its_length(tmp_path: Path, timezone: str) -> None:
    # The feed's own zone (a VTIMEZONE, as exports carry) cannot move an all-day date.
    text = EXAMPLE.read_bytes().split(b"BEGIN:VEVENT", 1)[0]
    events = b"".join(
        b"BEGIN:VEVENT\r\nUID:%d\r\nDTSTART;VALUE=DATE:%s\r\nEND:VEVENT\r\n"
        % (n, day.strftime("%Y%m%d").encode())
        for n, day in enumerate(CHANGE_DAYS)
    )
    (tmp_path / FEED).write_bytes(text + events + b"END:VCALENDAR\r\n")
    path = write_policy(tmp_path, timezone=timezone, hours='{daily: ["00:00-24:00"]}')
    policy = resolve_holidays(read_policy_file(path), 2026)
    source = policy.calendars["support"].holidays
    assert source is not None
    assert source.resolved is not None
    assert sorted(source.resolved.dates) == sorted(CHANGE_DAYS)
    calendar = BusinessCalendar.from_definition(policy.calendars["support"])
    zone = ZoneInfo(timezone)
    for sunday in CHANGE_DAYS:
        saturday = datetime.combine(sunday - timedelta(days=1), datetime.min.time(), zone)
        monday = datetime.combine(sunday + timedelta(days=1), datetime.min.time(), zone)
        # Saturday counts whole (24 h everywhere on these dates); Sunday, 23 or 25 h long
        # somewhere, not at all.
        assert calendar.elapsed(saturday, monday) == timedelta(hours=24)
        assert not calendar.is_open(datetime.combine(sunday, datetime.min.time(), zone))


# -- yearly repeats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "rule", "more", "expected"),
    [
        # 29 February repeats in leap years only.
        (date(2024, 2, 29), "FREQ=YEARLY", [], [date(2028, 2, 29)]),
        # The last Monday of May: Memorial Day, as the holidays package has it.
        (
            date(2025, 5, 26),
            "FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO",
            [],
            [d for d, n in holiday_dates("US", None, range(2025, 2032)).items() if "Memorial" in n],
        ),
        # A fifth Friday exists in some years only.
        (
            date(2025, 8, 29),
            "FREQ=YEARLY;BYMONTH=8;BYDAY=5FR",
            [],
            [date(2025, 8, 29), date(2029, 8, 31), date(2030, 8, 30), date(2031, 8, 29)],
        ),
        # COUNT includes DTSTART; UNTIL is inclusive; INTERVAL skips years.
        (date(2025, 6, 1), "FREQ=YEARLY;COUNT=3", [], [date(y, 6, 1) for y in (2025, 2026, 2027)]),
        (
            date(2025, 6, 1),
            "FREQ=YEARLY;UNTIL=20270601",
            [],
            [date(2025, 6, 1), date(2026, 6, 1), date(2027, 6, 1)],
        ),
        (
            date(2025, 6, 1),
            "FREQ=YEARLY;INTERVAL=3",
            [],
            [date(y, 6, 1) for y in (2025, 2028, 2031)],
        ),
        # Several months, the last day of each; an EXDATE drops one.
        (
            date(2025, 6, 30),
            "FREQ=YEARLY;BYMONTH=6,12;BYMONTHDAY=-1;COUNT=4",
            ["EXDATE;VALUE=DATE:20251231"],
            [date(2025, 6, 30), date(2026, 6, 30), date(2026, 12, 31)],
        ),
        # An RDATE adds a date; a cancelled instance (RECURRENCE-ID) removes one.
        (
            date(2025, 1, 2),
            "FREQ=YEARLY;COUNT=2",
            ["RDATE;VALUE=DATE:20300704"],
            [date(2025, 1, 2), date(2026, 1, 2), date(2030, 7, 4)],
        ),
    ],
)
def test_yearly_repeats(start: date, rule: str, more: list[str], expected: list[date]) -> None:
    event = [*all_day(start), f"RRULE:{rule}", *more]
    assert list(dates_of(ics(event))) == expected


def test_a_cancelled_instance_of_a_repeat_is_skipped() -> None:
    series = [*all_day(date(2025, 3, 14)), "RRULE:FREQ=YEARLY", "UID:founders"]
    cancelled = ["UID:founders", "RECURRENCE-ID;VALUE=DATE:20260314", "STATUS:CANCELLED"]
    data = ics(series, [*all_day(date(2026, 3, 14)), *cancelled])
    assert date(2026, 3, 14) not in dates_of(data)
    assert date(2027, 3, 14) in dates_of(data)


_SHAPES = st.sampled_from(["plain", "months", "month-days", "nth", "filtered"])


@st.composite
def yearly_rules(draw: st.DrawFn) -> tuple[str, str]:
    """A rule's repeating part, and its end (``;COUNT=3``, ``;UNTIL=20270601`` or nothing)."""
    shape = draw(_SHAPES)
    months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=2, unique=True))
    parts = ["FREQ=YEARLY"]
    if shape != "plain":
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    day_numbers = st.integers(1, 28) | st.integers(-28, -1)  # on every month: no empty rule
    weekday = st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])
    if shape in {"month-days", "filtered"}:
        numbers = draw(st.lists(day_numbers, min_size=1, max_size=7, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(map(str, numbers)))
    if shape == "filtered":
        parts.append("BYDAY=" + ",".join(draw(st.lists(weekday, min_size=1, max_size=3))))
    if shape == "nth":
        nths = st.builds(lambda n, d: f"{n}{d}", st.sampled_from([1, 2, 3, 4, -1, -2]), weekday)
        parts.append("BYDAY=" + ",".join(draw(st.lists(nths, min_size=1, max_size=2))))
    interval = draw(st.integers(1, 3))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    end = draw(st.sampled_from(["", "count", "until"]))
    if end == "count":
        end = f";COUNT={draw(st.integers(1, 40))}"
    elif end == "until":
        end = f";UNTIL={draw(st.dates(date(2020, 1, 1), date(2035, 12, 31))):%Y%m%d}"
    return ";".join(parts), end


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(rule=yearly_rules(), seed=st.dates(date(1990, 1, 1), date(2031, 12, 31)))
def test_yearly_repeats_agree_with_dateutil(rule: tuple[str, str], seed: date) -> None:
    # DTSTART is the rule's first date on or after the seed and not after UNTIL, as a
    # well-formed feed has it (RFC 5545 counts DTSTART as the first instance whether it matches
    # or not; dateutil does not).
    repeats, end = rule
    seeded = datetime.combine(seed, datetime.min.time())
    first = rrulestr(repeats, dtstart=seeded).after(seeded, inc=True)
    # A rule whose filters never meet (a weekday that no listed month day falls on) has no
    # first date to start a feed's event on: not a case of this comparison.
    assume(first is not None)
    assert first is not None
    assume(not end.startswith(";UNTIL") or end >= f";UNTIL={first:%Y%m%d}")
    expected = rrulestr(repeats + end, dtstart=first).between(
        datetime(2025, 1, 1), datetime(2031, 12, 31), inc=True
    )
    event = [*all_day(first.date(), summary="Rule"), f"RRULE:{repeats}{end}"]
    assert list(dates_of(ics(event))) == [moment.date() for moment in expected]


# -- refused events -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (
            ["DTSTART:20260401T090000Z", "SUMMARY:Offsite"],
            "VEVENT 1 'Offsite': starts at a time of day (2026-04-01 09:00); only all-day events "
            "are holidays: make it an all-day event, or give that day's hours under open",
        ),
        (
            [
                "DTSTART;TZID=Europe/Berlin:20260401T090000",
                "DTEND;TZID=Europe/Berlin:20260401T130000",
            ],
            "VEVENT 1: starts at a time of day (2026-04-01 09:00)",
        ),
        (["SUMMARY:No start"], "VEVENT 1 'No start': has no DTSTART"),
        (["DTSTART;VALUE=DATE:2026XX01"], "VEVENT 1: cannot read DTSTART: Wrong date format"),
        (
            [*all_day(date(2026, 4, 3), date(2026, 4, 1))],
            "ends (2026-04-01) before it starts (2026-04-03); DTEND is the day after the last one",
        ),
        (
            [*all_day(date(2026, 4, 1)), "DURATION:PT4H"],
            "VEVENT 1 'Closed': DURATION 4:00:00 is not a whole number of days",
        ),
        (
            [*all_day(date(2026, 1, 1), date(2027, 6, 1))],
            "lasts 516 days; a holiday event is at most 366 days",
        ),
        (
            [*all_day(date(2026, 4, 1)), "DTEND:20260401T170000"],
            "DTEND has a time of day but DTSTART is a date",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=WEEKLY;BYDAY=FR"],
            "repeats WEEKLY; only yearly repeats (FREQ=YEARLY) are holidays: give weekly "
            "closures in the calendar's hours",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY;BYMONTH=1;BYSETPOS=1;BYDAY=MO,TU"],
            "its RRULE uses BYSETPOS; a yearly holiday may use BYMONTH with BYMONTHDAY or BYDAY",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY;BYMONTHDAY=1"],
            "its RRULE has BYMONTHDAY or BYDAY without BYMONTH; name the month",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=20MO"],
            "BYDAY 20MO: give a weekday (MO..SU), or the nth of its month",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY;INTERVAL=0"],
            "its RRULE's INTERVAL is out of range",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY;COUNT=1001"],
            "its RRULE's COUNT is out of range: Input should be less than or equal to 1000",
        ),
        (
            [*all_day(date(2026, 6, 1)), "RRULE:FREQ=YEARLY;BYMONTH=6,7,8,9;BYDAY=FR,MO"],
            "its RRULE gives up to 40 dates a year; a yearly holiday gives at most 31: give "
            "long closures as dated events",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RRULE:FREQ=YEARLY", "RRULE:FREQ=YEARLY;COUNT=2"],
            "has 2 RRULEs; give one",
        ),
        (
            [*all_day(date(2026, 4, 1)), "RDATE;VALUE=PERIOD:20260501T090000Z/PT1H"],
            "has an RDATE with a time of day; give extra dates as dates",
        ),
        (
            [*all_day(date(2027, 4, 1)), "RECURRENCE-ID;RANGE=THISANDFUTURE;VALUE=DATE:20270401"],
            "moves this and all later instances (RANGE); edit the series itself",
        ),
    ],
)
def test_an_event_that_cannot_be_a_holiday_is_refused_naming_it(
    tmp_path: Path, lines: list[str], problem: str
) -> None:
    message = load_problems(tmp_path, ics(lines))
    assert f"\n  {WHERE}: VEVENT 1" in message
    assert problem in message


def test_every_refused_event_is_listed_up_to_ten(tmp_path: Path) -> None:
    timed = [[f"DTSTART:202604{day:02d}T090000Z"] for day in range(1, 16)]
    message = load_problems(tmp_path, ics(*timed, all_day(date(2026, 5, 1))))
    lines = message.splitlines()[1:]
    assert [line.split(": ")[2] for line in lines[:10]] == [f"VEVENT {n}" for n in range(1, 11)]
    assert lines[10] == f"  {WHERE}: and 5 more problems"
    assert len(lines) == 11


def test_a_file_of_many_repeating_events_is_refused(tmp_path: Path) -> None:
    repeating = [
        [*all_day(date(2026, 1, 1) + timedelta(days=n)), "RRULE:FREQ=YEARLY"]
        for n in range(MAX_REPEATING_EVENTS + 1)
    ]
    message = load_problems(tmp_path, ics(*repeating))
    assert message.endswith(
        f"{WHERE}: {MAX_REPEATING_EVENTS + 1} events repeat; a holiday file may hold at most "
        f"{MAX_REPEATING_EVENTS} repeating events (give the others as dated events)"
    )


def test_a_file_closing_too_many_days_is_refused(tmp_path: Path) -> None:
    years = [all_day(date(1990 + n, 1, 1), date(1991 + n, 1, 1)) for n in range(28)]
    assert sum((date(1991 + n, 1, 1) - date(1990 + n, 1, 1)).days for n in range(28)) == 10_227
    message = load_problems(tmp_path, ics(*years))
    assert message.endswith(
        f"{WHERE}: its dated events close 10,227 days in all; a holiday file closes at most "
        f"{MAX_FEED_DAYS:,}: remove past years, or give long closures as fewer events"
    )


# -- the holidays key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holidays", "problem"),
    [
        (
            "{}",
            "calendars.support.holidays: give country (public holidays), ical (an .ics file "
            "beside the policy file) or both",
        ),
        (
            f"{{subdivision: NY, ical: {FEED}}}",
            "calendars.support.holidays: subdivision 'NY' needs a country",
        ),
        (
            "{country: US, feed: {sha256: x}}",
            "calendars.support.holidays.feed: is read from the file named by ical; give ical",
        ),
    ],
)
def test_the_holidays_key_names_what_is_missing(holidays: str, problem: str) -> None:
    with pytest.raises(PolicyError) as failure:
        parse_policy(policy_text(holidays), "feeds.yaml")
    assert problem in str(failure.value)


# -- hostile names and files ----------------------------------------------------------------------

PATH_NAMES = ["../secret.ics", "/etc/secret.ics", "sub/secret.ics", "..\\secret.ics", "~/x.ics"]
OTHER_NAMES = [".hidden.ics", "x\n.ics", "x\x00.ics", "x\x1b[31m.ics", "a\u202e.ics", " x.ics"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        *(
            (name, "is a path; give the name of an .ics file in the policy file's folder")
            for name in PATH_NAMES
        ),
        *(
            (name, "must be 5-100 letters, digits, '.', '-', '_' or spaces ending in .ics")
            for name in OTHER_NAMES
        ),
        ("secret.yaml", "is not an .ics file name, such as company-holidays.ics"),
        ("x.ics\n", "is not an .ics file name"),
        ("..", "is not an .ics file name"),
        ("x" * 200 + ".ics", "must be 5-100 letters"),
    ],
)
def test_a_name_that_is_not_a_plain_ics_file_name_is_refused_unread(
    tmp_path: Path, name: str, problem: str
) -> None:
    (tmp_path / "secret.ics").write_text(SECRET)
    (tmp_path / "policies" / "sub").mkdir(parents=True)
    (tmp_path / "policies" / "sub" / "secret.ics").write_text(SECRET)
    message = load_problems(tmp_path / "policies", holidays=f"{{ical: {json.dumps(name)}}}")
    assert f"\n  calendars.support.holidays.ical: {name[:80]!r} {problem}" in message


def test_a_link_leaving_the_folder_is_refused_unread(tmp_path: Path) -> None:
    outside = tmp_path / "outside.ics"
    outside.write_bytes(ics(all_day(date(2026, 4, 1), summary=SECRET)))
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / FEED).symlink_to(outside)
    message = load_problems(folder)
    assert message.endswith(
        f"{WHERE}: is a link to a file outside the policy file's folder; copy the file into "
        "the folder"
    )
    assert str(outside) not in message


def test_a_link_within_the_folder_is_followed(tmp_path: Path) -> None:
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "holidays.ics").write_bytes(ics(all_day(date(2026, 4, 1))))
    (tmp_path / FEED).symlink_to(Path("2026") / "holidays.ics")
    policy = resolve_holidays(read_policy_file(write_policy(tmp_path)), 2026)
    source = policy.calendars["support"].holidays
    assert source is not None
    assert source.resolved is not None
    assert list(source.resolved.dates) == [date(2026, 4, 1)]


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.touch()
        os.truncate(path, size)  # holes: nothing is written, and nothing must be read

    return make


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: None, "no such file in the policy file's folder"),
        (lambda path: path.symlink_to(path), "cannot read the file"),
        (lambda path: path.mkdir(), "is not a regular file"),
        (os.mkfifo, "is not a regular file"),  # and reading never waits for a writer
        (sparse(MAX_FEED_BYTES + 1), "the file is 1,000,001 bytes; an ical file is at most 1 MB"),
        (sparse(10 * 2**30), "the file is 10,737,418,240 bytes; an ical file is at most 1 MB"),
    ],
)
def test_a_file_that_cannot_be_read_is_named(
    tmp_path: Path, make: Callable[[Path], object], problem: str
) -> None:
    make(tmp_path / FEED)
    message = load_problems(tmp_path)
    assert f"\n  {WHERE}: {problem}" in message


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"BEGIN:VCALENDAR\x00\x01\x02\x03", "holds binary data (NUL bytes), not iCalendar text"),
        (b"BEGIN:VCALENDAR\r\n\xff\xfe", "is not UTF-8 text (byte 17 cannot be decoded)"),
        (
            b"name: feeds\nversion: 1\n",
            "is not an iCalendar file: it must begin with BEGIN:VCALENDAR",
        ),
        (b"", "is not an iCalendar file"),
        (
            b'BEGIN:VCALENDAR\r\nX;A="b:c\r\nEND:VCALENDAR\r\n',
            "not a valid iCalendar file: Content line could not be parsed into parts",
        ),
        (b"BEGIN:VCALENDAR\r\n\x1b[2J\x1b[31m\r\nEND:VCALENDAR\r\n", "not a valid iCalendar file"),
    ],
)
def test_a_file_that_is_not_icalendar_is_refused(tmp_path: Path, data: bytes, problem: str) -> None:
    message = load_problems(tmp_path, data)
    assert f"\n  {WHERE}: {problem}" in message
    assert "\x1b" not in message


_LINES = st.sampled_from(
    [
        "BEGIN:VEVENT",
        "END:VEVENT",
        "BEGIN:VCALENDAR",
        "END:VCALENDAR",
        "BEGIN:VTIMEZONE",
        "DTSTART;VALUE=DATE:20260401",
        "DTSTART:20260401T090000Z",
        "DTSTART;TZID=Nowhere/Zone:20260401T090000",
        "DTEND;VALUE=DATE:20260331",
        "DURATION:P-1D",
        "DURATION:garbage",
        "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "RRULE:FREQ=YEARLY;COUNT=-1",
        "RRULE:FREQ=YEARLY;UNTIL=garbage",
        "RRULE:",
        "EXDATE:garbage",
        "RDATE;VALUE=PERIOD:garbage",
        "RECURRENCE-ID:garbage",
        "STATUS:CANCELLED",
        "SUMMARY:\x1b[31m",
        " folded continuation",
        ":",
        ";;;",
    ]
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(_LINES | st.text(max_size=20), max_size=25).map(
            lambda lines: "\r\n".join(["BEGIN:VCALENDAR", *lines]).encode("utf-8", "replace")
        ),
    )
)
def test_any_bytes_are_a_feed_or_a_value_error(data: bytes) -> None:
    problem: str | None = None
    try:
        feed = parse_feed(data, FEED)
    except ValueError as error:
        problem = str(error)
    if problem is None:
        assert isinstance(feed, HolidayFeed)
        feed_dates(feed, 2025, 2031)
    else:
        assert problem
        assert all(line.isprintable() for line in problem.splitlines())


def test_thousands_of_events_load_and_only_the_resolved_years_stay(tmp_path: Path) -> None:
    # 4,000 daily events from 2023: about 11 years, of which the 7 resolved ones stay.
    first = date(2023, 1, 1)
    events = [all_day(first + timedelta(days=n), summary=f"Day {n}") for n in range(4000)]
    data = ics(*events)
    assert len(data) < MAX_FEED_BYTES
    (tmp_path / FEED).write_bytes(data)
    policy = read_policy_file(write_policy(tmp_path, hours='{daily: ["09:00-17:00"]}'))
    source = resolve_holidays(policy, 2026).calendars["support"].holidays
    assert source is not None
    assert source.resolved is not None
    assert list(source.resolved.dates) == days(date(2025, 1, 1), 2556)
