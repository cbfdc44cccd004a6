"""Targets in working days (``2bd``, ``eod``, ``2bd eod``): how they are written, worked examples
across DST, holidays, lunch breaks and night shifts, and properties on the calendars of
test_business_calendar_properties.py, including agreement with a reference that reads each
local date's hours by the documented rules.

Instants are compared in UTC (see that module's docstring for why).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from policies.calendar import AlwaysOpen, BusinessCalendar, Calendar
from policies.durations import WorkingDays, format_target, parse_target
from policies.loader import PolicyError, parse_policy
from policies.model import ClockName, Policy, Targets
from policies.working_days import clock_target, resolve_target, working_days_due
from tests.policies.test_business_calendar_properties import (
    DAY_US,
    HOUR_US,
    MICRO,
    TEMPLATES,
    ZONES,
    Reference,
    at,
    instants,
    pooled,
    reference_intervals,
    references,
    us,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
EOD = WorkingDays(0, end_of_day=True)

# New York office hours with a lunch break and US holidays.
OFFICE = BusinessCalendar(
    timezone="America/New_York",
    hours={"mon-fri": ["09:00-12:00", "13:00-17:00"]},
    holidays={"country": "US"},
)
# Berlin, 09:00-17:00 on weekdays, Berlin's public holidays.
BERLIN_OFFICE = BusinessCalendar(
    timezone="Europe/Berlin",
    hours={"mon-fri": ["09:00-17:00"]},
    holidays={"country": "DE", "subdivision": "BE"},
)
# Weeknight shifts into the next morning, and a Saturday day shift.
NIGHTS = BusinessCalendar(
    timezone="Europe/Berlin", hours={"mon-fri": ["22:00-06:00"], "sat": ["10:00-14:00"]}
)
# Open all day, every day, on New York's wall clock: a day is 23 or 25 hours at a DST change.
NY_ALL_DAY = BusinessCalendar(timezone="America/New_York", hours={"daily": ["00:00-24:00"]})


def wall(day: date, hour: int, minute: int = 0, zone: ZoneInfo = NY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def due_and_target(spec: WorkingDays, calendar: Calendar, start: datetime) -> tuple[int, int]:
    """The due instant (µs) and the target (µs) of ``spec`` from ``start``."""
    target = resolve_target(spec, calendar, start)
    assert target is not None
    return us(working_days_due(spec, calendar, start)), target // MICRO


# -- written as authors write them ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2bd", WorkingDays(2)),
        (" 2 BD ", WorkingDays(2)),
        ("60bd", WorkingDays(60)),
        ("eod", EOD),
        ("EOD", EOD),
        ("1bd eod", WorkingDays(1, end_of_day=True)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),  # two days of business time, not two working days
        ("PT1H30M", timedelta(hours=1, minutes=30)),
    ],
)
def test_targets_parse_as_written(text: str, value: object) -> None:
    assert parse_target(text) == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0bd", "counts no working days"),
        ("0bd eod", "counts no working days"),
        ("61bd", "out of range; write 1bd to 60bd"),
        ("bd", "is not a duration or working days"),
        ("2bdx", "is not a duration or working days"),
        ("-1bd", "is not a duration or working days"),
        ("0s", "longer than zero"),
        ("none", "resolution only"),
    ],
)
def test_bad_targets_say_what_to_write(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_target(text)


@pytest.mark.parametrize("text", ["2bd", "eod", "3bd eod", "4h", "1h30m"])
def test_targets_format_as_written(text: str) -> None:
    assert format_target(parse_target(text)) == text


POLICY = """
name: days
version: 1
calendars:
  office:
    timezone: America/New_York
    hours: {{mon-fri: ["09:00-12:00", "13:00-17:00"]}}
targets:
  P1: {{first_response: 1h, resolution: 8h}}
  P3: {{first_response: eod, {p3}calendar: office}}
plans:
  - name: gold
    when: {{customer_tier: [gold]}}
    targets:
      P1: {{first_response: 30m, resolution: 4h}}
      P3: {{first_response: {gold_p3}, resolution: 1bd eod, calendar: office}}
levels:
  - name: breached
    when: {{clock: resolution, at: 100%}}
    notify: [assignee]
"""


def policy(p3: str = "resolution: 2bd, ", gold_p3: str = "1bd") -> Policy:
    return parse_policy(POLICY.format(p3=p3, gold_p3=gold_p3), "days.yaml")


def test_working_days_round_trip_through_json_as_written() -> None:
    loaded = policy()
    text = loaded.model_dump_json()
    assert '"resolution":"2bd"' in text
    assert '"first_response":"eod"' in text
    assert '"resolution":"1bd eod"' in text
    assert '"resolution":"8h"' in text  # durations dump as before
    again = Policy.model_validate_json(text)
    assert again == loaded
    assert again.targets["P3"].resolution == WorkingDays(2)
    assert Policy.model_validate(loaded.model_dump()) == loaded


@pytest.mark.parametrize(
    "p3", ["", "resolution: none, ", "resolution: NONE, ", "resolution: null, "]
)
def test_resolution_may_be_left_out_or_none(p3: str) -> None:
    loaded = policy(p3=p3)
    assert loaded.targets["P3"].resolution is None
    assert loaded.targets["P3"].for_clock(ClockName.RESOLUTION) is None
    # The next-reply target still defaults to the first response's.
    assert loaded.targets["P3"].for_clock(ClockName.NEXT_REPLY) == EOD
    assert Policy.model_validate_json(loaded.model_dump_json()) == loaded


@pytest.mark.parametrize(
    ("p3", "gold_p3", "problem"),
    [
        ("resolution: 0bd, ", "1bd", "targets.P3.resolution: '0bd' counts no working days"),
        (
            "resolution: 2d3bd, ",
            "1bd",
            "targets.P3.resolution: '2d3bd' is not a duration or working days",
        ),
        ("resolution: 8, ", "1bd", "targets.P3.resolution: 8 has no unit"),
        ("", "61bd", "plans.0.targets.P3.first_response: 61bd is out of range"),
        ("", "none", "plans.0.targets.P3.first_response: none is allowed for resolution only"),
        ("next_reply: none, ", "1bd", "targets.P3.next_reply: none is allowed for resolution"),
    ],
)
def test_bad_targets_are_reported_with_their_field_path(
    p3: str, gold_p3: str, problem: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        policy(p3=p3, gold_p3=gold_p3)
    assert any(line.startswith(problem) for line in raised.value.problems), raised.value.problems


def test_plain_durations_build_no_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    # The per-ticket cost of policies without working days must not grow.
    def no_calendars(*args: object) -> None:
        raise AssertionError("a calendar was built for a plain duration")

    monkeypatch.setattr(BusinessCalendar, "from_definition", no_calendars)
    loaded = policy(p3="resolution: 24h, ")
    targets = Targets(first_response=timedelta(hours=4), calendar="office")
    start = wall(date(2026, 3, 2), 10)
    assert clock_target(targets, ClockName.FIRST_RESPONSE, start, loaded) == timedelta(hours=4)
    assert clock_target(targets, ClockName.RESOLUTION, start, loaded) is None
    with pytest.raises(AssertionError, match="was built"):
        clock_target(loaded.targets["P3"], ClockName.FIRST_RESPONSE, start, loaded)


def test_clock_target_counts_on_the_targets_calendar() -> None:
    loaded = policy()
    monday = date(2026, 3, 2)
    p3 = loaded.targets["P3"]
    # From Monday 10:00 on the office calendar: eod is 17:00 (2h + 4h after lunch), 2bd is
    # Wednesday 10:00 (Monday's 6h, Tuesday's 7h, Wednesday's first hour).
    start = wall(monday, 10)
    assert clock_target(p3, ClockName.FIRST_RESPONSE, start, loaded) == timedelta(hours=6)
    assert clock_target(p3, ClockName.RESOLUTION, start, loaded) == timedelta(hours=14)
    assert clock_target(p3, ClockName.NEXT_REPLY, start, loaded) == timedelta(hours=6)
    on_24x7 = Targets(first_response=WorkingDays(1), resolution=EOD)
    assert clock_target(on_24x7, ClockName.FIRST_RESPONSE, start, loaded) == timedelta(days=1)
    # 24x7 days are UTC dates: 10:00 EST is 15:00 UTC, nine hours before midnight UTC.
    assert clock_target(on_24x7, ClockName.RESOLUTION, start, loaded) == timedelta(hours=9)


# -- worked examples ------------------------------------------------------------------------------


def test_one_working_day_keeps_the_time_of_day_across_the_spring_change() -> None:
    friday = date(2026, 3, 6)  # New York springs forward on Sunday 2026-03-08
    start = wall(friday, 15)
    due = working_days_due(WorkingDays(1), OFFICE, start)
    assert us(due) == us(wall(friday + timedelta(days=3), 15))
    assert due.tzinfo is NY  # in the start's zone
    assert due.utcoffset() == timedelta(hours=-4)  # 15:00 EDT, as the ticket opened at 15:00 EST
    # Friday 15:00-17:00 and Monday 09:00-12:00, 13:00-15:00: seven office hours, a full day.
    assert resolve_target(WorkingDays(1), OFFICE, start) == timedelta(hours=7)
    assert resolve_target(EOD, OFFICE, start) == timedelta(hours=2)
    assert resolve_target(WorkingDays(1, end_of_day=True), OFFICE, start) == timedelta(hours=9)


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        # Saturday noon to Sunday noon across the spring change: 23 real hours.
        (wall(date(2026, 3, 7), 12), 23),
        # Saturday noon to Sunday noon across the autumn change: 25 real hours.
        (wall(date(2026, 10, 31), 12), 25),
        # From 02:30 on the day before the spring change to 02:30 that does not exist: moved
        # forward by the gap, to 03:30 EDT, like every wall time in the skipped hour.
        (wall(date(2026, 3, 7), 2, 30), 24),
    ],
)
def test_a_working_day_is_as_long_as_the_wall_clock_day(start: datetime, hours: int) -> None:
    assert resolve_target(WorkingDays(1), NY_ALL_DAY, start) == timedelta(hours=hours)


def test_the_eod_of_a_day_that_is_open_until_midnight_is_midnight() -> None:
    start = wall(date(2026, 3, 8), 0, 30)  # Sunday of the spring change: 23 hours long
    due = working_days_due(EOD, NY_ALL_DAY, start)
    assert us(due) == us(wall(date(2026, 3, 9), 0))
    assert resolve_target(EOD, NY_ALL_DAY, start) == timedelta(hours=22, minutes=30)


def test_holidays_are_not_working_days() -> None:
    thursday = date(2026, 4, 2)  # Good Friday 04-03 and Easter Monday 04-06 are Berlin holidays
    start = wall(thursday, 14, zone=BERLIN)
    due = working_days_due(WorkingDays(1), BERLIN_OFFICE, start)
    assert us(due) == us(wall(date(2026, 4, 7), 14, zone=BERLIN))
    assert resolve_target(WorkingDays(1), BERLIN_OFFICE, start) == timedelta(hours=8)
    # A clock started on the holiday counts from Tuesday: eod is Tuesday's close, and two
    # working days are Tuesday and Wednesday in full.
    good_friday = wall(date(2026, 4, 3), 11, zone=BERLIN)
    assert us(working_days_due(EOD, BERLIN_OFFICE, good_friday)) == us(
        wall(date(2026, 4, 7), 17, zone=BERLIN)
    )
    assert resolve_target(WorkingDays(2), BERLIN_OFFICE, good_friday) == timedelta(hours=16)
    # Across the autumn change (Sunday 2026-10-25) in Berlin nothing changes on office hours.
    friday = wall(date(2026, 10, 23), 16, zone=BERLIN)
    assert resolve_target(WorkingDays(1), BERLIN_OFFICE, friday) == timedelta(hours=8)


def test_a_clock_started_in_the_lunch_break_starts_that_afternoon() -> None:
    monday = date(2026, 3, 2)
    start = wall(monday, 12, 30)
    assert us(working_days_due(EOD, OFFICE, start)) == us(wall(monday, 17))
    assert us(working_days_due(WorkingDays(1), OFFICE, start)) == us(
        wall(monday + timedelta(1), 13)
    )
    assert resolve_target(WorkingDays(1), OFFICE, start) == timedelta(hours=7)


def test_a_day_that_opens_later_is_due_at_the_close_before_it() -> None:
    # From Monday 09:00, 1bd lands on Tuesday 09:00: the same business moment as Monday's
    # close, where the clock shows it due, as any target that runs out at closing time.
    monday = date(2026, 3, 2)
    start = wall(monday, 9)
    target = resolve_target(WorkingDays(1), OFFICE, start)
    assert target == timedelta(hours=7)
    assert us(OFFICE.add(start, target)) == us(wall(monday, 17))


def test_night_shifts_are_one_working_day_each() -> None:
    tuesday = date(2026, 3, 24)
    # 03:00 on Tuesday is in Monday's shift: it ends at 06:00, and 1bd is 03:00 on Wednesday,
    # in Tuesday's shift: three hours of Monday's, five of Tuesday's.
    start = wall(tuesday, 3, zone=BERLIN)
    assert us(working_days_due(EOD, NIGHTS, start)) == us(wall(tuesday, 6, zone=BERLIN))
    assert resolve_target(WorkingDays(1), NIGHTS, start) == timedelta(hours=8)
    # Friday's shift runs into Saturday; the next working day is Saturday's 10:00-14:00, whose
    # close bounds a 23:00 wall time: 7 hours of Friday's shift and Saturday's 4.
    friday = wall(date(2026, 3, 27), 23, zone=BERLIN)
    assert us(working_days_due(EOD, NIGHTS, friday)) == us(wall(date(2026, 3, 28), 6, zone=BERLIN))
    assert resolve_target(WorkingDays(1), NIGHTS, friday) == timedelta(hours=11)


def test_on_24x7_working_days_are_whole_utc_days() -> None:
    start = datetime(2026, 3, 7, 18, 45, tzinfo=NY)  # 23:45 UTC
    for days in (1, 2, 60):
        assert resolve_target(WorkingDays(days), AlwaysOpen(), start) == timedelta(days=days)
    assert resolve_target(EOD, AlwaysOpen(), start) == timedelta(minutes=15)
    assert resolve_target(WorkingDays(1, end_of_day=True), AlwaysOpen(), start) == timedelta(
        days=1, minutes=15
    )


def test_durations_and_no_target_pass_through() -> None:
    start = wall(date(2026, 3, 2), 10)
    assert resolve_target(timedelta(hours=3), OFFICE, start) == timedelta(hours=3)
    assert resolve_target(None, OFFICE, start) is None


# -- properties ---------------------------------------------------------------------------------

SPECS = st.one_of(
    st.integers(1, 5).map(WorkingDays),
    st.just(EOD),
    st.integers(1, 5).map(lambda n: WorkingDays(n, end_of_day=True)),
)
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Templates whose dated hours overlap the night before: the working day of an instant is then
# not monotonic in time, and neither need be the due instant.
OVERLAPPING = {"night-new-year"}


@st.composite
def starts(draw: st.DrawFn) -> tuple[str, str, int]:
    zone = draw(st.sampled_from(ZONES))
    return zone, draw(st.sampled_from(sorted(TEMPLATES))), draw(instants(zone))


def _start(zone: str, s: int) -> datetime:
    return at(s, ZoneInfo(zone))


NY_SPRING = ("America/New_York", "office", us(datetime(2026, 3, 6, 15, 0, tzinfo=NY)))
BERLIN_EASTER = ("Europe/Berlin", "office", us(datetime(2026, 4, 2, 16, 0, tzinfo=BERLIN)))


@SETTINGS
@given(starts(), SPECS)
@example(NY_SPRING, WorkingDays(1))
@example(BERLIN_EASTER, WorkingDays(2))
def test_the_target_is_the_business_time_to_the_due_instant(
    case: tuple[str, str, int], spec: WorkingDays
) -> None:
    zone, template, s = case
    calendar, start = pooled(zone, template), _start(zone, s)
    due, target = due_and_target(spec, calendar, start)
    assert target > 0
    assert calendar.elapsed(start, at(due)) // MICRO == target
    # The clock falls due at the earliest instant of that business moment: at or before the
    # working-day due instant, with nothing open in between.
    clock_due = us(calendar.add(start, timedelta(microseconds=target)))
    assert clock_due <= due
    assert calendar.elapsed(at(clock_due), at(due)) == timedelta(0)


@SETTINGS
@given(starts(), st.integers(1, 4))
def test_more_working_days_never_come_sooner(case: tuple[str, str, int], n: int) -> None:
    zone, template, s = case
    calendar, start = pooled(zone, template), _start(zone, s)
    chain = [
        due_and_target(WorkingDays(0, end_of_day=True), calendar, start),
        *(
            due_and_target(WorkingDays(days, end_of_day=eod), calendar, start)
            for days in (n, n + 1)
            for eod in (False, True)
        ),
    ]
    # eod <= nbd <= nbd eod <= (n+1)bd <= (n+1)bd eod, as instants and as business time. Ties
    # are real: from a day's opening, 1bd is due at that day's close (where eod is), and a day
    # that opens only after the clock's time of day adds nothing to Nbd.
    assert [d for d, _ in chain[1:]] == sorted(d for d, _ in chain[1:])
    assert [t for _, t in chain] == sorted(t for _, t in chain)
    if template not in OVERLAPPING:
        # A working day more adds that day's open time to an end-of-day target.
        assert chain[4][1] > chain[2][1]


@SETTINGS
@given(starts())
def test_eod_is_a_closing_instant(case: tuple[str, str, int]) -> None:
    zone, template, s = case
    calendar, start = pooled(zone, template), _start(zone, s)
    due = working_days_due(EOD, calendar, start)
    first = calendar.next_open(start)
    assert us(due) > us(first)
    # Open just before it; closed from it, unless the next day opens at that very midnight.
    assert calendar.elapsed(due - MICRO, due) == MICRO
    local = due.astimezone(ZoneInfo(zone))
    assert not calendar.is_open(due) or (local.hour, local.minute) == (0, 0)
    # No working day is longer than two calendar days.
    assert us(due) - us(first) < 2 * DAY_US


@SETTINGS
@given(starts(), st.integers(0, 36 * HOUR_US), SPECS)
def test_a_later_start_is_never_due_sooner(
    case: tuple[str, str, int], later: int, spec: WorkingDays
) -> None:
    zone, template, s = case
    calendar = pooled(zone, template)
    early, late = _start(zone, s), _start(zone, s + later)
    if template in OVERLAPPING or any(repeated(calendar.next_open(x)) for x in (early, late)):
        # In the hour repeated when clocks go back, wall times run back too: a clock that
        # starts in its second pass keeps its own (earlier) wall time, as documented.
        return
    assert us(working_days_due(spec, calendar, early)) <= us(working_days_due(spec, calendar, late))


def repeated(moment: datetime) -> bool:
    """Whether ``moment``'s wall time occurs twice (the hour repeated in autumn)."""
    other = moment.replace(fold=1 - moment.fold)
    return other.utcoffset() != moment.utcoffset()


@settings(max_examples=40, deadline=None)
@given(st.integers(us(datetime(2024, 1, 1, tzinfo=UTC)), us(datetime(2030, 1, 1, tzinfo=UTC))))
def test_always_open_days_are_24_hours(s: int) -> None:
    start = at(s)
    midnight = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=UTC)
    assert resolve_target(WorkingDays(3), AlwaysOpen(), start) == timedelta(days=3)
    assert working_days_due(EOD, AlwaysOpen(), start) == midnight


# -- agreement with a reference reading of each date's hours -------------------------------------


def reference_due(ref: Reference, spec: WorkingDays) -> int:
    """The due instant by the documented rules, from each local date's own intervals as the
    reference lays them out (its own reading of dated, month-day, holiday and weekly hours)."""
    zone = ZoneInfo(ref.spec.zone)

    def hours(day: date) -> list[tuple[int, int]]:
        return reference_intervals(ref.spec, day, day)

    s = ref.start
    # The first instant counted: the start if it is open, else the earliest later opening.
    day = at(s, zone).date() - timedelta(days=1)
    candidates: list[int] = []
    while not candidates or day <= at(min(candidates), zone).date() + timedelta(days=1):
        candidates += [max(a, s) for a, b in hours(day) if b > s]
        day += timedelta(days=1)
    first = min(candidates)
    local = at(first, zone).date()
    start_day = next(
        d for d in (local - timedelta(days=1), local) if any(a <= first < b for a, b in hours(d))
    )
    day, closes = start_day, [max(b for _, b in hours(start_day))]
    for _ in range(spec.days):
        day += timedelta(days=1)
        while not hours(day):
            day += timedelta(days=1)
        closes.append(max(closes[-1], max(b for _, b in hours(day))))
    if spec.end_of_day:
        return closes[-1]
    offset = at(first, zone).replace(tzinfo=None) - datetime.combine(start_day, time())
    wall_due = us((datetime.combine(day, time()) + offset).replace(tzinfo=zone))
    return min(max(wall_due, closes[-2]), closes[-1])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(references(), SPECS)
def test_agrees_with_the_reference(ref: Reference, spec: WorkingDays) -> None:
    calendar = BusinessCalendar(**ref.spec.definition())
    start = at(ref.start, ZoneInfo(ref.spec.zone))
    assert us(working_days_due(spec, calendar, start)) == reference_due(ref, spec)
