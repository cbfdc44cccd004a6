"""Properties of ``build_report`` on random outcomes (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.figures import GROUP_BY, GroupBy, build_report
from reports.stats import Distribution
from tests.reports.outcomes import RANGE, outcome, pause, policy
from workflows.ticket_outcome import TicketOutcome

NOW = datetime(2025, 6, 1, tzinfo=RANGE[0].tzinfo)
POLICIES = {"standard": policy()}
LEVELS = ("response-breached", "resolution-breached", "major-incident")

seconds = st.none() | st.floats(min_value=0, max_value=100_000, allow_nan=False)


@st.composite
def outcomes(draw: st.DrawFn) -> TicketOutcome:
    resolution = draw(seconds)
    paused = draw(st.lists(st.floats(min_value=0.1, max_value=72), max_size=3))
    return outcome(
        f"T-{draw(st.integers(0, 10**9))}",
        priority=draw(st.sampled_from(["P1", "P2"])),
        team=draw(st.sampled_from(["payments", "identity", "mobile"])),
        customer=draw(st.sampled_from(["Acme", "Beta"])),
        policy=draw(st.sampled_from(["standard", "legacy"])),
        opened_day=draw(st.integers(0, 6)),
        first=draw(seconds),
        resolution=resolution,
        resolved=resolution is not None and draw(st.booleans()),
        escalations=draw(st.dictionaries(st.sampled_from(LEVELS), st.integers(1, 4))),
        next_reply_breaches=draw(st.integers(0, 3)),
        csat=draw(st.none() | st.integers(1, 5)),
        pauses=[pause(h, after_customer_reply=draw(st.booleans())) for h in paused],
        paused_seconds=sum(h * 3600 for h in paused),
    )


tickets = st.lists(outcomes(), max_size=40, unique_by=lambda o: o.ticket_id)


def _ordered(d: Distribution) -> bool:
    if d.count == 0:
        return d.p50 is None and d.mean is None
    assert d.p50 is not None
    assert d.p90 is not None
    assert d.p99 is not None
    assert d.mean is not None
    return d.p50 <= d.p90 <= d.p99 and d.p50 >= 0


@settings(max_examples=150, deadline=None)
@given(tickets, st.sampled_from([g for g in GROUP_BY if g != "level"]))
def test_groups_partition_the_tickets(items: list[TicketOutcome], group_by: GroupBy) -> None:
    result = build_report(items, group_by=group_by, policies=POLICIES, now=NOW, range=RANGE)
    total = result.total
    for figure in ("opened", "resolved", "reopened"):
        assert sum(getattr(g, figure) for g in result.groups) == getattr(total, figure)
    for clock in ("first_response", "resolution", "next_reply"):
        assert sum(g.breaches[clock] for g in result.groups) == total.breaches[clock]
    assert sum(g.first_response.count for g in result.groups) == total.first_response.count
    assert sum(g.csat.responses for g in result.groups) == total.csat.responses
    for key in total.escalations:
        assert sum(g.escalations.get(key, 0) for g in result.groups) == total.escalations[key]
    measured = {(a.policy, a.key): a.measured for a in total.attainment}
    for ident, count in measured.items():
        assert (
            sum(
                a.measured
                for g in result.groups
                for a in g.attainment
                if (a.policy, a.key) == ident
            )
            == count
        )


@settings(max_examples=150, deadline=None)
@given(tickets, st.sampled_from(GROUP_BY))
def test_figures_stay_in_range(items: list[TicketOutcome], group_by: GroupBy) -> None:
    result = build_report(items, group_by=group_by, policies=POLICIES, now=NOW, range=RANGE)
    assert result.total.opened == len(items)
    for group in [*result.groups, result.total]:
        assert _ordered(group.first_response)
        assert _ordered(group.resolution)
        assert group.resolved <= group.opened
        for a in group.attainment:
            assert a.attainment is not None
            assert 0 <= a.attainment <= 1
            assert a.met + a.missed == a.measured
            assert a.error_budget_left is not None
            assert a.error_budget_left <= 1
            # No miss leaves the whole budget; misses beyond the allowance overdraw it.
            assert (a.error_budget_left == 1) == (a.missed == 0)
            assert (a.error_budget_left < 0) == (a.missed > a.allowed_misses)
        if group.csat.response_rate is not None:
            assert 0 <= group.csat.response_rate <= 1
        if group.csat.mean is not None:
            assert 1 <= group.csat.mean <= 5
    # Every ticket is in at least one group, whatever the grouping.
    assert sum(g.opened for g in result.groups) >= len(items)
    for histogram in result.histograms:
        assert len(histogram.counts) == len(histogram.edges)
    assert sum(sum(h.counts) for h in result.histograms) == result.total.first_response.count
    for point in result.timeline:
        assert point.attainment is not None
        assert 0 <= point.attainment <= 1


@settings(max_examples=50, deadline=None)
@given(tickets)
def test_the_total_does_not_depend_on_the_grouping(items: list[TicketOutcome]) -> None:
    totals = [
        build_report(items, group_by=g, policies=POLICIES, now=NOW, range=RANGE).total
        for g in GROUP_BY
    ]
    assert all(total == totals[0] for total in totals)


@settings(max_examples=50, deadline=None)
@given(tickets)
def test_order_of_tickets_does_not_matter(items: list[TicketOutcome]) -> None:
    forward = build_report(items, group_by="team", policies=POLICIES, now=NOW, range=RANGE)
    backward = build_report(items[::-1], group_by="team", policies=POLICIES, now=NOW, range=RANGE)
    assert forward == backward


def test_long_pause_default_is_a_day() -> None:
    result = build_report([], group_by="team", policies={}, now=NOW, range=RANGE)
    assert result.bottlenecks.long_pause_seconds == timedelta(days=1).total_seconds()
