"""Targets in working days and response-only targets on a ticket (policy ``working-days``).

First the pure state, then the workflow on the time-skipping server. The calendar ``office`` is
America/New_York, Mon-Fri 09:00-12:00 and 13:00-17:00 (7h a day), no holidays; P3 answers by
the end of the working day (``eod``), resolves within one working day (``1bd``) and replies to
each later message by the end of the next working day (``1bd eod``); P4 is response-only
(``1bd``, no resolution target).

The server's clock starts at the real time, so the workflow tests first skip to a known weekday
and hour (``Harness.skip_to``) and open their tickets with an exact ``opened_at``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from policies.calendar import policy_calendars
from policies.loader import load_named_policy
from policies.model import ClockName
from tests.workflows.conftest import TEST_POLICIES, Harness
from tests.workflows.tickets import open_state
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    CustomerRepliedRequest,
    TicketStatus,
    build_status,
)
from workflows.ticket_state import TicketState

POLICY = load_named_policy(TEST_POLICIES, "working-days")
CALENDARS = policy_calendars(POLICY)
NEW_YORK = "America/New_York"
NY = ZoneInfo(NEW_YORK)
MONDAY = date(2026, 3, 2)
FIRST, RESOLUTION, NEXT = ClockName.FIRST_RESPONSE, ClockName.RESOLUTION, ClockName.NEXT_REPLY
AGENT = "agent@example.com"
# Server time passes a little between skipping and the update that follows.
JITTER = timedelta(seconds=5)


def wall(day: date, hour: int, minute: int = 0) -> datetime:
    """The instant of wall time ``hour:minute`` on ``day`` in New York."""
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def due(state: TicketState, clock: ClockName) -> datetime | None:
    return state.clocks[clock].due_at(CALENDARS)


# -- the pure state ------------------------------------------------------------------------------


def test_working_day_targets_are_resolved_when_each_clock_starts() -> None:
    state = open_state(POLICY, wall(MONDAY, 10), "P3")
    # eod: 10:00-12:00 and 13:00-17:00. 1bd: the same to Tuesday 10:00, a full working day.
    assert state.clocks[FIRST].target == timedelta(hours=6)
    assert due(state, FIRST) == wall(MONDAY, 17)
    assert state.clocks[RESOLUTION].target == timedelta(hours=7)
    assert due(state, RESOLUTION) == wall(MONDAY + timedelta(days=1), 10)

    # Each next-reply cycle counts from its own message: from Monday 16:00, 1bd eod is the end
    # of Tuesday (1h of Monday, 7h of Tuesday).
    state.acknowledge(AGENT, wall(MONDAY, 11))
    state.customer_replied(wall(MONDAY, 16), wall(MONDAY, 16), CALENDARS)
    assert state.clocks[NEXT].target == timedelta(hours=8)
    assert due(state, NEXT) == wall(MONDAY + timedelta(days=1), 17)
    state.agent_replied(AGENT, wall(MONDAY, 16, 30), CALENDARS)
    wednesday = MONDAY + timedelta(days=2)
    state.customer_replied(wall(wednesday, 9), wall(wednesday, 9), CALENDARS)
    assert state.clocks[NEXT].target == timedelta(hours=14)
    assert due(state, NEXT) == wall(wednesday + timedelta(days=1), 17)


def test_a_priority_change_resolves_working_days_from_the_clock_start() -> None:
    state = open_state(POLICY, wall(MONDAY, 10), "P3")
    state.change_priority("P1", wall(MONDAY, 11))
    assert state.clocks[RESOLUTION].target == timedelta(hours=4)
    state.change_priority("P3", wall(MONDAY, 14))
    # Back on 1bd from Monday 10:00: 7h again. Counted: 1h on the office calendar, 3h on 24x7
    # (11:00-14:00, the lunch hour included), then office time from 14:00: due at 17:00.
    assert state.clocks[RESOLUTION].target == timedelta(hours=7)
    assert due(state, RESOLUTION) == wall(MONDAY, 17)


def test_a_late_event_refolds_to_the_same_working_day_targets() -> None:
    in_order = open_state(POLICY, wall(MONDAY, 10), "P3")
    in_order.acknowledge(AGENT, wall(MONDAY, 10, 30))
    in_order.change_priority("P4", wall(MONDAY, 11))
    late = open_state(POLICY, wall(MONDAY, 10), "P3")
    late.change_priority("P4", wall(MONDAY, 11))
    late.acknowledge(AGENT, wall(MONDAY, 10, 30))  # reported after the priority change
    assert late.clocks == in_order.clocks
    assert late.clocks[RESOLUTION].target is None


def test_a_response_only_priority_never_breaches_resolution() -> None:
    state = open_state(POLICY, wall(MONDAY, 10), "P4")
    assert state.clocks[FIRST].target == timedelta(hours=7)
    assert state.clocks[RESOLUTION].target is None
    state.acknowledge(AGENT, wall(MONDAY, 11))
    later = wall(MONDAY, 10) + timedelta(days=90)
    assert state.due_levels(later, CALENDARS) == []
    assert state.next_wake(later, CALENDARS) is None

    outcome = state.outcome(later, CALENDARS).clocks[RESOLUTION]
    assert outcome.target_seconds is None
    assert not outcome.breached
    assert outcome.due_at is None
    assert outcome.business_seconds > 0
    shown = build_status(state, later, CALENDARS).clocks["resolution"]
    assert (shown.target, shown.remaining, shown.due_at, shown.breached) == (
        None,
        None,
        None,
        False,
    )
    assert shown.elapsed > timedelta(0)

    # Moved to P3, the resolution clock takes 1bd from its own start (Monday 10:00), keeps what
    # it counted, and is long past it: its levels fall due.
    state.change_priority("P3", later)
    assert state.clocks[RESOLUTION].target == timedelta(hours=7)
    assert due(state, RESOLUTION) == wall(MONDAY + timedelta(days=1), 10)
    fired = {d.level.name for d in state.due_levels(later, CALENDARS)}
    assert {"resolution-at-risk", "resolution-breached", "resolution-overdue"} <= fired


# -- on the time-skipping server -----------------------------------------------------------------


def fired(status: TicketStatus, level: str) -> list[datetime]:
    return [e.due_at for e in status.escalations if e.level == level and e.channel == "email"]


async def test_a_working_day_ticket_falls_due_when_expected(harness: Harness) -> None:
    now = await harness.skip_to(0, 10, 0, NEW_YORK)  # a Monday, 10:00
    monday = now.astimezone(NY).date()
    tuesday = monday + timedelta(days=1)
    opened = wall(monday, 10)
    handle = await harness.open(priority="P3", policy="working-days", opened_at=opened)
    status = await harness.refresh(handle)
    response, resolution = status.clocks["first_response"], status.clocks["resolution"]
    assert response.target == timedelta(hours=6)
    assert response.due_at == wall(monday, 17)
    assert resolution.target == timedelta(hours=7)
    assert resolution.due_at == wall(tuesday, 10)
    assert resolution.due_at_local == wall(tuesday, 10)

    # Through the night to Tuesday 11:05: every level fired at the instant it fell due.
    await harness.advance_to(wall(tuesday, 11, 5))
    status = await harness.refresh(handle)
    assert fired(status, "response-breached") == [wall(monday, 17)]
    # 50% of 7h is 3h30: 10:00-12:00, then 13:00-14:30.
    assert fired(status, "resolution-at-risk") == [wall(monday, 14, 30)]
    assert fired(status, "resolution-breached") == [wall(tuesday, 10)]
    assert fired(status, "resolution-overdue") == [wall(tuesday, 11)]
    for record in status.escalations:
        assert record.due_at <= record.fired_at < record.due_at + JITTER

    # The next-reply cycle of a message at Tuesday 11:30 is due at the end of Wednesday.
    await harness.advance_to(wall(tuesday, 11, 31))
    await handle.execute_update(
        TicketEscalation.acknowledge, AcknowledgeRequest(by=AGENT, at=wall(tuesday, 11, 10))
    )
    replied = await handle.execute_update(
        TicketEscalation.customer_replied, CustomerRepliedRequest(at=wall(tuesday, 11, 30))
    )
    reply = replied.clocks["next_reply"]
    # 11:30-12:00, 13:00-17:00 and Wednesday's 7h.
    assert reply.target == timedelta(hours=11, minutes=30)
    assert reply.due_at == wall(tuesday + timedelta(days=1), 17)


async def test_a_response_only_ticket_never_escalates_on_resolution(harness: Harness) -> None:
    now = await harness.skip_to(0, 10, 0, NEW_YORK)
    monday = now.astimezone(NY).date()
    tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    handle = await harness.open(priority="P4", policy="working-days", opened_at=wall(monday, 10))
    opened = await harness.refresh(handle)
    resolution = opened.clocks["resolution"]
    assert (resolution.target, resolution.remaining, resolution.due_at) == (None, None, None)
    assert opened.clocks["first_response"].due_at == wall(tuesday, 10)

    # The first response is late: its level fires at Tuesday 10:00 (1bd), with a notice that
    # shows the resolution clock without a target.
    await harness.advance_to(wall(tuesday, 10, 5))
    late = await harness.refresh(handle)
    assert fired(late, "response-breached") == [wall(tuesday, 10)]
    notices = [
        body
        for body in harness.sendgrid.accepted
        if body["custom_args"]["ticket_id"] == late.ticket_id
    ]
    assert len(notices) == 1
    acknowledged = await handle.execute_update(
        TicketEscalation.acknowledge, AcknowledgeRequest(by=AGENT)
    )
    assert acknowledged.next_escalation_at is None

    # By Thursday 10:05 the resolution clock has counted three working days (21 business
    # hours), and none of the resolution levels has fired.
    await harness.advance_to(wall(thursday, 10, 5))
    status = await harness.refresh(handle)
    resolution = status.clocks["resolution"]
    assert resolution.elapsed >= timedelta(hours=21)
    assert resolution.running
    assert not resolution.breached
    assert resolution.target is None
    assert [e.level for e in status.escalations if e.channel == "email"] == ["response-breached"]
    assert status.next_escalation_at is None
