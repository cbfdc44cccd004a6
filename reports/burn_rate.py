"""Error-budget burn rates of SLA objectives: the pure arithmetic behind the SLO monitor.

The method is the multiwindow, multi-burn-rate alert of the Google SRE workbook, chapter 5
("Alerting on SLOs", https://sre.google/workbook/alerting-on-slos/): the *burn rate* over a
window is the window's error rate divided by the objective's error budget (1 is the rate that
spends exactly the whole budget over the objective's window), and an alert holds when both a
long window (the burn is significant) and a short window (it is still going on) burn at least
a given rate.

Here an *event* is one SLA clock of the objective's priority and clock:

- a clock that breached is one bad event at the moment it breached (its ``due_at``), whether it
  has stopped since or still runs. Counting it when it breaches, not when it finally stops,
  alerts while a ticket can still be helped, and gives every clock a single event time: a
  breach never counts again, in a later window, when the ticket is finally answered;
- a clock that stopped within its target is one good event at the moment it stopped;
- a running clock short of its target is no event yet.

Everything is computed with :class:`~fractions.Fraction`, so a burn rate exactly at a
threshold compares as equal, and the objective's percentage is read as the decimal it was
written as (95.5% leaves exactly 4.5%).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from policies.model import BurnRateAlert, ClockName, Objective
from workflows.ticket_outcome import ClockOutcome, TicketOutcome

DEFAULT_MIN_EVENTS = 5
"""Events the long window needs before it may alert: one breached ticket out of one is a 100%
error rate, and paging an executive about one ticket is what the ticket's own escalation
ladder is for."""


@dataclass(frozen=True)
class Event:
    """One clock's contribution to an objective: good or bad, at one moment."""

    at: datetime
    bad: bool


def clock_event(clock: ClockOutcome, now: datetime) -> Event | None:
    """The event ``clock`` amounts to at ``now``, or None while it neither met nor missed.

    A running clock whose ``due_at`` has passed has breached even if the outcome was written
    before it did (the memo is rewritten on changes, not on every tick), so it counts as bad.
    """
    if clock.breached or (clock.stopped_at is None and clock.due_at is not None):
        breach = clock.due_at if clock.due_at is not None else clock.stopped_at
        if breach is not None and breach <= now:
            return Event(at=breach, bad=True)
        return None
    if clock.stopped_at is not None and clock.stopped_at <= now:
        return Event(at=clock.stopped_at, bad=False)
    return None


def objective_events(
    outcomes: Iterable[TicketOutcome], priority: str, clock: ClockName, now: datetime
) -> list[Event]:
    """The events of ``priority``'s ``clock`` among ``outcomes`` as of ``now``."""
    events = []
    for outcome in outcomes:
        if outcome.priority != priority:
            continue
        found = outcome.clock(clock)
        if found is None:
            continue
        event = clock_event(found, now)
        if event is not None:
            events.append(event)
    return events


@dataclass(frozen=True)
class Counts:
    """Good and bad events in one window."""

    good: int = 0
    bad: int = 0

    @property
    def total(self) -> int:
        """Events in the window."""
        return self.good + self.bad

    @property
    def error_rate(self) -> Fraction:
        """The share of bad events; 0 when the window has none (nothing burned)."""
        return Fraction(self.bad, self.total) if self.total else Fraction(0)


def window_counts(events: Iterable[Event], start: datetime, end: datetime) -> Counts:
    """The events in ``[start, end)``, counted."""
    good = bad = 0
    for event in events:
        if start <= event.at < end:
            if event.bad:
                bad += 1
            else:
                good += 1
    return Counts(good=good, bad=bad)


def error_budget(objective: Objective) -> Fraction:
    """The share of clocks allowed to miss, exactly (95% leaves 1/20)."""
    # str() gives the shortest decimal that reads back as the same float: the number the
    # policy's author wrote, not its binary approximation (0.95 is not exactly 95/100).
    return (100 - Fraction(str(objective.objective))) / 100


def burn_rate(counts: Counts, budget: Fraction) -> Fraction:
    """How many times faster than sustainable the budget burns: error rate / error budget."""
    if budget <= 0:
        raise ValueError("an objective of 100% has no error budget to burn")
    return counts.error_rate / budget


@dataclass(frozen=True)
class WindowBurn:
    """One window's counts and burn rate."""

    window: timedelta
    counts: Counts
    burn_rate: Fraction


@dataclass(frozen=True)
class AlertCheck:
    """One burn-rate alert evaluated: its two windows and whether it holds."""

    alert: BurnRateAlert
    long: WindowBurn
    short: WindowBurn
    firing: bool


@dataclass(frozen=True)
class ObjectiveBurn:
    """An objective evaluated at ``now``: every alert's windows, and the objective's period.

    Attributes:
        period: The events of the objective's own window (28 days by default).
        attainment: The share of good events in ``period``; None without events.
        budget_left: The share of the period's error budget not yet spent (1 untouched,
            0 spent, negative overspent).
    """

    objective: Objective
    now: datetime
    checks: tuple[AlertCheck, ...]
    period: Counts
    attainment: Fraction | None
    budget_left: Fraction

    @property
    def firing(self) -> AlertCheck | None:
        """The first alert that holds (the policy lists the most urgent first), if any."""
        return next((check for check in self.checks if check.firing), None)


def window_burn(
    events: Sequence[Event], window: timedelta, now: datetime, budget: Fraction
) -> WindowBurn:
    """The burn over ``[now - window, now)``."""
    counts = window_counts(events, now - window, now)
    return WindowBurn(window=window, counts=counts, burn_rate=burn_rate(counts, budget))


def check_alert(
    alert: BurnRateAlert,
    events: Sequence[Event],
    now: datetime,
    budget: Fraction,
    min_events: int = DEFAULT_MIN_EVENTS,
) -> AlertCheck:
    """Whether ``alert`` holds at ``now``.

    It holds when the long window has at least ``min_events`` events and burns at least
    ``alert.burn_rate``, and the short window does too. A short window without any event does
    not veto: tickets are sparse (five minutes often see no clock stop at all), and no event
    is no evidence that the burning has stopped; the alert then resets when the long window
    drops below the rate, or as soon as a clock in the short window meets its target.
    """
    long = window_burn(events, alert.long_window, now, budget)
    short = window_burn(events, alert.short_window, now, budget)
    threshold = Fraction(str(alert.burn_rate))
    firing = (
        long.counts.total >= min_events
        and long.burn_rate >= threshold
        and (short.counts.total == 0 or short.burn_rate >= threshold)
    )
    return AlertCheck(alert=alert, long=long, short=short, firing=firing)


def evaluate_objective(
    objective: Objective,
    alerts: Sequence[BurnRateAlert],
    outcomes: Iterable[TicketOutcome],
    now: datetime,
    min_events: int = DEFAULT_MIN_EVENTS,
) -> ObjectiveBurn:
    """Evaluate ``objective`` against every alert, and its attainment over its own window."""
    if min_events < 1:
        raise ValueError("min_events must be at least 1")
    events = objective_events(outcomes, objective.priority, objective.clock, now)
    budget = error_budget(objective)
    checks = tuple(check_alert(alert, events, now, budget, min_events) for alert in alerts)
    period = window_counts(events, now - objective.window, now)
    attainment = Fraction(period.good, period.total) if period.total else None
    return ObjectiveBurn(
        objective=objective,
        now=now,
        checks=checks,
        period=period,
        attainment=attainment,
        budget_left=1 - burn_rate(period, budget),
    )
