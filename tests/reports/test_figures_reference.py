"""``build_report`` gives exactly the figures of the plain, one-pass-per-figure computation.

The oracle is ``tests/reports/reference_figures.py`` (the code ``build_report`` replaced). Every
float must be equal, not close: sums are exact and distributions sorted, so the order in which
the one pass meets tickets must not show.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.report_bench import EPOCH, SPREAD, make_outcome
from policies.loader import default_policy_dir, load_named_policy
from reports.figures import GROUP_BY, NO_LEVEL, GroupBy, build_report
from tests.reports.outcomes import RANGE, START, outcome, pause, policy, reopen
from tests.reports.reference_figures import reference_report
from workflows.ticket_outcome import Pause, TicketOutcome

NOW = datetime(2025, 6, 1, tzinfo=RANGE[0].tzinfo)
POLICIES = {"standard": policy()}
LEVELS = ("response-breached", "resolution-breached", "major-incident")
seconds = st.none() | st.floats(min_value=0, max_value=100_000, allow_nan=False)


@st.composite
def outcomes(draw: st.DrawFn) -> TicketOutcome:
    resolution = draw(seconds)
    paused = draw(st.lists(st.floats(min_value=0.1, max_value=72), max_size=3))
    pauses = [pause(h, after_customer_reply=draw(st.booleans())) for h in paused]
    if draw(st.booleans()):
        # Still paused: counts until the outcome's as_of.
        pauses.append(Pause(start=START + timedelta(hours=draw(st.integers(0, 200)))))
    return outcome(
        f"T-{draw(st.integers(0, 10**9))}",
        priority=draw(st.sampled_from(["P1", "P2"])),
        # A team named like the no-level group stays out of the team bottlenecks.
        team=draw(st.sampled_from(["payments", "identity", NO_LEVEL])),
        customer=draw(st.sampled_from(["Acme", "Beta"])),
        policy=draw(st.sampled_from(["standard", "legacy"])),
        opened_day=draw(st.integers(-3, 80)),
        first=draw(seconds),
        resolution=resolution,
        resolved=resolution is not None and draw(st.booleans()),
        escalations=draw(st.dictionaries(st.sampled_from(LEVELS), st.integers(0, 4))),
        next_reply_breaches=draw(st.integers(0, 3)),
        csat=draw(st.none() | st.integers(1, 5)),
        pauses=pauses,
        paused_seconds=draw(st.floats(min_value=0, max_value=10**6)),
        reopens=[reopen()] if draw(st.booleans()) else [],
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(outcomes(), max_size=40, unique_by=lambda o: o.ticket_id),
    st.sampled_from(GROUP_BY),
    st.sampled_from([timedelta(days=7), timedelta(days=90)]),
    st.sampled_from([timedelta(hours=1), timedelta(hours=24)]),
)
def test_the_one_pass_equals_the_reference(
    items: list[TicketOutcome], group_by: GroupBy, length: timedelta, long_pause: timedelta
) -> None:
    span = (RANGE[0], RANGE[0] + length)
    fast = build_report(
        items, group_by=group_by, policies=POLICIES, now=NOW, range=span, long_pause=long_pause
    )
    plain = reference_report(
        items, group_by=group_by, policies=POLICIES, now=NOW, range=span, long_pause=long_pause
    )
    assert fast.model_dump() == plain.model_dump()


@pytest.mark.parametrize("group_by", GROUP_BY)
def test_the_benchmark_tickets_give_the_reference_figures(group_by: GroupBy) -> None:
    default = load_named_policy(default_policy_dir(), "default")
    rng = random.Random(16)
    items = [make_outcome(i, rng, default) for i in range(3000)]
    policies, span = {default.name: default}, (EPOCH, EPOCH + SPREAD)
    fast = build_report(items, group_by=group_by, policies=policies, now=NOW, range=span)
    plain = reference_report(items, group_by=group_by, policies=policies, now=NOW, range=span)
    assert fast.model_dump() == plain.model_dump()
