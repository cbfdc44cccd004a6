"""The worked examples of docs/policy-reference.md, "Events reported late", as written there.

All on the shipped ``default`` policy (P1: first response 15m, resolution 4h, next reply 30m,
around the clock; P2: 1h, 8h, 2h; P3: 4h, 24h, 8h on ``support-hours``). The property behind
them is in ``test_events_in_at_order.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.calendar import policy_calendars
from policies.loader import default_policy_dir, load_named_policy
from tests.workflows.tickets import open_state
from workflows.ticket_messages import ClockStatus, build_status
from workflows.ticket_state import TicketState

POLICY = load_named_policy(default_policy_dir(), "default")
CALENDARS = policy_calendars(POLICY)


def utc(hhmm: str, day: str = "2026-06-01") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def new_york(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-23T{hhmm}:00-05:00")


def opened(priority: str, at: datetime) -> TicketState:
    return open_state(POLICY, at, priority)


def clock(state: TicketState, name: str, now: datetime) -> ClockStatus:
    return build_status(state, now, CALENDARS).clocks[name]


def test_1_a_reply_owed_over_a_pause() -> None:
    state = opened("P1", utc("09:00"))
    state.acknowledge("agent", utc("09:00"))
    state.pause("waiting on logs", utc("10:10"))
    state.resume(utc("10:40"))
    state.customer_replied(utc("10:00"), utc("10:45"), CALENDARS)
    reply = clock(state, "next_reply", utc("10:45"))
    assert reply.elapsed == timedelta(minutes=15)
    assert not reply.breached
    assert reply.due_at == utc("11:00")


def resolved_at_0950_and_reopened_at_1030() -> TicketState:
    state = opened("P1", utc("09:00"))
    state.acknowledge("agent", utc("09:05"))
    state.resolve("agent", utc("09:50"), None)
    state.reopen("buyer", utc("10:30"), "broken again")
    return state


def test_2_a_message_before_the_resolve() -> None:
    state = resolved_at_0950_and_reopened_at_1030()
    state.customer_replied(utc("09:30"), utc("10:40"), CALENDARS)
    reply = clock(state, "next_reply", utc("10:40"))
    assert (reply.elapsed, reply.stopped_at, reply.breached) == (
        timedelta(minutes=20),
        utc("09:50"),
        False,
    )
    assert not reply.running


def test_2_a_message_while_resolved() -> None:
    state = resolved_at_0950_and_reopened_at_1030()
    state.customer_replied(utc("10:00"), utc("10:40"), CALENDARS)
    reply = clock(state, "next_reply", utc("10:40"))
    assert (reply.elapsed, reply.due_at) == (timedelta(minutes=10), utc("11:00"))


def test_3_a_message_before_the_pause() -> None:
    state = opened("P1", utc("09:00"))
    state.acknowledge("agent", utc("09:00"))
    state.pause("waiting on logs", utc("10:10"))
    state.customer_replied(utc("10:00"), utc("10:30"), CALENDARS)
    assert state.paused
    assert clock(state, "next_reply", utc("10:30")).elapsed == timedelta(minutes=10)
    state.resume(utc("11:00"))
    assert clock(state, "next_reply", utc("11:00")).due_at == utc("11:20")


def test_4_a_late_first_response_across_a_priority_raise() -> None:
    state = opened("P2", utc("09:00"))
    state.change_priority("P1", utc("09:20"))
    assert clock(state, "first_response", utc("09:20")).breached
    state.acknowledge("agent", utc("09:10"))
    first = clock(state, "first_response", utc("09:40"))
    assert (first.target, first.elapsed, first.breached, first.stopped_at) == (
        timedelta(hours=1),
        timedelta(minutes=10),
        False,
        utc("09:10"),
    )


def test_5_a_message_on_a_paused_ticket_across_calendars() -> None:
    state = opened("P3", new_york("09:00"))
    state.acknowledge("agent", new_york("09:00"))
    state.pause("waiting on the customer", new_york("10:00"))
    state.change_priority("P1", new_york("17:00"))
    state.customer_replied(new_york("12:30"), new_york("17:30"), CALENDARS)
    resolution = clock(state, "resolution", new_york("17:30"))
    # 1h before the pause, 13:00-17:00 of support hours (lunch counts nothing), 30m around
    # the clock on P1's calendar.
    assert resolution.elapsed == timedelta(hours=5, minutes=30)
