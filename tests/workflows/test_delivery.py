"""Notices through a failing SendGrid, and tickets whose input is malformed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.workflows.conftest import Harness


async def test_sendgrid_failing_with_500_then_recovering_delivers(harness: Harness) -> None:
    harness.sendgrid.answer_next(500, times=3)
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(minutes=12))

    first = status.escalations[0]
    assert first.level == "response-at-risk"
    assert first.delivery.status == "sent"
    attempts = [r for r in harness.sendgrid.requests if r.path == "/v3/mail/send"]
    assert [r.status for r in attempts] == [500, 500, 500, 202]
    keys = {r.body["custom_args"]["idempotency_key"] for r in attempts}
    assert len(keys) == 1  # every retry is the same notice


async def test_a_400_is_recorded_as_failed_and_the_ticket_goes_on(harness: Harness) -> None:
    harness.sendgrid.answer_next(400)
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(minutes=16))

    failed, delivered = status.escalations
    assert (failed.level, failed.delivery.status) == ("response-at-risk", "failed")
    assert "400" in (failed.delivery.detail or "")
    assert (delivered.level, delivered.delivery.status) == ("response-breached", "sent")
    assert [r.status for r in harness.sendgrid.requests] == [400, 202]


async def test_malformed_ticket_fails_at_once_naming_the_field(harness: Harness) -> None:
    ticket_id = f"T-{uuid.uuid4().hex[:8]}"
    handle = await harness.env.client.start_workflow(
        "TicketEscalation",
        {
            "ticket_id": ticket_id,
            "title": "x",
            "priority": "P1",
            "team": "t",
            "customer": "c",
            "requester": "not-an-address",
        },
        id=f"ticket-{ticket_id}",
        task_queue=harness.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidInput"
    assert "requester" in cause.message
    assert "not an email address" in cause.message
