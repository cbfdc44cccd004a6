"""When levels fall due: pure checks of the ladder rules, without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.calendar import builtin_calendars
from policies.clock import SlaClock
from policies.ladder import LevelProgress, TicketFacts, describe_condition, next_fire_at
from policies.loader import default_policy_dir, load_named_policy
from policies.model import ClockName

CALENDARS = builtin_calendars()
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = load_named_policy(default_policy_dir(), "default")
LEVELS = {level.name: level for level in POLICY.levels}


def facts(**changes: object) -> TicketFacts:
    base: dict[str, object] = {
        "priority": "P1",
        "team": "payments",
        "customer": "Acme",
        "affected_users": 1,
        "critical_service": False,
    }
    base.update(changes)
    return TicketFacts(**base)  # type: ignore[arg-type]


def clocks() -> dict[ClockName, SlaClock]:
    result = {}
    for name in ClockName:
        clock = SlaClock(target=POLICY.targets["P1"].for_clock(name), calendar="24x7")
        clock.start(T0)
        result[name] = clock
    return result


def test_percent_threshold() -> None:
    due = next_fire_at(
        LEVELS["response-at-risk"], LevelProgress(), facts(), clocks(), CALENDARS, T0
    )
    assert due == T0 + timedelta(minutes=15) * 0.75


def test_stopped_clock_never_fires_its_levels() -> None:
    c = clocks()
    c[ClockName.FIRST_RESPONSE].stop(T0 + timedelta(minutes=1))
    level = LEVELS["response-breached"]
    assert next_fire_at(level, LevelProgress(), facts(), c, CALENDARS, T0) is None


def test_any_condition_takes_the_earliest_part() -> None:
    level = LEVELS["major-incident"]
    later = next_fire_at(level, LevelProgress(), facts(), clocks(), CALENDARS, T0)
    assert later == T0 + timedelta(hours=6)
    now = T0 + timedelta(minutes=3)
    at_once = next_fire_at(
        level, LevelProgress(), facts(critical_service=True), clocks(), CALENDARS, now
    )
    assert at_once == now


def test_priority_filter() -> None:
    level = LEVELS["major-incident"]
    assert (
        next_fire_at(level, LevelProgress(), facts(priority="P3"), clocks(), CALENDARS, T0) is None
    )


@given(st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=50_000))
def test_repeats_sit_on_a_grid_and_stop_after_times(fired: int, latency_ms: int) -> None:
    level = LEVELS["major-incident"]
    first_due = T0 + timedelta(hours=6)
    every = timedelta(minutes=30)
    progress = LevelProgress(
        fired=fired + 1,
        first_due_at=first_due,
        last_fired_at=first_due + fired * every + timedelta(milliseconds=latency_ms),
    )
    now = first_due + timedelta(hours=12)
    due = next_fire_at(level, progress, facts(), clocks(), CALENDARS, now)
    if fired + 1 > 3:
        assert due is None
    else:
        assert due == first_due + (fired + 1) * every


def test_descriptions_read_like_the_policy() -> None:
    assert (
        describe_condition(LEVELS["response-breached"].when) == "first_response at 100% of target"
    )
    assert describe_condition(LEVELS["major-incident"].when) == (
        "resolution 2h past breach or affected_users >= 500 or critical_service = true"
    )
