"""When levels fall due: pure checks of the ladder rules, without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.calendar import builtin_calendars
from policies.clock import SlaClock
from policies.ladder import (
    LevelProgress,
    Liveness,
    TicketFacts,
    describe_condition,
    next_fire_at,
)
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


# -- the rules of tickets with a timeline (facts history and live spans) -------------------

MAJOR = LEVELS["major-incident"]  # any: resolution 2h past breach, >= 500 users, critical
EVERY = timedelta(minutes=30)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def liveness(
    *changes: tuple[float, TicketFacts], gaps: list[tuple[float, float | None]] | None = None
) -> Liveness:
    return Liveness(
        history=[(T0, facts()), *((minutes(m), f) for m, f in changes)],
        gaps=[(minutes(s), None if e is None else minutes(e)) for s, e in gaps or []],
    )


def test_a_field_condition_is_due_at_the_update_that_made_it_true() -> None:
    live = liveness((3, facts(affected_users=900)))
    due = next_fire_at(
        MAJOR, LevelProgress(), facts(affected_users=900), clocks(), CALENDARS, minutes(7), live
    )
    assert due == minutes(3)


def test_a_change_that_keeps_the_condition_true_keeps_its_due_time() -> None:
    live = liveness((3, facts(affected_users=900)), (5, facts(affected_users=1_000)))
    now_facts = facts(affected_users=1_000)
    due = next_fire_at(MAJOR, LevelProgress(), now_facts, clocks(), CALENDARS, minutes(7), live)
    assert due == minutes(3)


def test_a_condition_that_held_again_repeats_from_the_grid_after_it() -> None:
    # First notice at +3m; the impact fell at +20m and rose again at +70m: the grid points +33m
    # and +63m are skipped, the next is +93m.
    live = liveness(
        (3, facts(affected_users=900)),
        (20, facts(affected_users=10)),
        (70, facts(affected_users=800)),
    )
    progress = LevelProgress(fired=1, first_due_at=minutes(3), last_fired_at=minutes(3))
    due = next_fire_at(
        MAJOR, progress, facts(affected_users=800), clocks(), CALENDARS, minutes(70), live
    )
    assert due == minutes(93)


def test_repeats_skip_the_grid_points_that_fell_in_a_pause() -> None:
    live = liveness((3, facts(affected_users=900)), gaps=[(10, 70)])
    progress = LevelProgress(fired=1, first_due_at=minutes(3), last_fired_at=minutes(3))
    now_facts = facts(affected_users=900)
    due = next_fire_at(MAJOR, progress, now_facts, clocks(), CALENDARS, minutes(70), live)
    assert due == minutes(93)
    paused = liveness((3, facts(affected_users=900)), gaps=[(10, None)])
    assert (
        next_fire_at(MAJOR, progress, now_facts, clocks(), CALENDARS, minutes(70), paused) is None
    )


def test_a_condition_that_came_true_while_paused_is_due_at_the_resume() -> None:
    live = liveness((15, facts(affected_users=900)), gaps=[(10, 40)])
    due = next_fire_at(
        MAJOR, LevelProgress(), facts(affected_users=900), clocks(), CALENDARS, minutes(41), live
    )
    assert due == minutes(40)


gap_lists = st.lists(st.tuples(st.integers(0, 500), st.integers(0, 120)), max_size=5).map(
    lambda spans: sorted(
        {(start, start + length) for start, length in spans}, key=lambda gap: gap[0]
    )
)


def _disjoint(gaps: list[tuple[int, int]]) -> list[tuple[float, float | None]]:
    merged: list[tuple[float, float | None]] = []
    for start, end in gaps:
        last_end = merged[-1][1] if merged else None
        if last_end is not None and start <= last_end:
            continue  # a ticket's pauses and resolved stretches never overlap
        merged.append((start, end))
    return merged


@given(gap_lists, st.integers(0, 600), st.integers(1, 4), st.integers(0, 200))
def test_repeats_land_on_the_first_live_grid_point_after_the_previous_slot(
    gaps: list[tuple[int, int]], last_fired: int, fired: int, since: int
) -> None:
    spans = _disjoint(gaps)
    live = liveness((since, facts(affected_users=900)), gaps=spans)
    progress = LevelProgress(fired=fired, first_due_at=T0, last_fired_at=minutes(last_fired))
    due = next_fire_at(
        MAJOR, progress, facts(affected_users=900), clocks(), CALENDARS, minutes(600), live
    )
    # The rule, by brute force over grid points k = 1, 2, ...
    expected = None
    if fired <= 3:
        expected = next(
            point
            for k in range(1, 1_000)
            if k >= fired
            and k > last_fired // 30
            and (point := T0 + k * EVERY) >= minutes(since)
            and not any(minutes(s) <= point < minutes(e or 0) for s, e in spans)
        )
    assert due == expected
