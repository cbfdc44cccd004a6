"""When each escalation level falls due: pure functions of the ticket, its clocks and ``now``.

The workflow asks two questions after every change: which levels are due now (fire them, in
policy order), and when is the next one due (sleep until then). Both come from
:func:`next_fire_at`, so firing and sleeping can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from policies.calendar import CalendarSet
from policies.clock import SlaClock
from policies.durations import format_duration
from policies.model import (
    AllCondition,
    AnyCondition,
    ClockCondition,
    ClockName,
    Condition,
    FieldCondition,
    Level,
)


@dataclass(frozen=True)
class TicketFacts:
    """The ticket fields that conditions may test."""

    priority: str
    team: str
    customer: str
    affected_users: int
    critical_service: bool


class LevelProgress(BaseModel):
    """How often a level has fired, and when it last did."""

    model_config = ConfigDict(extra="forbid")

    fired: int = 0
    first_due_at: datetime | None = None
    last_fired_at: datetime | None = None


Clocks = Mapping[ClockName, SlaClock]


def clock_threshold(condition: ClockCondition, target: timedelta) -> timedelta:
    """The business time at which a clock condition becomes true."""
    if condition.at is not None:
        # Whole seconds: a percentage of a target must not leave a microsecond remainder that
        # would make a timer fire a hair early or late between replays on other platforms.
        return timedelta(seconds=round(target.total_seconds() * condition.at / 100))
    if condition.after_breach is not None:
        return target + condition.after_breach
    assert condition.before_breach is not None
    return max(target - condition.before_breach, timedelta(0))


def _field_true(condition: FieldCondition, facts: TicketFacts) -> bool:
    value = getattr(facts, condition.field)
    if condition.eq is not None:
        return bool(value == condition.eq)
    if condition.in_ is not None:
        return str(value) in condition.in_
    number = int(value)
    if condition.gte is not None:
        return number >= condition.gte
    if condition.gt is not None:
        return number > condition.gt
    if condition.lte is not None:
        return number <= condition.lte
    assert condition.lt is not None
    return number < condition.lt


def condition_since(
    condition: Condition,
    facts: TicketFacts,
    clocks: Clocks,
    calendars: CalendarSet,
    now: datetime,
) -> datetime | None:
    """When ``condition`` became (or will become) true if nothing else changes; None if never.

    Clock conditions hold only while their clock has not stopped: an acknowledged ticket does not
    escalate for a late first response. Field conditions hold from ``now`` when true, since
    fields change only through updates, after which this is asked again.
    """
    if isinstance(condition, ClockCondition):
        clock = clocks.get(condition.clock)
        if clock is None or clock.stopped or not clock.started:
            return None
        return clock.reached_at(clock_threshold(condition, clock.target), calendars)
    if isinstance(condition, FieldCondition):
        return now if _field_true(condition, facts) else None
    parts = [
        condition_since(c, facts, clocks, calendars, now)
        for c in (condition.any if isinstance(condition, AnyCondition) else condition.all)
    ]
    if isinstance(condition, AllCondition):
        return None if any(p is None for p in parts) else max(p for p in parts if p is not None)
    known = [p for p in parts if p is not None]
    return min(known) if known else None


def next_fire_at(
    level: Level,
    progress: LevelProgress,
    facts: TicketFacts,
    clocks: Clocks,
    calendars: CalendarSet,
    now: datetime,
) -> datetime | None:
    """When ``level`` should next notify (possibly in the past: fire at once); None if never."""
    if level.priorities is not None and facts.priority not in level.priorities:
        return None
    since = condition_since(level.when, facts, clocks, calendars, now)
    if since is None:
        return None
    if progress.fired == 0:
        return since
    if level.repeat is None or progress.fired > level.repeat.times:
        return None
    assert progress.last_fired_at is not None
    assert progress.first_due_at is not None
    # Repeats sit on a grid anchored at the first notice's due time, so they do not drift by
    # each firing's latency; grid points that passed while the ticket was paused are skipped
    # rather than fired in a burst on resume.
    every = level.repeat.every
    passed = (progress.last_fired_at - progress.first_due_at) // every + 1
    return max(since, progress.first_due_at + max(progress.fired, passed) * every)


def condition_uses_clock(condition: Condition, clock: ClockName) -> bool:
    """Whether ``condition`` (or any part of it) tests ``clock``."""
    if isinstance(condition, ClockCondition):
        return condition.clock is clock
    if isinstance(condition, FieldCondition):
        return False
    parts = condition.any if isinstance(condition, AnyCondition) else condition.all
    return any(condition_uses_clock(c, clock) for c in parts)


def describe_condition(condition: Condition) -> str:
    """A short human description, for notices and the Web UI (``resolution at 100%``)."""
    if isinstance(condition, ClockCondition):
        if condition.at is not None:
            return f"{condition.clock.value} at {condition.at:g}% of target"
        if condition.after_breach is not None:
            return f"{condition.clock.value} {format_duration(condition.after_breach)} past breach"
        assert condition.before_breach is not None
        return f"{condition.clock.value} {format_duration(condition.before_breach)} before breach"
    if isinstance(condition, FieldCondition):
        for op, sign in (("eq", "="), ("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<")):
            value = getattr(condition, op)
            if value is not None:
                shown = str(value).lower() if isinstance(value, bool) else value
                return f"{condition.field} {sign} {shown}"
        return f"{condition.field} in {', '.join(condition.in_ or [])}"
    if isinstance(condition, AnyCondition):
        return " or ".join(describe_condition(c) for c in condition.any)
    return " and ".join(describe_condition(c) for c in condition.all)
