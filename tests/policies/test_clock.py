"""SLA clock segments: pauses, late stops and re-targets, as properties and worked examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.calendar import CalendarSet, builtin_calendars, policy_calendars
from policies.clock import SlaClock
from policies.durations import format_duration, parse_duration
from policies.loader import default_policy_dir, load_named_policy

CALENDARS = builtin_calendars()
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

seconds = st.integers(min_value=0, max_value=10 * 86_400)
spans = st.lists(st.tuples(seconds, seconds), min_size=0, max_size=8)


def new_clock(target: timedelta = timedelta(hours=4)) -> SlaClock:
    clock = SlaClock(target=target, calendar="24x7")
    clock.start(T0)
    return clock


@given(spans)
def test_paused_time_never_counts(runs_and_pauses: list[tuple[int, int]]) -> None:
    clock = new_clock()
    now, running = T0, 0
    for run, pause in runs_and_pauses:
        now += timedelta(seconds=run)
        running += run
        clock.pause(now)
        now += timedelta(seconds=pause)
        clock.start(now)
    assert clock.elapsed(now, CALENDARS) == timedelta(seconds=running)


@given(spans, st.integers(min_value=1, max_value=5 * 86_400))
def test_due_time_is_where_elapsed_reaches_the_target(
    runs_and_pauses: list[tuple[int, int]], target_seconds: int
) -> None:
    clock = new_clock(timedelta(seconds=target_seconds))
    now = T0
    for run, pause in runs_and_pauses:
        now += timedelta(seconds=run)
        clock.pause(now)
        now += timedelta(seconds=pause)
        clock.start(now)
    due = clock.due_at(CALENDARS)
    assert due is not None
    assert clock.elapsed(due, CALENDARS) == clock.target
    assert clock.elapsed(due - timedelta(seconds=1), CALENDARS) < clock.target


@given(st.integers(min_value=0, max_value=86_400), st.integers(min_value=0, max_value=86_400))
def test_late_stop_reads_what_the_clock_read_then(before: int, after: int) -> None:
    clock = new_clock()
    stop_at = T0 + timedelta(seconds=before)
    clock.pause(stop_at + timedelta(seconds=after))
    clock.start(stop_at + timedelta(seconds=after + 60))
    clock.stop(stop_at)
    assert clock.elapsed(stop_at + timedelta(days=30), CALENDARS) == timedelta(seconds=before)
    assert clock.stopped
    assert not clock.running


def test_retarget_keeps_elapsed_and_moves_due() -> None:
    clock = new_clock(timedelta(hours=4))
    clock.retarget(timedelta(minutes=15), "24x7", T0 + timedelta(hours=1))
    assert clock.elapsed(T0 + timedelta(hours=1), CALENDARS) == timedelta(hours=1)
    assert clock.due_at(CALENDARS) == T0 + timedelta(minutes=15)
    assert clock.breached(T0 + timedelta(hours=1), CALENDARS)


def test_pause_across_the_due_time_defers_it_by_the_pause() -> None:
    clock = new_clock(timedelta(hours=4))
    clock.pause(T0 + timedelta(hours=1))
    assert clock.due_at(CALENDARS) is None
    clock.start(T0 + timedelta(hours=3, minutes=30))
    assert clock.due_at(CALENDARS) == T0 + timedelta(hours=6, minutes=30)


@given(st.integers(min_value=1, max_value=10**7))
def test_durations_round_trip(total_seconds: int) -> None:
    value = timedelta(seconds=total_seconds)
    assert parse_duration(format_duration(value)) == value


@given(
    st.lists(st.tuples(seconds, seconds, seconds), min_size=1, max_size=5),
    st.sampled_from(["24x7", "support-hours"]),
)
def test_time_resolved_between_reopenings_never_counts(
    cycles: list[tuple[int, int, int]], calendar: str
) -> None:
    # A ticket resolved, reopened, resolved again...: only the worked spans count, each on
    # the clock's calendar, and the due time moves by exactly the time spent resolved.
    calendars = _with_business_hours()
    clock = SlaClock(target=timedelta(hours=4), calendar=calendar)
    now = T0
    clock.start(now)
    worked = timedelta(0)
    for work, resolved_for, _ in cycles:
        end = now + timedelta(seconds=work)
        worked += calendars[calendar].elapsed(now, end)
        clock.stop(end)
        now = end + timedelta(seconds=resolved_for)
        assert clock.elapsed(now, calendars) == worked
        clock.reopen(now)
        assert clock.running
        assert not clock.stopped
    assert clock.elapsed(now, calendars) == worked
    due = clock.due_at(calendars)
    assert clock.target is not None
    if worked < clock.target:
        assert due is not None
        assert due == calendars[calendar].add(now, clock.target - worked)


def test_reopen_of_a_running_clock_changes_nothing() -> None:
    clock = new_clock()
    clock.reopen(T0 + timedelta(hours=1))
    assert len(clock.segments) == 1
    assert clock.elapsed(T0 + timedelta(hours=2), CALENDARS) == timedelta(hours=2)


def _with_business_hours() -> CalendarSet:
    policy = load_named_policy(default_policy_dir(), "default")
    return policy_calendars(policy)
