"""Clocks without a target (the resolution clock of response-only targets): they count, but are
never due, never breach, and clock conditions on them never hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.calendar import builtin_calendars
from policies.clock import SlaClock
from policies.ladder import TicketFacts, condition_since
from policies.model import AnyCondition, ClockCondition, ClockName, FieldCondition

CALENDARS = builtin_calendars()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FACTS = TicketFacts(
    priority="P4", team="payments", customer="Acme", affected_users=900, critical_service=False
)


def measuring_clock() -> SlaClock:
    clock = SlaClock(target=None, calendar="24x7")
    clock.start(T0)
    return clock


@given(st.integers(0, 400 * 86_400))
def test_a_clock_without_a_target_counts_but_never_breaches(seconds: int) -> None:
    clock = measuring_clock()
    now = T0 + timedelta(seconds=seconds)
    assert clock.elapsed(now, CALENDARS) == timedelta(seconds=seconds)
    assert not clock.breached(now, CALENDARS)
    assert clock.due_at(CALENDARS) is None
    # What it counted is still there to be reached, for reports and thresholds of other clocks.
    assert clock.reached_at(timedelta(seconds=seconds), CALENDARS) == now


def test_a_clock_keeps_its_elapsed_time_when_it_gains_or_loses_a_target() -> None:
    clock = measuring_clock()
    clock.retarget(timedelta(hours=4), "24x7", T0 + timedelta(hours=1))
    assert clock.due_at(CALENDARS) == T0 + timedelta(hours=4)
    assert clock.breached(T0 + timedelta(hours=5), CALENDARS)
    clock.retarget(None, "24x7", T0 + timedelta(hours=6))
    assert not clock.breached(T0 + timedelta(hours=6), CALENDARS)
    assert clock.elapsed(T0 + timedelta(hours=6), CALENDARS) == timedelta(hours=6)


def test_clock_conditions_on_it_never_hold() -> None:
    clocks = {ClockName.RESOLUTION: measuring_clock()}
    later = T0 + timedelta(days=365)
    for condition in (
        ClockCondition(clock=ClockName.RESOLUTION, at=1),
        ClockCondition(clock=ClockName.RESOLUTION, before_breach=timedelta(hours=1)),
        ClockCondition(clock=ClockName.RESOLUTION, after_breach=timedelta(hours=1)),
    ):
        assert condition_since(condition, FACTS, clocks, CALENDARS, later) is None
    # Another part of an any-condition still holds on its own.
    either = AnyCondition(
        any=[
            ClockCondition(clock=ClockName.RESOLUTION, at=100),
            FieldCondition(field="affected_users", gte=500),
        ]
    )
    assert condition_since(either, FACTS, clocks, CALENDARS, later) == later
