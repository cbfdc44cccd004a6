"""``build_report`` on hand-built outcomes: every figure checked against a hand computation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from reports.figures import NO_LEVEL, GroupBy, Report, build_report
from reports.stats import Distribution, nearest_rank
from tests.reports.outcomes import RANGE, START, outcome, pause, policy, reopen
from workflows.ticket_outcome import TicketOutcome

NOW = datetime(2025, 5, 20, 12, tzinfo=START.tzinfo)


def tickets() -> list[TicketOutcome]:
    return [
        outcome("A", first=1800, resolution=7200, resolved=True, csat=5),
        outcome(
            "B",
            customer="Beta",
            opened_day=1,
            first=3600,  # exactly the target: a breach
            resolution=18000,
            resolved=True,
            escalations={"response-breached": 1, "resolution-breached": 2},
            next_reply_breaches=1,
            pauses=[pause(30, after_customer_reply=True, reason="<b>logs</b>")],
            paused_seconds=108000,
        ),
        outcome("C", team="identity", opened_day=1, first=600, reopens=[reopen()], plan="gold"),
        outcome(
            "D",
            priority="P2",
            team="identity",
            opened_day=2,
            first=9000,
            resolution=3600,
            resolved=True,
            csat=3,
            pauses=[pause(1)],
            paused_seconds=3600,
        ),
        outcome("E", priority="P2", customer="Gamma", policy="legacy", opened_day=3),
    ]


def report(group_by: GroupBy = "priority") -> Report:
    return build_report(
        tickets(), group_by=group_by, policies={"standard": policy()}, now=NOW, range=RANGE
    )


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    assert nearest_rank(list(range(1, 11)), 90) == 9  # 0.9 * 10 is not rounded up to 10
    assert nearest_rank(list(range(1, 11)), 99) == 10
    assert nearest_rank([7], 1) == 7
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
    assert Distribution.of([]) == Distribution(count=0)


def test_counts_times_and_clock_breaches_per_priority() -> None:
    result = report()
    p1, p2 = result.groups
    assert (p1.group, p1.opened, p1.resolved, p1.reopened) == ("P1", 3, 2, 1)
    assert p1.first_response == Distribution(count=3, mean=2000, p50=1800, p90=3600, p99=3600)
    assert p1.resolution == Distribution(count=2, mean=12600, p50=7200, p90=18000, p99=18000)
    assert p1.breaches == {"first_response": 1, "resolution": 1, "next_reply": 1}
    assert p1.escalations == {"resolution-breached": 2, "response-breached": 1}
    assert (p1.paused.tickets, p1.paused.total_seconds, p1.paused.mean_seconds) == (
        1,
        108000,
        36000,
    )
    assert (p1.csat.responses, p1.csat.mean, p1.csat.response_rate) == (1, 5, 0.5)

    assert (p2.group, p2.opened, p2.resolved, p2.reopened) == ("P2", 2, 1, 0)
    assert p2.first_response == Distribution(count=1, mean=9000, p50=9000, p90=9000, p99=9000)
    assert p2.breaches == {"first_response": 1, "resolution": 0, "next_reply": 0}
    assert (p2.paused.tickets, p2.paused.total_seconds, p2.paused.mean_seconds) == (1, 3600, 1800)
    assert (p2.csat.responses, p2.csat.mean, p2.csat.response_rate) == (1, 3, 1)

    total = result.total
    assert (total.group, total.opened, total.resolved, total.reopened) == ("total", 5, 3, 1)
    assert total.first_response == Distribution(count=4, mean=3750, p50=1800, p90=9000, p99=9000)
    assert total.resolution == Distribution(count=3, mean=9600, p50=7200, p90=18000, p99=18000)
    assert result.unknown_policies == ["legacy"]


def test_attainment_and_error_budget_per_objective() -> None:
    p1, p2 = report().groups
    first, resolution = p1.attainment
    assert (first.key, first.measured, first.met, first.missed) == ("P1-first_response", 3, 2, 1)
    assert first.attainment == 2 / 3
    assert first.objective == 90
    assert first.allowed_misses == (1 - 90 / 100) * 3
    assert first.error_budget_left == 1 - 1 / ((1 - 90 / 100) * 3)
    assert (resolution.key, resolution.measured, resolution.met) == ("P1-resolution", 2, 1)
    assert resolution.attainment == 0.5
    assert resolution.error_budget_left == 1 - 1 / ((1 - 80 / 100) * 2)
    # E runs a policy that is not known: only D is measured against the P2 objective.
    (only,) = p2.attainment
    assert (only.key, only.measured, only.met, only.attainment) == ("P2-first_response", 1, 0, 0)
    assert only.error_budget_left == 1 - 1 / (1 - 95 / 100)


def test_group_by_level_counts_a_ticket_in_each_level_that_fired() -> None:
    groups = {g.group: g for g in report("level").groups}
    assert {name: g.opened for name, g in groups.items()} == {
        NO_LEVEL: 4,
        "resolution-breached": 1,
        "response-breached": 1,
    }
    assert groups["response-breached"].escalations == {
        "resolution-breached": 2,
        "response-breached": 1,
    }


@pytest.mark.parametrize("group_by", ["team", "customer", "policy", "plan"])
def test_other_groupings(group_by: GroupBy) -> None:
    groups = {g.group: g.opened for g in report(group_by).groups}
    expected = {
        "team": {"identity": 2, "payments": 3},
        "customer": {"Acme": 3, "Beta": 1, "Gamma": 1},
        "policy": {"legacy": 1, "standard": 4},
        "plan": {"default": 4, "gold": 1},
    }
    assert groups == expected[group_by]


def test_bottlenecks_rank_by_breaches_and_list_pause_patterns() -> None:
    b = report().bottlenecks
    assert [
        (t.name, t.tickets, t.breaches, t.breached_tickets, t.escalations) for t in b.teams
    ] == [
        ("payments", 3, 3, 1, 3),
        ("identity", 2, 1, 1, 0),
    ]
    assert b.teams[0].breach_rate == 1 / 3
    assert [(p.name, p.breaches) for p in b.priorities] == [("P1", 3), ("P2", 1)]
    # Same breaches and rate: by name.
    assert [(lv.name, lv.tickets, lv.breaches, lv.escalations) for lv in b.levels] == [
        ("resolution-breached", 1, 3, 2),
        ("response-breached", 1, 3, 1),
    ]
    assert (b.paused_after_customer_reply, b.long_pauses, b.long_pause_seconds) == (1, 1, 86400)
    (example,) = b.after_customer_reply_examples
    assert (example.ticket_id, example.seconds, example.reason) == ("B", 108000, "<b>logs</b>")
    assert b.long_pause_examples == [example]


def test_a_shorter_long_pause_threshold_lists_more() -> None:
    result = build_report(
        tickets(),
        group_by="priority",
        policies={"standard": policy()},
        now=NOW,
        range=RANGE,
        long_pause=timedelta(hours=1),
    )
    assert [e.ticket_id for e in result.bottlenecks.long_pause_examples] == ["B", "D"]


def test_attainment_per_day_and_first_response_histogram() -> None:
    result = report()
    assert result.timeline_unit == "day"
    assert [(p.start, p.key, p.measured, p.met) for p in result.timeline] == [
        (date(2025, 5, 5), "P1-first_response", 1, 1),
        (date(2025, 5, 5), "P1-resolution", 1, 1),
        (date(2025, 5, 6), "P1-first_response", 2, 1),
        (date(2025, 5, 6), "P1-resolution", 1, 0),
        (date(2025, 5, 7), "P2-first_response", 1, 0),
    ]
    p1, p2 = result.histograms
    assert p1.target_seconds == 3600
    assert {i: c for i, c in enumerate(p1.counts) if c} == {1: 1, 5: 1, 10: 1}
    assert {i: c for i, c in enumerate(p2.counts) if c} == {12: 1}
    assert p1.edges[10] == 100


def test_long_ranges_chart_per_week() -> None:
    result = build_report(
        tickets(),
        group_by="team",
        policies={},
        now=NOW,
        range=(START - timedelta(days=90), START + timedelta(days=7)),
    )
    assert result.timeline_unit == "week"
    assert result.timeline == []  # no policy given: nothing to measure
    assert result.unknown_policies == ["legacy", "standard"]


def test_no_tickets() -> None:
    result = build_report([], group_by="team", policies={}, now=NOW, range=RANGE)
    assert result.groups == []
    assert result.total.opened == 0
    assert result.total.first_response.mean is None
    assert result.total.csat.response_rate is None


def test_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="group_by 'assignee'"):
        build_report([], group_by="assignee", policies={}, now=NOW, range=RANGE)  # type: ignore[arg-type]
