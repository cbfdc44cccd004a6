"""Burn rates, attainment and the multiwindow alert condition: examples and properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.model import DEFAULT_BURN_RATE_ALERTS, BurnRateAlert, ClockName, Objective
from reports.burn_rate import (
    Counts,
    Event,
    burn_rate,
    clock_event,
    error_budget,
    evaluate_objective,
    window_counts,
)
from tests.slo.outcomes import TARGET, outcome, period
from workflows.ticket_outcome import TicketOutcome

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
P1_RESPONSE = Objective(priority="P1", clock=ClockName.FIRST_RESPONSE, objective=95)
ALERTS = list(DEFAULT_BURN_RATE_ALERTS)


def test_error_budget_is_the_decimal_the_author_wrote() -> None:
    assert error_budget(P1_RESPONSE) == Fraction(1, 20)
    half = Objective(priority="P1", clock=ClockName.FIRST_RESPONSE, objective=95.5)
    assert error_budget(half) == Fraction(9, 200)
    assert error_budget(Objective(priority="P1", clock="resolution", objective="99.9%")) == (
        Fraction(1, 1000)
    )


def test_burn_rate_is_error_rate_over_budget() -> None:
    assert burn_rate(Counts(good=8, bad=2), Fraction(1, 20)) == 4
    assert burn_rate(Counts(), Fraction(1, 20)) == 0


def test_a_met_clock_counts_when_it_stopped_a_breach_when_it_breached() -> None:
    opened = NOW - timedelta(hours=3)
    met = outcome(opened_at=opened, met_at=opened + timedelta(minutes=5)).clocks
    assert clock_event(met[ClockName.FIRST_RESPONSE], NOW) == Event(
        at=opened + timedelta(minutes=5), bad=False
    )
    # Breached two hours ago and answered a minute ago: one bad event, at the breach, so it
    # is not counted again in the last hour.
    late = outcome(
        opened_at=opened,
        breached_at=opened + TARGET,
        stopped_at=NOW - timedelta(minutes=1),
    ).clocks[ClockName.FIRST_RESPONSE]
    assert clock_event(late, NOW) == Event(at=opened + TARGET, bad=True)


def test_a_running_clock_is_no_event_until_its_due_time_passes() -> None:
    opened = NOW - timedelta(minutes=20)
    due = opened + TARGET
    # Written before it was due (breached is still False in the memo).
    running = outcome(opened_at=opened, running_due_at=due).clocks[ClockName.FIRST_RESPONSE]
    assert clock_event(running, due - timedelta(seconds=1)) is None
    assert clock_event(running, NOW) == Event(at=due, bad=True)
    paused = outcome(opened_at=opened).clocks[ClockName.FIRST_RESPONSE]
    assert clock_event(paused, NOW) is None


def test_a_bad_hour_fires_the_fast_burn_alert() -> None:
    # 10 first responses in the last 50 minutes, 8 of them late: 80% errors, 16x burn.
    burn = evaluate_objective(P1_RESPONSE, ALERTS, period(NOW, good=2, bad=8), NOW)
    assert burn.firing is not None
    assert burn.firing.alert == ALERTS[0]
    assert burn.firing.long.counts == Counts(good=2, bad=8)
    assert burn.firing.long.burn_rate == 16
    assert burn.period == Counts(good=2, bad=8)
    assert burn.attainment == Fraction(1, 5)
    assert burn.budget_left == 1 - 16


def test_a_good_hour_does_not_fire() -> None:
    burn = evaluate_objective(P1_RESPONSE, ALERTS, period(NOW, good=20, bad=1), NOW)
    assert burn.firing is None
    assert burn.attainment == Fraction(20, 21)


def test_too_few_events_do_not_fire() -> None:
    outcomes = period(NOW, good=0, bad=4)
    assert evaluate_objective(P1_RESPONSE, ALERTS, outcomes, NOW).firing is None
    assert evaluate_objective(P1_RESPONSE, ALERTS, outcomes, NOW, min_events=4).firing


def test_a_good_short_window_resets_the_alert() -> None:
    fast = ALERTS[:1]  # 1h and 5m (the slow pair's 30 minutes still sees the misses)
    outcomes = period(NOW - timedelta(minutes=10), good=0, bad=8)
    assert evaluate_objective(P1_RESPONSE, fast, outcomes, NOW).firing is not None
    answered = outcome(opened_at=NOW - timedelta(minutes=5), met_at=NOW - timedelta(minutes=2))
    after = evaluate_objective(P1_RESPONSE, fast, [*outcomes, answered], NOW)
    assert after.firing is None
    assert after.checks[0].short.counts == Counts(good=1, bad=0)


def test_a_burn_rate_exactly_at_the_threshold_fires() -> None:
    objective = Objective(priority="P1", clock=ClockName.FIRST_RESPONSE, objective=90)
    alert = BurnRateAlert(
        long_window=timedelta(hours=1), short_window=timedelta(minutes=5), burn_rate=6
    )
    # 6 of 10 late: error rate 3/5, budget 1/10, burn rate exactly 6.
    burn = evaluate_objective(objective, [alert], period(NOW, good=4, bad=6), NOW)
    assert burn.checks[0].long.burn_rate == 6
    assert burn.firing is not None


def test_other_priorities_and_policies_clocks_are_ignored() -> None:
    outcomes = [
        outcome(opened_at=NOW - timedelta(minutes=30), breached_at=NOW - timedelta(minutes=15))
        for _ in range(6)
    ]
    p2 = [o.model_copy(update={"priority": "P2"}) for o in outcomes]
    assert evaluate_objective(P1_RESPONSE, ALERTS, p2, NOW).period == Counts()
    resolution = Objective(priority="P1", clock=ClockName.RESOLUTION, objective=95)
    assert evaluate_objective(resolution, ALERTS, outcomes, NOW).period == Counts()


def test_min_events_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_events"):
        evaluate_objective(P1_RESPONSE, ALERTS, [], NOW, min_events=0)


# -- properties ------------------------------------------------------------------------------

counts = st.builds(Counts, good=st.integers(0, 10_000), bad=st.integers(0, 10_000))
budgets = st.fractions(min_value=Fraction(1, 10_000), max_value=Fraction(9_999, 10_000))


@given(counts, st.integers(1, 1000), budgets)
def test_burn_rate_is_scale_free(window: Counts, k: int, budget: Fraction) -> None:
    scaled = Counts(good=window.good * k, bad=window.bad * k)
    assert burn_rate(scaled, budget) == burn_rate(window, budget)


@given(counts, budgets)
def test_burn_rate_is_monotone_in_bad_events(window: Counts, budget: Fraction) -> None:
    more_bad = Counts(good=window.good, bad=window.bad + 1)
    assert burn_rate(more_bad, budget) >= burn_rate(window, budget)
    if window.good:
        swapped = Counts(good=window.good - 1, bad=window.bad + 1)
        assert burn_rate(swapped, budget) > burn_rate(window, budget)


@given(counts, budgets)
def test_burn_rate_is_between_zero_and_one_over_budget(window: Counts, budget: Fraction) -> None:
    rate = burn_rate(window, budget)
    assert 0 <= rate <= 1 / budget
    # Spending exactly the budget is a burn rate of exactly 1.
    if window.total:
        assert (rate == 1) == (window.error_rate == budget)


minutes = st.integers(min_value=0, max_value=60 * 24 * 30)
events = st.lists(
    st.builds(Event, at=minutes.map(lambda m: NOW - timedelta(minutes=m)), bad=st.booleans()),
    max_size=60,
)


@given(events, minutes, minutes, minutes)
def test_window_counts_add_up_over_adjacent_windows(
    found: list[Event], a: int, b: int, c: int
) -> None:
    x, y, z = sorted([a, b, c], reverse=True)
    start, middle, end = (NOW - timedelta(minutes=m) for m in (x, y, z))
    first, second = window_counts(found, start, middle), window_counts(found, middle, end)
    whole = window_counts(found, start, end)
    assert whole == Counts(good=first.good + second.good, bad=first.bad + second.bad)


spread = st.lists(
    st.tuples(st.integers(1, 400), st.booleans()), min_size=0, max_size=40
)  # (minutes before NOW the clock met or breached, whether it breached)


def _outcomes(shape: list[tuple[int, bool]]) -> list[TicketOutcome]:
    found = []
    for before, bad in shape:
        at = NOW - timedelta(minutes=before)
        opened = at - TARGET
        if bad:
            found.append(outcome(opened_at=opened, breached_at=at))
        else:
            found.append(outcome(opened_at=opened, met_at=at))
    return found


@given(spread, st.integers(0, 39))
def test_a_miss_instead_of_a_met_target_never_silences_an_alert(
    shape: list[tuple[int, bool]], index: int
) -> None:
    before = evaluate_objective(P1_RESPONSE, ALERTS, _outcomes(shape), NOW)
    if shape:
        i = index % len(shape)
        worse = [*shape[:i], (shape[i][0], True), *shape[i + 1 :]]
        after = evaluate_objective(P1_RESPONSE, ALERTS, _outcomes(worse), NOW)
        for was, now in zip(before.checks, after.checks, strict=True):
            assert now.long.burn_rate >= was.long.burn_rate
            assert now.firing or not was.firing
        assert after.budget_left <= before.budget_left


@given(spread, st.randoms())
def test_the_order_of_tickets_does_not_matter(
    shape: list[tuple[int, bool]], rnd: random.Random
) -> None:
    found = _outcomes(shape)
    shuffled = list(found)
    rnd.shuffle(shuffled)
    first = evaluate_objective(P1_RESPONSE, ALERTS, found, NOW)
    second = evaluate_objective(P1_RESPONSE, ALERTS, shuffled, NOW)
    assert first == second
