"""Reports on clocks whose targets are in working days or absent (response-only targets).

A clock without a target is measured by no objective and counts no breach; a target in working
days is a different business time on every ticket, so there is no one duration to suggest or to
compare in a what-if.
"""

from __future__ import annotations

from datetime import timedelta

from policies.loader import parse_policy
from policies.model import ClockName
from reports.figures import build_report
from reports.suggest import suggest
from reports.ticket_facts import TicketFacts
from reports.whatif import what_if
from tests.reports.outcomes import RANGE, START, outcome
from workflows.ticket_outcome import ClockOutcome, TicketOutcome

FR, RES = ClockName.FIRST_RESPONSE, ClockName.RESOLUTION
POLICY_YAML = """
name: standard
version: 1
targets:
  P1: {first_response: 1h, resolution: 4h}
  P2: {first_response: 2h, resolution: 8h}
levels:
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [assignee]
service_levels:
  objectives:
    - {priority: P1, clock: resolution, objective: 80%}
    - {priority: P2, clock: resolution, objective: 80%}
"""
POLICY = parse_policy(POLICY_YAML, "standard.yaml")
# The same policy with P2 response-only and P1 resolving within one working day.
CHANGED = parse_policy(
    POLICY_YAML.replace("P2: {first_response: 2h, resolution: 8h}", "P2: {first_response: 2h}")
    .replace("resolution: 4h}", "resolution: 1bd}")
    .replace("version: 1", "version: 2"),
    "standard.yaml",
)
NOW = START + timedelta(days=9)


def measuring(seconds: float) -> ClockOutcome:
    """A stopped resolution clock that counted ``seconds`` without a target."""
    return ClockOutcome(
        target_seconds=None,
        business_seconds=seconds,
        stopped_at=START + timedelta(days=2),
        calendar="24x7",
    )


def response_only(ticket_id: str, resolution: float) -> TicketOutcome:
    ticket = outcome(ticket_id, priority="P2", first=600, resolved=True)
    return ticket.model_copy(update={"clocks": {FR: ticket.clocks[FR], RES: measuring(resolution)}})


def test_a_clock_without_a_target_keeps_it_in_the_cache_row() -> None:
    facts = TicketFacts.of(response_only("T-1", 90_000))
    again = TicketFacts.from_row(facts.row())
    assert again == facts
    resolution = again.clocks[1]
    assert resolution is not None
    assert resolution.target_seconds is None
    assert not resolution.breached


def test_response_only_clocks_count_time_but_no_objective_and_no_breach() -> None:
    tickets = [
        response_only("T-1", 90_000),
        response_only("T-2", 100),
        outcome("T-3", priority="P2", first=600, resolution=30_000, resolved=True),
    ]
    report = build_report(
        tickets, group_by="priority", policies={"standard": POLICY}, now=NOW, range=RANGE
    )
    (p2,) = report.groups
    assert p2.resolution.count == 3  # the time it took is still a figure
    assert p2.breaches["resolution"] == 1  # T-3 only
    (attainment,) = p2.attainment
    assert (attainment.key, attainment.measured, attainment.met) == ("P2-resolution", 1, 0)


def test_suggestions_leave_out_working_days_and_absent_targets() -> None:
    tickets = [response_only(f"T-{i}", 3600.0 * i) for i in range(25)]
    rows = suggest(tickets, CHANGED, default_objective=90)
    assert {(row.priority, row.clock) for row in rows} == {
        ("P1", FR),
        ("P1", ClockName.NEXT_REPLY),
        ("P2", FR),
        ("P2", ClockName.NEXT_REPLY),
    }
    # Against the plain policy the same tickets' resolution clocks ran under another target
    # (none), and say so.
    (p2_resolution,) = [
        row for row in suggest(tickets, POLICY) if (row.priority, row.clock) == ("P2", RES)
    ]
    assert p2_resolution.other_target == 25
    assert p2_resolution.sample == 25


def test_what_if_leaves_out_clocks_without_one_duration_and_says_so() -> None:
    tickets = [
        outcome("T-1", first=600, resolution=3600, resolved=True),
        outcome("T-2", priority="P2", first=600, resolution=3600, resolved=True),
    ]
    rows, warnings = what_if(tickets, POLICY, CHANGED)
    assert {(row.priority, row.clock) for row in rows} == {("P1", FR), ("P2", FR)}
    assert "P1 resolution left out: a target in working days, or none (4h -> 1bd)" in " ".join(
        warnings
    )
    assert any(w.startswith("P2 resolution left out") and "(8h -> none)" in w for w in warnings)
