"""Updates that steer a ticket: pause, resume, priority, impact, and late-opened tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from tests.workflows.conftest import Harness
from tests.workflows.tickets import email_notices, ticket_fields
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    ChangePriorityRequest,
    PauseRequest,
    ReassignRequest,
    ResumeRequest,
    TicketInput,
    UpdateImpactRequest,
    workflow_id_for,
)


async def test_pause_and_resume_shift_deadlines_by_the_paused_time(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=5))
    paused = await handle.execute_update(
        TicketEscalation.pause, PauseRequest(reason="waiting on customer logs")
    )
    assert paused.state == "paused"
    assert paused.clocks["first_response"].due_at is None
    elapsed_at_pause = paused.clocks["first_response"].elapsed

    # An hour on hold: longer than the whole first-response target, yet nothing fires.
    held = await harness.status_after(handle, timedelta(hours=1))
    assert held.escalations == []
    assert held.clocks["first_response"].elapsed == elapsed_at_pause

    resumed = await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    assert resumed.state == "open"
    response = resumed.clocks["first_response"]
    assert response.elapsed == elapsed_at_pause
    paused_for = response.due_at - resumed.opened_at - timedelta(minutes=15)  # type: ignore[operator]
    assert paused_for >= timedelta(hours=1)
    assert (
        resumed.clocks["resolution"].due_at == resumed.opened_at + timedelta(hours=4) + paused_for
    )

    status = await harness.status_after(handle, timedelta(minutes=15))
    assert [e.level for e in status.escalations] == ["response-at-risk", "response-breached"]
    assert status.escalations[1].due_at == response.due_at


async def test_priority_change_retargets_keeping_elapsed_time(harness: Harness) -> None:
    handle = await harness.open(priority="P2")  # response 1h, resolution 8h
    await harness.env.sleep(timedelta(minutes=20))
    raised = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P1")
    )
    response = raised.clocks["first_response"]
    assert raised.priority == "P1"
    assert response.target == timedelta(minutes=15)
    assert response.due_at == raised.opened_at + timedelta(minutes=15)
    assert response.breached
    # Already past both P1 response thresholds: they fire at once, in order.
    status = await harness.status_after(handle, timedelta(seconds=1))
    assert [e.level for e in status.escalations] == ["response-at-risk", "response-breached"]

    lowered = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    assert lowered.clocks["resolution"].due_at == lowered.opened_at + timedelta(hours=8)
    assert lowered.clocks["first_response"].due_at == lowered.opened_at + timedelta(hours=1)


async def test_impact_trigger_fires_at_once(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=1))
    await handle.execute_update(
        TicketEscalation.update_impact, UpdateImpactRequest(affected_users=800)
    )
    status = await harness.status_after(handle, timedelta(seconds=1))
    assert [e.level for e in email_notices(status)] == ["major-incident"]
    # The executive is paged through PagerDuty too: a record of its own beside the email.
    assert [e.channel for e in status.escalations] == ["email", "pagerduty-support"]
    major = email_notices(status)[0]
    assert major.fired_at - major.due_at < timedelta(seconds=2)
    assert major.recipients == ["payments-manager@example.com", "vp-support@example.com"]
    assert "affected_users >= 500" in major.reason


async def test_impact_levels_respect_their_priorities(harness: Harness) -> None:
    handle = await harness.open(priority="P3", critical_service=True)
    status = await harness.status_after(handle, timedelta(minutes=1))
    assert status.escalations == []  # major-incident is for P1 and P2 only
    await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    status = await harness.status_after(handle, timedelta(seconds=1))
    assert [e.level for e in email_notices(status)] == ["major-incident"]


async def test_late_opened_ticket_catches_up_in_order(harness: Harness) -> None:
    opened = await harness.now() - timedelta(hours=5)
    handle = await harness.open(opened_at=opened)
    status = await harness.status_after(handle, timedelta(seconds=1))
    assert status.opened_at == opened
    assert [(e.level, e.due_at - opened) for e in status.escalations] == [
        ("response-at-risk", timedelta(minutes=15) * 0.75),
        ("response-breached", timedelta(minutes=15)),
        ("resolution-at-risk", timedelta(hours=4) * 0.8),
        ("resolution-breached", timedelta(hours=4)),
    ]
    assert status.next_escalation_level == "major-incident"
    assert status.next_escalation_at == opened + timedelta(hours=6)


async def test_reassign_changes_who_is_notified(harness: Harness) -> None:
    handle = await harness.open(team="platform")
    await handle.execute_update(
        TicketEscalation.reassign, ReassignRequest(assignee="oncall@example.com", team="payments")
    )
    status = await harness.status_after(handle, timedelta(minutes=12))
    assert status.escalations[0].recipients == ["oncall@example.com", "payments-lead@example.com"]


async def test_duplicate_open_is_rejected_and_never_a_second_workflow(harness: Harness) -> None:
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(seconds=1))
    with pytest.raises(WorkflowAlreadyStartedError):
        await harness.open(ticket_id=status.ticket_id)
    described = await handle.describe()
    assert described.run_id == handle.result_run_id


@pytest.mark.parametrize(
    ("update", "request_", "message"),
    [
        ("resume", ResumeRequest(), "not paused"),
        ("change_priority", ChangePriorityRequest(priority="P9"), "'P9' is not defined"),
        ("acknowledge", "future", "in the future"),
        ("acknowledge", "before-open", "before the ticket opened"),
    ],
)
async def test_invalid_updates_are_rejected_without_history(
    harness: Harness, update: str, request_: object, message: str
) -> None:
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(seconds=1))
    if request_ == "future":
        request_ = AcknowledgeRequest(by="a", at=await harness.now() + timedelta(hours=1))
    elif request_ == "before-open":
        request_ = AcknowledgeRequest(by="a", at=status.opened_at - timedelta(hours=1))
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(update, request_)
    assert message in str(failure.value.cause)
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert accepted == []
    assert (await handle.query(TicketEscalation.status)).state == "open"


async def test_pausing_twice_is_rejected(harness: Harness) -> None:
    handle = await harness.open()
    await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="customer away"))
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="again"))
    assert "already paused (customer away)" in str(failure.value.cause)


async def test_malformed_update_json_is_rejected_with_the_field(harness: Harness) -> None:
    handle = await harness.open()
    await harness.status_after(handle, timedelta(seconds=1))
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update("update_impact", {"affected_users": -3})
    assert "affected_users" in str(failure.value.cause)
    assert (await handle.query(TicketEscalation.status)).affected_users == 1


async def test_policy_missing_fails_the_ticket_with_a_clear_error(harness: Harness) -> None:
    fields = ticket_fields(ticket_id="T-nopolicy-" + harness.task_queue[-8:])
    ticket = TicketInput(**fields.model_dump(), policy="no-such-policy")
    handle = await harness.env.client.start_workflow(
        TicketEscalation.run,
        ticket,
        id=workflow_id_for(ticket.ticket_id),
        task_queue=harness.task_queue,
    )
    with pytest.raises(Exception) as failure:  # noqa: PT011 - WorkflowFailureError wraps it
        await handle.result()
    assert "no policy named 'no-such-policy'" in str(failure.value.__cause__)


async def test_ticket_opened_centuries_ago_is_refused_at_open(harness: Harness) -> None:
    opened = datetime(206, 1, 1, tzinfo=UTC)  # a typo for 2026: never a calendar of centuries
    handle = await harness.open(opened_at=opened)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidTicket"
    assert "opened_at 0206-01-01" in str(cause)
