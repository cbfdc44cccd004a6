"""Suggested targets: percentiles, rounding and attainment on hand-built ticket outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.loader import default_policy_dir, load_named_policy
from policies.model import ClockName
from reports.stats import nearest_rank
from reports.suggest import (
    MIN_SAMPLE,
    Suggestion,
    attainment,
    duration_text,
    render_suggestions,
    round_up_target,
    suggest,
)
from workflows.ticket_outcome import ClockOutcome, Span, TicketOutcome

POLICY = load_named_policy(default_policy_dir(), "default")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FR = ClockName.FIRST_RESPONSE
RES = ClockName.RESOLUTION
_IDS = count(1)


def clock(
    seconds: float, target: float, *, stopped: bool = True, calendar: str = "24x7"
) -> ClockOutcome:
    """A clock that ran ``seconds`` from T0 on one span (24x7: business = wall-clock time)."""
    end = T0 + timedelta(seconds=seconds)
    return ClockOutcome(
        target_seconds=target,
        business_seconds=seconds,
        stopped_at=end if stopped else None,
        breached=seconds >= target,
        calendar=calendar,
        spans=[Span(start=T0, end=end if stopped else None, calendar=calendar)],
    )


def ticket(
    priority: str, clocks: dict[ClockName, ClockOutcome], *, policy: str = "default"
) -> TicketOutcome:
    """A ticket outcome with a fresh id, written a day after T0."""
    return TicketOutcome(
        as_of=T0 + timedelta(days=1),
        ticket_id=f"T-{next(_IDS)}",
        priority=priority,
        team="support",
        customer="Acme",
        policy=policy,
        policy_version="3",
        state="resolved",
        opened_at=T0,
        clocks=clocks,
    )


def p1_first_responses(minutes: list[int]) -> list[TicketOutcome]:
    return [ticket("P1", {FR: clock(60 * m, 900)}) for m in minutes]


def row(rows: list[Suggestion], priority: str, name: ClockName) -> Suggestion:
    found = [r for r in rows if r.priority == priority and r.clock is name]
    assert len(found) == 1, f"{priority} {name}: {len(found)} rows"
    return found[0]


def test_nearest_rank_picks_a_value_that_occurred() -> None:
    values = [float(v) for v in range(20, 0, -1)]  # unsorted on purpose
    assert nearest_rank(values, 95) == 19  # rank ceil(0.95 * 20) = 19, not 20 from 19.0000004
    assert nearest_rank(values, 90) == 18
    assert nearest_rank(values, 1) == 1
    assert nearest_rank(values, 100) == 20
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2
    assert nearest_rank([7.5], 99.9) == 7.5
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 95)


def test_targets_round_up_to_the_next_whole_minute_strictly_above() -> None:
    # A clock that took exactly the target breached it, so 10 minutes needs an 11-minute target.
    assert round_up_target(600.0) == 660
    assert round_up_target(599.5) == 600
    assert round_up_target(61) == 120
    assert round_up_target(0) == 60


def test_attainment_counts_the_target_itself_as_a_miss_like_breached() -> None:
    assert attainment([10.0, 20.0, 30.0], 20) == pytest.approx(1 / 3)
    assert attainment([], 20) is None
    outcome = clock(900, 900)
    assert outcome.breached
    assert outcome.target_seconds is not None
    assert attainment([outcome.business_seconds], outcome.target_seconds) == 0


def test_suggestion_for_twenty_p1_first_responses() -> None:
    # 1..20 minutes against 15 m at a 95% objective: 14 met; rank 19 is 19 m, so 20 m is needed.
    rows = suggest(p1_first_responses(list(range(1, 21))), POLICY)
    fr = row(rows, "P1", FR)
    assert fr.objective == 95
    assert fr.objective_source == "policy"
    assert fr.sample == 20
    assert fr.current_target_seconds == 900
    assert fr.current_attainment == pytest.approx(0.70)
    assert fr.achieved_seconds == 1140
    assert fr.suggested_target_seconds == 1200
    assert fr.suggested_attainment == pytest.approx(0.95)
    assert fr.changes_target
    assert fr.warnings == []


def test_a_target_the_data_already_supports_can_be_tightened() -> None:
    # P1 resolution (4 h, 90%): 30 tickets resolved in 1..30 minutes; rank 27 is 27 minutes.
    outcomes = [ticket("P1", {RES: clock(60 * m, 4 * 3600)}) for m in range(1, 31)]
    res = row(suggest(outcomes, POLICY), "P1", RES)
    assert res.current_attainment == 1
    assert res.achieved_seconds == 27 * 60
    assert res.suggested_target_seconds == 28 * 60
    assert res.suggested_attainment == pytest.approx(0.9)


def test_too_small_a_sample_shows_figures_but_suggests_nothing() -> None:
    rows = suggest(p1_first_responses(list(range(1, MIN_SAMPLE))), POLICY)
    fr = row(rows, "P1", FR)
    assert fr.sample == 19
    assert fr.current_attainment == pytest.approx(14 / 19)
    assert fr.achieved_seconds is None
    assert fr.suggested_target_seconds is None
    assert fr.suggested_attainment is None
    assert not fr.changes_target
    assert fr.warnings == ["only 19 stopped clocks (fewer than 20): too few to suggest a target"]


def test_objectives_come_from_the_policy_or_the_default_option() -> None:
    outcomes = [ticket("P3", {RES: clock(3600 * h, 24 * 3600)}) for h in range(1, 21)]
    without = row(suggest(outcomes, POLICY), "P3", RES)
    assert without.objective is None
    assert without.suggested_target_seconds is None
    assert without.current_attainment == 1
    assert without.warnings == ["no objective: give one in the policy or with --objective"]

    rows = suggest(outcomes, POLICY, default_objective=50)
    with_default = row(rows, "P3", RES)
    assert (with_default.objective, with_default.objective_source) == (50, "default")
    assert with_default.achieved_seconds == 10 * 3600
    assert with_default.suggested_target_seconds == 10 * 3600 + 60
    # The policy's own objectives win over the default.
    assert row(rows, "P1", FR).objective == 95
    # With a default, every priority and clock of the policy gets a row, with or without data.
    assert len(rows) == len(POLICY.targets) * len(ClockName)


def test_rows_follow_the_policy_and_skip_what_has_neither_objective_nor_data() -> None:
    rows = suggest([], POLICY)
    assert [(r.priority, r.clock.value) for r in rows] == [
        (o.priority, o.clock.value) for o in POLICY.service_levels.objectives
    ]
    assert all(r.sample == 0 and r.current_attainment is None for r in rows)


def test_running_clocks_other_policies_and_other_targets_are_reported_not_sampled() -> None:
    outcomes = [
        *p1_first_responses(list(range(1, 21))),
        ticket("P1", {FR: clock(1000, 900, stopped=False)}),  # running, past target
        ticket("P1", {FR: clock(100, 900, stopped=False)}),  # running, within
        ticket("P1", {FR: clock(5, 900)}, policy="other"),
        ticket("P9", {FR: clock(5, 900)}),  # a priority the policy no longer has
        ticket("P1", {FR: clock(30, 1800)}),  # recorded under a 30 m target
    ]
    fr = row(suggest(outcomes, POLICY), "P1", FR)
    assert fr.sample == 21
    assert (fr.running, fr.running_breached, fr.other_target) == (2, 1, 1)
    assert fr.current_attainment == pytest.approx(15 / 21)
    assert fr.warnings == [
        "1 clocks still running are already past the target: attainment will drop",
        "1 clocks ran under another target (policy or priority changed)",
    ]


def test_durations_read_as_targets_are_written() -> None:
    assert duration_text(1200) == "20m"
    assert duration_text(30 * 3600) == "30h"  # never 1d6h: a business "day" misleads
    assert duration_text(5400.4) == "1h30m"
    assert duration_text(0) == "0s"


def test_table_names_the_period_and_marks_default_objectives() -> None:
    rows = suggest(p1_first_responses(list(range(1, 21))), POLICY, default_objective=90)
    text = render_suggestions(rows, POLICY, T0, T0 + timedelta(days=28), 20, 2)
    lines = text.splitlines()
    assert lines[0] == "Suggested targets for policy default v4"
    assert "20 (2 more without an outcome, left out)" in lines[1]
    p1 = next(line for line in lines if line.startswith("P1") and "first_response" in line)
    assert p1.split() == [
        "P1",
        "first_response",
        "95%",
        "20",
        "15m",
        "70.0%",
        "19m",
        "20m",
        "95.0%",
    ]
    assert any(line.split()[:3] == ["P2", "next_reply", "90%*"] for line in lines)
    assert "* objective from --objective (the policy states none)" in lines


@given(
    st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=60),
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0, max_value=1e6),
)
def test_attainment_never_drops_when_the_target_grows(
    values: list[float], smaller: float, extra: float
) -> None:
    low, high = attainment(values, smaller), attainment(values, smaller + extra)
    assert low is not None
    assert high is not None
    assert low <= high


@given(
    st.lists(st.integers(min_value=0, max_value=30 * 86_400), min_size=1, max_size=80),
    st.floats(min_value=0.1, max_value=99.9),
)
def test_the_suggested_target_always_meets_its_objective(
    seconds: list[int], objective: float
) -> None:
    values = [float(s) for s in seconds]
    suggested = round_up_target(nearest_rank(values, objective))
    share = attainment(values, suggested)
    assert share is not None
    assert share >= objective / 100 - 1e-9
    # ...and a minute less would not: it is at or below the percentile, which itself misses.
    tighter = attainment(values, suggested - 60)
    assert tighter is not None
    assert tighter < objective / 100
