"""Long-lived tickets continue as new, carrying their whole state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tests.workflows.conftest import Harness
from workflows import timeouts
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import PauseRequest, ResumeRequest


async def test_state_survives_continue_as_new(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker whose sandbox shares the timeouts module with this test, so the low history
    # limit set here forces several continue-as-new runs within a few hours of ticket time.
    monkeypatch.setattr(timeouts, "MAX_HISTORY_EVENTS", 12)
    queue = f"{harness.task_queue}-can"
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows.timeouts")
    )
    async with Worker(
        harness.env.client,
        task_queue=queue,
        workflows=[TicketEscalation],
        activities=harness.activities,
        activity_executor=harness.executor,
        workflow_runner=runner,
    ):
        harness.task_queue = queue
        await _run_long_ticket(harness)


async def _run_long_ticket(harness: Harness) -> None:
    handle = await harness.open()
    first_run = (await handle.describe()).run_id
    await harness.env.sleep(timedelta(minutes=13))
    await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="on hold"))
    await harness.env.sleep(timedelta(minutes=30))
    await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    latest = harness.env.client.get_workflow_handle_for(TicketEscalation.run, handle.id)
    status = await harness.status_after(latest, timedelta(hours=5))

    assert (await latest.describe()).run_id != first_run
    assert [e.level for e in status.escalations] == [
        "response-at-risk",
        "response-breached",
        "resolution-at-risk",
        "resolution-breached",
    ]
    assert all(e.delivery.status == "sent" for e in status.escalations)
    resolution_due = status.clocks["resolution"].due_at
    assert resolution_due is not None
    assert resolution_due - status.opened_at - timedelta(hours=4) >= timedelta(minutes=30)
    # No notice was sent twice across runs.
    keys = [b["custom_args"]["idempotency_key"] for b in harness.sendgrid.accepted]
    assert len(keys) == len(set(keys)) == 4
