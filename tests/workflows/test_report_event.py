"""Helpdesk reports (``report_event``) leave a ticket the same whatever order they arrive in.

A webhook can be late, retried or overtaken by a later one. Each report is kept in the ticket's
timeline and applies only where its ``at`` puts it, so any arrival order of the same reports
must end in the same status as arrival in ``at`` order. A hypothesis property checks that on
the pure state over business-hours calendars with DST and holidays; workflow tests check the
update on the time-skipping server, its refusals, and that a retried update id applies once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from tests.workflows.conftest import Harness
from tests.workflows.test_events_in_at_order import CALENDARS, PRIORITIES, open_ticket
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import ReportEventRequest, build_status
from workflows.ticket_state import TicketStateName
from workflows.ticket_timeline import HelpdeskEvent

EVENTS: tuple[HelpdeskEvent, ...] = get_args(HelpdeskEvent)
OPENED = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # a Friday before the US and UK DST changes


@st.composite
def reports_and_arrival(
    draw: st.DrawFn,
) -> tuple[str, list[tuple[HelpdeskEvent, datetime]], list[int]]:
    priority = draw(st.sampled_from(PRIORITIES))
    minutes = draw(st.lists(st.integers(1, 60 * 24 * 20), min_size=1, max_size=12, unique=True))
    reports = [(draw(st.sampled_from(EVENTS)), OPENED + timedelta(minutes=m)) for m in minutes]
    arrival = draw(st.permutations(range(len(reports))))
    return priority, reports, list(arrival)


def play(priority: str, reports: list[tuple[HelpdeskEvent, datetime]], order: list[int]):
    state = open_ticket(priority, OPENED)
    now = max(at for _, at in reports) + timedelta(minutes=1)
    for index in order:
        event, at = reports[index]
        state.report(event, at, "agent@example.com", "zendesk", now, CALENDARS)
    return build_status(state, now + timedelta(days=30), CALENDARS)


@settings(max_examples=300, deadline=None)
@given(reports_and_arrival())
def test_any_arrival_order_leaves_the_status_of_at_order(
    case: tuple[str, list[tuple[HelpdeskEvent, datetime]], list[int]],
) -> None:
    priority, reports, arrival = case
    in_order = sorted(range(len(reports)), key=lambda i: reports[i][1])
    note(f"reports {reports}, arrival {arrival}")
    expected = play(priority, reports, in_order).model_dump()
    got = play(priority, reports, arrival).model_dump()
    assert got == expected


def test_a_resume_before_its_pause_takes_effect_when_the_pause_arrives() -> None:
    state = open_ticket("P2", OPENED)
    now = OPENED + timedelta(days=2)
    waiting, active = OPENED + timedelta(hours=1), OPENED + timedelta(hours=3)
    state.report("active", active, None, "jira", now, CALENDARS)
    assert state.state is TicketStateName.OPEN
    state.report("waiting", waiting, None, "jira", now, CALENDARS)
    assert state.state is TicketStateName.OPEN
    assert [(p.start, p.end) for p in state.pauses] == [(waiting, active)]


def test_an_active_report_reopens_a_solved_ticket() -> None:
    state = open_ticket("P1", OPENED)
    now = OPENED + timedelta(days=2)
    state.report("solved", OPENED + timedelta(hours=1), "ann@example.com", "zammad", now, CALENDARS)
    state.report("active", OPENED + timedelta(hours=2), "bob@example.com", "zammad", now, CALENDARS)
    assert state.state is TicketStateName.OPEN
    assert [(r.by, r.reason) for r in state.reopens] == [("bob@example.com", "reopened in zammad")]


# -- on the time-skipping server ----------------------------------------------------------------


def since(value: Any, opened: datetime) -> Any:
    """``value`` with every time in it as the time since ``opened`` (two tickets, one life)."""
    if isinstance(value, datetime):
        return value - opened
    if isinstance(value, dict):
        return {key: since(item, opened) for key, item in value.items()}
    if isinstance(value, list):
        return [since(item, opened) for item in value]
    return value


def _report(event: HelpdeskEvent, at: datetime) -> ReportEventRequest:
    return ReportEventRequest(event=event, at=at, by="agent@example.com", source="zendesk")


async def test_reports_in_any_order_end_as_in_at_order(harness: Harness) -> None:
    in_order = await harness.open()
    shuffled = await harness.open()
    await harness.env.sleep(timedelta(hours=1))
    life: list[tuple[HelpdeskEvent, timedelta]] = [
        ("agent_replied", timedelta(minutes=5)),
        ("waiting", timedelta(minutes=10)),
        ("customer_replied", timedelta(minutes=30)),
        ("active", timedelta(minutes=31)),
        ("solved", timedelta(minutes=50)),
    ]
    statuses = []
    for handle, order in ((in_order, life), (shuffled, [life[i] for i in (4, 1, 3, 0, 2)])):
        opened = (await handle.query(TicketEscalation.status)).opened_at
        for event, offset in order:
            await handle.execute_update(
                TicketEscalation.report_event, _report(event, opened + offset)
            )
        status = (await handle.query(TicketEscalation.status)).model_dump()
        assert status["acknowledged_at"] == opened + timedelta(minutes=5)
        # Paused from minute 10 until the customer's reply at 30, resolved at 50.
        assert status["clocks"]["resolution"]["elapsed"] == timedelta(minutes=30)
        # Notices a level sent when a report arrived are not undone by a later one; the
        # ticket's own fields and times are what must agree.
        for name in ("ticket_id", "title", "escalations", "current_level"):
            status.pop(name)
        statuses.append(since(status, opened))
    want, got = statuses
    assert got == want
    assert got["state"] == "resolved"


async def test_a_retried_update_id_applies_once(harness: Harness) -> None:
    handle = await harness.open()
    opened = (await handle.query(TicketEscalation.status)).opened_at
    await harness.env.sleep(timedelta(minutes=20))
    report = _report("waiting", opened + timedelta(minutes=10))
    first = await handle.execute_update(TicketEscalation.report_event, report, id="zd:1")
    again = await handle.execute_update(TicketEscalation.report_event, report, id="zd:1")
    assert again == first
    accepted = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted) == 1


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (timedelta(days=1), "is in the future"),
        (timedelta(days=-1), "is before the ticket opened"),
    ],
)
async def test_reports_out_of_the_tickets_time_are_refused(
    harness: Harness, at: timedelta, message: str
) -> None:
    handle = await harness.open()
    opened = (await handle.query(TicketEscalation.status)).opened_at
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(TicketEscalation.report_event, _report("solved", opened + at))
    assert message in str(raised.value.cause)


def test_a_late_solved_report_keeps_the_resolution_note() -> None:
    state = open_ticket("P1", OPENED)
    now = OPENED + timedelta(hours=3)
    state.resolve("ann@example.com", OPENED + timedelta(hours=2), "rolled back the deploy")
    state.report("solved", OPENED + timedelta(hours=1), None, "jira", now, CALENDARS)
    assert state.resolved_at == OPENED + timedelta(hours=1)
    assert state.resolution_note == "rolled back the deploy"
