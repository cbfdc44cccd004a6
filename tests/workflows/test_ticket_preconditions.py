"""Every update's preconditions, as pure functions of the ticket's state (no server).

The workflow's validators reject an update with exactly these messages (``InvalidUpdate``);
``tests/workflows/test_updates.py`` and ``tests/hostile`` check that they do, on a server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.loader import default_policy_dir, load_named_policy
from tests.workflows.tickets import open_state
from workflows import ticket_preconditions as rules
from workflows import timeouts
from workflows.ticket_state import EscalationRecord, TicketState

POLICY = load_named_policy(default_policy_dir(), "default")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ticket() -> TicketState:
    return open_state(POLICY, T0, ticket_id="T-7")


def resolved(at: datetime = T0) -> TicketState:
    state = ticket()
    state.resolve("agent", at, None)
    return state


def test_times_in_the_future_or_before_the_opening_are_refused() -> None:
    state = ticket()
    assert rules.event_time_problem(state, "acknowledge", None, h(1)) is None
    assert rules.event_time_problem(state, "acknowledge", h(0.5), h(1)) is None
    # A small clock skew is tolerated (and counts as now).
    skewed = h(1) + timeouts.FUTURE_SKEW
    assert rules.event_time_problem(state, "acknowledge", skewed, h(1)) is None
    assert rules.event_time(skewed, h(1)) == h(1)
    future = rules.event_time_problem(state, "acknowledge", h(2), h(1))
    assert future == f"acknowledge.at {h(2).isoformat()} is in the future (now {h(1).isoformat()})"
    early = rules.event_time_problem(state, "resolve", h(-1), h(1))
    assert early == (
        f"resolve.at {h(-1).isoformat()} is before the ticket opened ({T0.isoformat()})"
    )
    # While the ticket is still opening, only the future is checked.
    assert rules.event_time_problem(None, "acknowledge", h(-1), h(1)) is None


def test_event_times_are_stored_in_utc() -> None:
    plus14 = datetime(2026, 6, 1, 23, 0, tzinfo=UTC).astimezone(
        datetime.now(UTC).astimezone().tzinfo
    )
    assert rules.event_time(plus14, h(20)).tzinfo is UTC
    assert rules.event_time(None, h(1)) == h(1)


@pytest.mark.parametrize(
    "check",
    [
        lambda s: rules.timed_event_problem(s, "acknowledge", None, h(1)),
        lambda s: rules.timed_event_problem(s, "agent_replied", None, h(1)),
        lambda s: rules.customer_replied_problem(s, None, h(1)),
        lambda s: rules.resolve_problem(s, None, h(1)),
        lambda s: rules.pause_problem(s),
        lambda s: rules.resume_problem(s),
        lambda s: rules.change_priority_problem(s, "P2"),
        lambda s: rules.resolved_problem(s, "update_impact"),
        lambda s: rules.resolved_problem(s, "reassign"),
        lambda s: rules.migrate_policy_problem(s, "9"),
        lambda s: rules.update_attributes_problem(s, {"customer_tier": "gold"}),
    ],
)
def test_a_resolved_ticket_takes_only_feedback_and_reopening(check: object) -> None:
    problem = check(resolved())  # type: ignore[operator]
    assert problem is not None
    assert problem.endswith("ticket T-7 is already resolved")
    ready = ticket()
    ready.pause("waiting on logs", h(0.5))  # so that resume, too, has what it needs
    if "pause" not in problem:
        assert check(ready) is None  # type: ignore[operator]
    assert check(None) is None  # type: ignore[operator]  # still opening: nothing to refuse


def test_pause_and_resume_alternate() -> None:
    state = ticket()
    assert rules.pause_problem(state) is None
    assert rules.resume_problem(state) == "resume: the ticket is not paused (it is open)"
    state.pause("waiting on logs", h(1))
    assert rules.pause_problem(state) == (
        "pause: the ticket is already paused (waiting on logs); resume first"
    )
    assert rules.resume_problem(state) is None


def test_feedback_and_reopening_need_an_open_feedback_window() -> None:
    open_ticket = ticket()
    assert rules.feedback_problem(open_ticket, None, h(1)) == (
        "feedback: ticket T-7 is not resolved (it is open); feedback applies to resolved tickets"
    )
    state = resolved(h(1))
    closes = h(1) + POLICY.feedback_window
    assert rules.feedback_problem(state, None, h(2)) is None
    assert rules.reopen_problem(state, None, h(2)) is None
    assert rules.feedback_problem(state, None, closes) == (
        f"feedback: the feedback window of ticket T-7 closed at {closes.isoformat()}"
    )
    assert rules.reopen_problem(state, None, closes) == (
        f"reopen: the feedback window of ticket T-7 closed at {closes.isoformat()}"
    )


def test_a_reopening_comes_after_the_resolution_it_undoes() -> None:
    state = resolved(h(2))
    assert rules.reopen_problem(state, h(1), h(3)) == (
        f"reopen.at {h(1).isoformat()} is before the ticket was resolved ({h(2).isoformat()})"
    )
    assert rules.reopen_problem(state, h(2), h(3)) is None


def test_a_resolution_comes_after_the_latest_reopening() -> None:
    state = resolved(h(1))
    state.reopen("buyer", h(2), "broken again")
    assert rules.resolve_problem(state, h(1.5), h(3)) == (
        f"resolve.at {h(1.5).isoformat()} is before the ticket was reopened ({h(2).isoformat()})"
    )
    assert rules.resolve_problem(state, h(2.5), h(3)) is None


def test_a_priority_must_be_one_the_policy_defines() -> None:
    assert rules.change_priority_problem(ticket(), "P2") is None
    assert rules.change_priority_problem(ticket(), "P9") == (
        "change_priority.priority: 'P9' is not defined by policy 'default'; defined: P1, P2, P3, P4"
    )


def test_customer_messages_stop_at_the_record_limit() -> None:
    state = ticket()
    record = EscalationRecord(
        level="response-breached",
        repeat=0,
        due_at=T0,
        fired_at=T0,
        reason="r",
        channel="email",
        recipients=["lead@example.com"],
        delivery={"status": "sent"},
    )
    state.escalations = [record] * (timeouts.MAX_ESCALATION_RECORDS - 1)
    assert rules.customer_replied_problem(state, None, h(1)) is None
    state.escalations.append(record)
    problem = rules.customer_replied_problem(state, None, h(1))
    assert problem is not None
    assert problem.startswith(
        f"customer_replied: ticket T-7 already holds {timeouts.MAX_ESCALATION_RECORDS} escalation"
    )


def test_a_migration_names_a_version_the_ticket_does_not_run() -> None:
    assert rules.migrate_policy_problem(ticket(), POLICY.version) == (
        f"migrate_policy.to_version: the ticket already runs policy 'default' v{POLICY.version}"
    )
    assert rules.migrate_policy_problem(ticket(), "99") is None
