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

FactsHistory = list[tuple[datetime, TicketFacts]]
"""Each instant the facts changed, oldest first, with the facts from then on; the last entry
holds the facts as they stand now."""


@dataclass(frozen=True)
class Liveness:
    """What the grid rule needs beyond the clocks: when the facts changed, and when the ticket
    was not live (paused, or resolved before a reopening)."""

    history: FactsHistory
    gaps: list[tuple[datetime, datetime | None]]
    """Spans the ticket was not live, ``[start, end)`` in time order; ``end`` is None for a
    pause still running."""

    def first_live(self, at: datetime) -> datetime | None:
        """``at`` if the ticket was (or is) live then, else the instant it next became live;
        None if that has not happened yet."""
        for start, end in self.gaps:
            if start <= at and (end is None or at < end):
                if end is None:
                    return None
                at = end
        return at


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


def _held_since(condition: FieldCondition, history: FactsHistory) -> datetime | None:
    """The instant since which ``condition`` has held without interruption; None if false now."""
    since = None
    for at, facts in reversed(history):
        if not _field_true(condition, facts):
            break
        since = at
    return since


def _priority_since(priorities: list[str], history: FactsHistory) -> datetime | None:
    """The instant since which the ticket's priority has stayed in ``priorities``."""
    since = None
    for at, facts in reversed(history):
        if facts.priority not in priorities:
            break
        since = at
    return since


def condition_since(
    condition: Condition,
    facts: TicketFacts,
    clocks: Clocks,
    calendars: CalendarSet,
    now: datetime,
    history: FactsHistory | None = None,
) -> datetime | None:
    """When ``condition`` became (or will become) true if nothing else changes; None if never.

    Clock conditions hold only while their clock has not stopped: an acknowledged ticket does not
    escalate for a late first response. On a clock without a target (response-only targets) they
    never hold. A field condition holds since the update that made it true, read from
    ``history``; without one (tickets opened before the history was kept) it holds from ``now``,
    and fields change only through updates, after which this is asked again.
    """
    if isinstance(condition, ClockCondition):
        clock = clocks.get(condition.clock)
        if clock is None or clock.stopped or not clock.started or clock.target is None:
            return None
        return clock.reached_at(clock_threshold(condition, clock.target), calendars)
    if isinstance(condition, FieldCondition):
        if not _field_true(condition, facts):
            return None
        return now if history is None else _held_since(condition, history)
    parts = [
        condition_since(c, facts, clocks, calendars, now, history)
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
    live: Liveness | None = None,
) -> datetime | None:
    """When ``level`` should next notify (possibly in the past: fire at once); None if never.

    ``live`` carries the facts history and the spans the ticket was not live; without it
    (tickets opened before they were kept) the older rule applies: see :func:`_legacy_next`.
    """
    if level.priorities is not None and facts.priority not in level.priorities:
        return None
    history = live.history if live is not None else None
    since = condition_since(level.when, facts, clocks, calendars, now, history)
    if since is None:
        return None
    if live is None:
        return _legacy_next(level, progress, since)
    if level.priorities is not None:
        # `priorities` is part of the condition: a level waiting on a priority change is due
        # when the priority changed, not when the rest of its condition came true.
        since = max(since, _priority_since(level.priorities, live.history) or since)
    # Nothing falls due at an instant the ticket was paused or resolved: a level whose condition
    # came true then is due when the ticket became live again.
    if progress.fired == 0:
        return live.first_live(since)
    if level.repeat is None or progress.fired > level.repeat.times:
        return None
    assert progress.last_fired_at is not None
    assert progress.first_due_at is not None
    # Repeats sit on the grid first_due_at + k * every. A repeat takes the first grid point
    # after the slot of the previous notice (points that passed while a late notice waited are
    # skipped, not sent in a burst) at which the condition held and the ticket was live; so
    # points that fell while paused, resolved or while the condition did not hold are skipped,
    # and `times` counts notices sent.
    every = level.repeat.every
    anchor = progress.first_due_at
    slot = (progress.last_fired_at - anchor) // every + 1
    point = anchor + max(progress.fired, slot, _ceil_steps(since - anchor, every)) * every
    while (live_at := live.first_live(point)) != point:
        if live_at is None:
            return None
        point = anchor + _ceil_steps(live_at - anchor, every) * every
    return point


def _ceil_steps(span: timedelta, every: timedelta) -> int:
    """The fewest whole steps of ``every`` that cover ``span`` (negative spans: zero or less)."""
    return -(-span // every)


def _legacy_next(level: Level, progress: LevelProgress, since: datetime) -> datetime | None:
    """The rule of tickets opened before the facts history was kept, unchanged so that their
    histories replay: repeats may land off the grid (``since`` wins) and a repeat missed while
    paused is sent on resume."""
    if progress.fired == 0:
        return since
    if level.repeat is None or progress.fired > level.repeat.times:
        return None
    assert progress.last_fired_at is not None
    assert progress.first_due_at is not None
    # Anchored at the first notice's due time so repeats do not drift by each firing's latency.
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
