"""After resolve: the feedback window (CSAT, reopen), and the outcome every ticket publishes for
reports (memo ``sla_outcome`` and the reporting search attributes)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from escalations.runtime.data_converter import data_converter
from policies.model import ClockName
from tests.workflows.conftest import Harness
from workflows import search_attributes as sa
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    CustomerRepliedRequest,
    FeedbackRequest,
    PauseRequest,
    ReopenRequest,
    ResolveRequest,
    ResumeRequest,
    TicketStatus,
)
from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


async def _describe(handle: Handle) -> DescribeWorkflowExecutionResponse:
    # The raw answer: the time-skipping server keeps an unset attribute as a typed null, which
    # the SDK's describe() cannot decode for a Datetime (the dev server drops unset ones).
    return await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=handle._client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )


async def _outcome(handle: Handle) -> TicketOutcome:
    memo = (await _describe(handle)).workflow_execution_info.memo.fields
    [outcome] = await data_converter.decode([memo[OUTCOME_MEMO]], [TicketOutcome])
    assert isinstance(outcome, TicketOutcome)
    return outcome


async def _attributes(handle: Handle) -> dict[str, Any]:
    """The ticket's search attributes that are set, decoded by their type."""
    fields = (await _describe(handle)).workflow_execution_info.search_attributes.indexed_fields
    values: dict[str, Any] = {}
    for name, payload in fields.items():
        if payload.metadata.get("encoding") == b"binary/null":
            continue
        value = json.loads(payload.data)
        if payload.metadata.get("type") == b"Datetime":
            value = datetime.fromisoformat(value)
        values[name] = value
    return values


async def _rejection(handle: Handle, update: Any, request: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(update, request)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def test_a_resolved_ticket_takes_feedback_until_its_window_closes(harness: Harness) -> None:
    handle = await harness.open()
    early = await _rejection(handle, TicketEscalation.feedback, FeedbackRequest(csat=5))
    assert "is not resolved (it is open)" in early

    opened = await handle.query(TicketEscalation.status)
    await harness.env.sleep(timedelta(minutes=5))
    await handle.execute_update(TicketEscalation.acknowledge, AcknowledgeRequest(by="ann"))
    await harness.env.sleep(timedelta(minutes=55))
    resolved = await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    assert resolved.state == "resolved"
    assert resolved.resolved_at is not None
    assert resolved.feedback_closes_at == resolved.resolved_at + timedelta(days=7)
    assert (await _describe(handle)).workflow_execution_info.status == (
        WorkflowExecutionStatus.RUNNING.value
    )

    rated = await handle.execute_update(
        TicketEscalation.feedback, FeedbackRequest(csat=4, comment="Quick, thanks")
    )
    assert (rated.csat, rated.feedback_comment) == (4, "Quick, thanks")
    outcome = await _outcome(handle)
    assert outcome.csat == 4
    assert outcome.clocks[ClockName.FIRST_RESPONSE].business_seconds == pytest.approx(300, abs=1)
    assert outcome.clocks[ClockName.RESOLUTION].business_seconds == pytest.approx(3600, abs=1)
    assert outcome.opened_at == opened.opened_at
    attributes = await _attributes(handle)
    assert attributes[sa.CSAT.name] == 4.0
    assert attributes[sa.FIRST_RESPONSE_SECONDS.name] == 300
    assert attributes[sa.RESOLUTION_SECONDS.name] == 3600
    assert attributes[sa.POLICY.name] == "default"
    assert attributes[sa.OPENED_AT.name] == opened.opened_at
    assert attributes[sa.REOPENED.name] is False

    # The window closes a week after the resolution: the ticket completes with its feedback.
    final = await handle.result()
    assert (final.state, final.csat) == ("resolved", 4)
    assert await harness.now() >= resolved.resolved_at + timedelta(days=7)
    # A closed workflow takes no updates at all: the server refuses the call.
    with pytest.raises(RPCError):
        await handle.execute_update(TicketEscalation.feedback, FeedbackRequest(csat=1))


async def test_reopen_resumes_the_resolution_clock_without_the_resolved_time(
    harness: Harness,
) -> None:
    handle = await harness.open()  # P1: response 15m, resolution 4h
    await handle.execute_update(TicketEscalation.acknowledge, AcknowledgeRequest(by="ann"))
    await harness.env.sleep(timedelta(hours=1))
    resolved = await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    worked = resolved.clocks["resolution"].elapsed
    # The test server's clock moves on a little between calls: an hour and a few milliseconds.
    assert abs(worked - timedelta(hours=1)) < timedelta(seconds=1)

    # Two hours resolved: they count nothing.
    await harness.env.sleep(timedelta(hours=2))
    reopened = await handle.execute_update(
        TicketEscalation.reopen, ReopenRequest(by="buyer", reason="the fix did not hold")
    )
    assert reopened.state == "acknowledged"
    assert reopened.resolved_at is None
    assert reopened.feedback_closes_at is None
    [reopen] = reopened.reopens
    assert (reopen.by, reopen.resolved_at) == ("buyer", resolved.resolved_at)
    resolution = reopened.clocks["resolution"]
    assert resolution.elapsed == worked
    assert resolution.running
    assert resolution.due_at == reopen.at + timedelta(hours=4) - worked

    # Escalations resume on the reopened clock: at risk at 80% (3h12m), breached at 4h.
    status = await harness.status_after(handle, timedelta(hours=3, minutes=1))
    assert [e.level for e in status.escalations] == ["resolution-at-risk", "resolution-breached"]
    assert status.escalations[-1].due_at == reopen.at + timedelta(hours=4) - worked
    assert (await _attributes(handle))[sa.REOPENED.name] is True

    # Updates work again; a resolve before the reopening is refused.
    too_early = await _rejection(
        handle,
        TicketEscalation.resolve,
        ResolveRequest(by="ann", at=reopen.at - timedelta(minutes=1)),
    )
    assert "before the ticket was reopened" in too_early
    again = await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    assert again.state == "resolved"
    outcome = await _outcome(handle)
    assert len(outcome.reopens) == 1
    assert outcome.resolved
    assert outcome.clocks[ClockName.RESOLUTION].breached
    assert sorted((await _attributes(handle))[sa.BREACHED_CLOCKS.name]) == ["resolution"]


async def test_reopen_and_feedback_are_refused_outside_the_window(harness: Harness) -> None:
    handle = await harness.open()
    message = await _rejection(
        handle, TicketEscalation.reopen, ReopenRequest(by="buyer", reason="still broken")
    )
    assert "is not resolved" in message
    await harness.env.sleep(timedelta(minutes=10))
    resolved = await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    assert resolved.resolved_at is not None
    before = await _rejection(
        handle,
        TicketEscalation.reopen,
        ReopenRequest(by="buyer", reason="x", at=resolved.resolved_at - timedelta(seconds=1)),
    )
    assert "before the ticket was resolved" in before
    # Other updates stay refused while the ticket waits for feedback.
    ack = await _rejection(handle, TicketEscalation.acknowledge, AcknowledgeRequest(by="ann"))
    assert "already resolved" in ack
    await handle.result()


async def test_outcome_records_pauses_and_escalations(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=12))  # response-at-risk fires at 75% (11m15s)
    await handle.execute_update(TicketEscalation.customer_replied, CustomerRepliedRequest())
    await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="waiting for logs"))
    await harness.env.sleep(timedelta(hours=2))
    await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    await handle.execute_update(TicketEscalation.acknowledge, AcknowledgeRequest(by="ann"))

    outcome = await _outcome(handle)
    [pause] = outcome.pauses
    assert pause.after_customer_reply
    assert pause.end is not None
    assert abs(pause.end - pause.start - timedelta(hours=2)) < timedelta(seconds=1)
    assert outcome.paused_seconds == pytest.approx(7200, abs=1)
    assert outcome.escalations == {"response-at-risk": 1}
    assert outcome.clocks[ClockName.FIRST_RESPONSE].business_seconds == pytest.approx(720, abs=1)
    # The first-response clock counted in two spans around the pause.
    assert len(outcome.clocks[ClockName.FIRST_RESPONSE].spans) == 2
    attributes = await _attributes(handle)
    assert attributes[sa.PAUSED_SECONDS.name] == round(outcome.paused_seconds)
    assert attributes[sa.ESCALATION_LEVELS.name] == ["response-at-risk"]
    assert sa.BREACHED_CLOCKS.name not in attributes
