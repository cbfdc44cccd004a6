"""What-if: past clocks re-measured on a candidate policy's calendars, against its targets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calendar import AlwaysOpen, policy_calendars
from policies.clock import SlaClock
from policies.loader import default_policy_dir, load_named_policy, parse_policy
from policies.model import ClockName, Policy
from reports.whatif import WhatIf, remeasured, render_what_if, what_if
from workflows.ticket_outcome import ClockOutcome, Span, TicketOutcome

DEFAULT_TEXT = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
POLICY = load_named_policy(default_policy_dir(), "default")
CALENDARS = policy_calendars(POLICY)
FR = ClockName.FIRST_RESPONSE
P3_LINE = "  P3: {first_response: 4h, resolution: 24h, next_reply: 8h, calendar: support-hours}"
# Friday 10 May 2024, 17:00 in New York (EDT, UTC-4), one hour before support hours close.
FRIDAY_5PM = datetime(2024, 5, 10, 21, 0, tzinfo=UTC)
MONDAY_9AM = datetime(2024, 5, 13, 13, 0, tzinfo=UTC)
_IDS = count(1)


def candidate(p3_line: str) -> Policy:
    """The default policy with another P3 line (a candidate as a reviewer would write it)."""
    assert P3_LINE in DEFAULT_TEXT
    return parse_policy(DEFAULT_TEXT.replace(P3_LINE, p3_line), "candidate.yaml")


def ticket(priority: str, clocks: dict[ClockName, ClockOutcome], as_of: datetime) -> TicketOutcome:
    return TicketOutcome(
        as_of=as_of,
        ticket_id=f"T-{next(_IDS)}",
        priority=priority,
        team="support",
        customer="Acme",
        policy="default",
        policy_version="3",
        state="resolved",
        opened_at=FRIDAY_5PM,
        clocks=clocks,
    )


def recorded_clock(
    calendar: str, target: timedelta, runs: list[tuple[datetime, datetime | None]], stop: bool
) -> tuple[ClockOutcome, datetime]:
    """A clock run through the real :class:`SlaClock` and recorded the way the workflow does."""
    clock = SlaClock(target=target, calendar=calendar)
    last = runs[0][0]
    for start, end in runs:
        clock.start(start)
        if end is not None:
            clock.pause(end)
            last = end
    as_of = last + timedelta(hours=1)
    if stop:
        clock.stop(last)
        as_of = last
    return ClockOutcome.of(clock, CALENDARS, as_of), as_of


def p3_friday_to_monday() -> TicketOutcome:
    clock, as_of = recorded_clock(
        "support-hours", timedelta(hours=4), [(FRIDAY_5PM, MONDAY_9AM)], True
    )
    return ticket("P3", {FR: clock}, as_of)


def only(rows: list[WhatIf]) -> WhatIf:
    assert len(rows) == 1, rows
    return rows[0]


def test_a_weekend_counts_on_a_24x7_candidate() -> None:
    outcome = p3_friday_to_monday()
    recorded = outcome.clocks[FR]
    # Friday 17:00-18:00 and Monday 08:00-09:00 on support hours.
    assert recorded.business_seconds == 2 * 3600
    assert not recorded.breached
    assert remeasured(outcome, recorded, AlwaysOpen()) == 64 * 3600

    rows, warnings = what_if(
        [outcome], POLICY, candidate("  P3: {first_response: 4h, resolution: 24h}")
    )
    row = only(rows)
    assert warnings == []
    assert (row.priority, row.clock, row.sample, row.objective) == ("P3", FR, 1, 90)
    assert (row.current_calendar, row.candidate_calendar) == ("support-hours", "24x7")
    assert (row.current_target_seconds, row.candidate_target_seconds) == (4 * 3600, 4 * 3600)
    assert (row.current_attainment, row.candidate_attainment) == (1, 0)
    assert (row.current_achieved_seconds, row.candidate_achieved_seconds) == (7200, 64 * 3600)
    assert (row.newly_met, row.newly_missed) == (0, 1)


def test_a_longer_candidate_target_turns_misses_into_hits() -> None:
    # Three P3 first responses on support hours: 2 h, 5 h, 9 h of business time (Tuesday).
    tuesday_8am = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    outcomes = []
    for hours in (2, 5, 9):  # 12:00-13:00 is lunch: a 5 h response ends at 14:00
        end = tuesday_8am + timedelta(hours=hours + (hours > 4))
        clock, as_of = recorded_clock(
            "support-hours", timedelta(hours=4), [(tuesday_8am, end)], True
        )
        outcomes.append(ticket("P3", {FR: clock}, as_of))
    assert [o.clocks[FR].business_seconds for o in outcomes] == [7200, 18000, 32400]

    rows, _ = what_if(
        outcomes, POLICY, candidate(P3_LINE.replace("first_response: 4h", "first_response: 6h"))
    )
    row = only(rows)
    assert row.current_attainment == pytest.approx(1 / 3)
    assert row.candidate_attainment == pytest.approx(2 / 3)
    assert (row.newly_met, row.newly_missed) == (1, 0)
    assert row.current_achieved_seconds == row.candidate_achieved_seconds == 32400


def test_an_open_span_counts_until_the_outcome_was_written() -> None:
    outcome = p3_friday_to_monday()
    clock = outcome.clocks[FR]
    still_open = clock.model_copy(
        update={"spans": [Span(start=FRIDAY_5PM, calendar="support-hours")]}
    )
    assert remeasured(outcome, still_open, AlwaysOpen()) == 64 * 3600


def test_priorities_the_candidate_lacks_and_truncated_spans_are_left_out_and_counted() -> None:
    outcome = p3_friday_to_monday()
    truncated = outcome.model_copy(
        update={"clocks": {FR: outcome.clocks[FR].model_copy(update={"spans_truncated": True})}}
    )
    # The default policy without P4 (its targets line and its objective).
    without_p4 = re.sub(r"^ +(P4:|- \{priority: P4,).*\n", "", DEFAULT_TEXT, flags=re.MULTILINE)
    no_p4 = parse_policy(without_p4, "candidate.yaml")
    assert "P4" not in no_p4.targets
    p4 = outcome.model_copy(update={"priority": "P4", "ticket_id": "T-p4"})
    rows, warnings = what_if([outcome, truncated, p4], POLICY, no_p4)
    row = only(rows)
    assert (row.sample, row.truncated) == (1, 1)
    assert warnings == ["1 P4 tickets left out: the candidate defines no targets for P4"]
    text = render_what_if(rows, warnings, "candidate.yaml", no_p4)
    assert "P3 first_response: 1 clocks left out (spans truncated)" in text
    assert warnings[0] in text


def test_table_shows_current_and_candidate_side_by_side() -> None:
    rows, warnings = what_if(
        [p3_friday_to_monday()], POLICY, candidate("  P3: {first_response: 4h, resolution: 24h}")
    )
    lines = render_what_if(rows, warnings, "next.yaml", POLICY).splitlines()
    assert lines[0] == "What-if under next.yaml (policy default v4)"
    assert lines[3].split() == [
        "P3", "first_response", "1", "support-hours", "->", "24x7", "4h", "100.0%", "->", "0.0%",
        "2h", "->", "64h", "(p90)", "+0", "-1",
    ]  # fmt: skip


# -- properties -------------------------------------------------------------------------------

offsets = st.integers(min_value=0, max_value=5 * 86_400)
runs = st.lists(st.tuples(offsets, offsets), min_size=1, max_size=6)
T0 = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)


def clock_from(
    gaps_and_lengths: list[tuple[int, int]], stop: bool
) -> tuple[ClockOutcome, datetime]:
    moments: list[tuple[datetime, datetime | None]] = []
    at = T0
    for gap, length in gaps_and_lengths:
        start = at + timedelta(seconds=gap)
        at = start + timedelta(seconds=length)
        moments.append((start, at))
    if not stop:
        moments[-1] = (moments[-1][0], None)
    return recorded_clock("24x7", timedelta(hours=4), moments, stop)


# The default policy with every priority on 24x7 and the same targets.
ALL_24X7 = parse_policy(DEFAULT_TEXT.replace(", calendar: support-hours}", "}"), "24x7.yaml")


@settings(max_examples=150, deadline=None)
@given(runs, st.booleans(), st.sampled_from(sorted(POLICY.targets)))
def test_a_24x7_candidate_with_the_same_targets_reproduces_24x7_clocks(
    gaps_and_lengths: list[tuple[int, int]], stop: bool, priority: str
) -> None:
    assert {t.calendar for t in ALL_24X7.targets.values()} == {"24x7"}
    clock, as_of = clock_from(gaps_and_lengths, stop)
    outcome = ticket(priority, {FR: clock}, as_of)
    measured = remeasured(outcome, clock, policy_calendars(ALL_24X7)["24x7"])
    assert measured == clock.business_seconds
    rows, _ = what_if([outcome], POLICY, ALL_24X7)
    for row in rows:
        assert row.candidate_achieved_seconds == row.current_achieved_seconds
        assert row.candidate_attainment == row.current_attainment
        assert (row.newly_met, row.newly_missed) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=8 * 3600), min_size=1, max_size=25),
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=0, max_value=600),
)
def test_a_larger_candidate_target_never_lowers_attainment(
    seconds: list[int], minutes: int, more: int
) -> None:
    outcomes = []
    for length in seconds:
        clock, as_of = recorded_clock(
            "24x7", timedelta(hours=4), [(T0, T0 + timedelta(seconds=length))], True
        )
        outcomes.append(ticket("P1", {FR: clock}, as_of))

    def candidate_attainment(target_minutes: int) -> float:
        line = "  P1: {first_response: 15m, resolution: 4h, next_reply: 30m}"
        text = DEFAULT_TEXT.replace(line, line.replace("15m", f"{target_minutes}m"))
        row = only(what_if(outcomes, POLICY, parse_policy(text, "c.yaml"))[0])
        assert row.candidate_attainment is not None
        return row.candidate_attainment

    assert candidate_attainment(minutes) <= candidate_attainment(minutes + more)
