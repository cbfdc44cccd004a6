"""Payload sizes at the contract's limits, against Temporal's (docs/input-limits.md).

The server warns above 512 KB per payload and refuses 2 MB. A ticket whose every field is as
large as the models allow, in 4-byte characters, must stay far below the warning as it opens,
escalates, is updated and resolves; a raw start with a multi-megabyte title must fail at once
with a clear error (the model's, or the server's where it enforces its limit first).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.channels.models import ChannelNotice
from activities.models import NotificationRequest
from escalations.runtime.data_converter import INVALID_INPUT, data_converter
from policies.emails import MAX_ADDRESS_LENGTH
from tests.hostile.conftest import LiveTickets
from tests.hostile.strategies import VALID_TICKET
from workflows import timeouts
from workflows.ticket_escalation import INVALID_UPDATE
from workflows.ticket_messages import (
    MAX_TEXT,
    MAX_TITLE,
    AcknowledgeRequest,
    AgentRepliedRequest,
    CustomerRepliedRequest,
    PauseRequest,
    ReassignRequest,
    ResolveRequest,
    ResumeRequest,
    TicketInput,
    TicketStatus,
)

WARN_BYTES = 512 * 1024
"""The server's (and the SDK's) payload warning threshold."""
WIDE = "\U0001d538"  # four bytes in UTF-8: the most a character costs


def size(value: BaseModel) -> int:
    """Bytes of ``value`` as the data converter sends it."""
    [payload] = data_converter.payload_converter.to_payloads([value])
    return payload.ByteSize()


def address(tag: str) -> str:
    domain = "@example.com"
    return tag + "a" * (MAX_ADDRESS_LENGTH - len(domain) - len(tag)) + domain


def largest_ticket() -> TicketInput:
    return TicketInput(
        ticket_id=f"T-{uuid.uuid4().hex}".ljust(64, "x"),
        title=WIDE * MAX_TITLE,
        priority="P1",
        team="t" * 64,
        customer=WIDE * 200,
        requester=address("r"),
        assignee=address("s"),
        affected_users=1_000_000_000,
        critical_service=True,
        policy="default",
    )


async def skip(live: LiveTickets, wait: timedelta) -> None:
    # In steps: one long skip over many timers can outlast the test server's RPC deadline.
    step = timedelta(hours=1)
    while wait > timedelta(0):
        await live.env.sleep(min(wait, step))
        wait -= step


def notification_inputs(events: Any) -> list[Payload]:
    """Every notice's input: emails, and channel notices (the shipped policy's Slack and
    PagerDuty), their state-change messages included."""
    return [
        event.activity_task_scheduled_event_attributes.input.payloads[0]
        for event in events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name
        in ("send_notification", "send_channel_notice")
    ]


def as_notice(payload: Payload) -> tuple[NotificationRequest, bool]:
    """The notice in an input, and whether it is a level's (not a state change's)."""
    data = json.loads(payload.data)
    if "notice" in data:
        channel = ChannelNotice.model_validate(data)
        return channel.notice, channel.event == "level"
    return NotificationRequest.model_validate(data), True


async def test_the_largest_ticket_stays_far_below_the_payload_warning(live: LiveTickets) -> None:
    ticket = largest_ticket()
    assert size(ticket) < WARN_BYTES
    handle = await live.start(ticket)
    assert await live.settle(handle) == "open"

    async def update(name: str, request: BaseModel) -> TicketStatus:
        status: TicketStatus = await handle.execute_update(name, request, result_type=TicketStatus)
        assert size(status) < WARN_BYTES
        return status

    await skip(live, timedelta(minutes=20))  # both first-response levels, a major incident
    await update("acknowledge", AcknowledgeRequest(by=WIDE * 200))
    await update("customer_replied", CustomerRepliedRequest())
    await skip(live, timedelta(hours=1))  # the next reply is overdue
    await update("pause", PauseRequest(reason=WIDE * 500))
    await update("resume", ResumeRequest())
    await update("reassign", ReassignRequest(assignee=address("u"), team="u" * 64))
    await skip(live, timedelta(hours=5))  # resolution at risk and breached, incident repeats

    status = await live.status(handle)
    assert len(status.escalations) >= 6
    assert size(status) < WARN_BYTES
    resolved = await update("resolve", ResolveRequest(by=WIDE * 200, note=WIDE * MAX_TEXT))
    assert resolved.resolution_note == WIDE * MAX_TEXT
    # The records are what grows: as many as a ticket may keep still fit below the warning.
    record = max(len(e.model_dump_json().encode()) for e in resolved.escalations)
    assert size(resolved) + record * timeouts.MAX_ESCALATION_RECORDS < WARN_BYTES

    history = await handle.fetch_history()
    notices = [(payload, *as_notice(payload)) for payload in notification_inputs(history.events)]
    levels = [notice for _, notice, is_level in notices if is_level]
    assert len(levels) == len([e for e in resolved.escalations if e.recipients])
    assert len(notices) > len(levels)  # Slack and PagerDuty heard the acknowledge and resolve
    for payload, notice, _ in notices:
        assert payload.ByteSize() < WARN_BYTES
        assert notice.ticket.title == ticket.title
    # Every notice reached the outbox: 4-byte characters and 254-character addresses included.
    assert {e.delivery.status for e in resolved.escalations if e.recipients} == {"written"}
    await live.assert_no_task_failures(handle)


async def test_a_multi_megabyte_raw_start_fails_at_once_with_a_clear_error(
    live: LiveTickets,
) -> None:
    raw = VALID_TICKET | {"ticket_id": f"T-{uuid.uuid4().hex[:12]}", "title": "x" * 3_000_000}
    refused: RPCError | None = None
    try:
        handle = await live.start(raw)
    except RPCError as err:
        refused = err
    if refused is not None:
        # A real server refuses the start itself: "Blob data size exceeds limit."
        assert "size" in refused.message.lower()
        return
    # The time-skipping server has no blob limit: the model refuses the title.
    assert await live.settle(handle) == "closed"
    await live.assert_no_task_failures(handle)
    cause = await live.failure(handle)
    assert cause.type == INVALID_INPUT
    assert cause.message == (
        f"invalid TicketInput: title: String should have at most {MAX_TITLE} characters"
    )


async def test_reply_cycles_stop_growing_a_ticket_at_its_record_limit(
    live: LiveTickets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each customer message after a reply re-arms the next-reply levels: two updates a record,
    # and with times reported late no waiting either. The worker passes every module through
    # its sandbox, so it sees this lower limit.
    monkeypatch.setattr(timeouts, "MAX_ESCALATION_RECORDS", 7)
    # Opened days ago: its first-response, resolution and incident levels fire at once.
    moment = await live.env.get_current_time() - timedelta(days=3)
    handle = await live.start(
        VALID_TICKET | {"ticket_id": f"T-{uuid.uuid4().hex[:12]}", "opened_at": moment.isoformat()}
    )
    assert await live.settle(handle) == "open"
    moment += timedelta(minutes=1)
    await handle.execute_update("agent_replied", AgentRepliedRequest(by="Ann", at=moment))
    refused = None
    for _ in range(10):
        moment += timedelta(minutes=1)
        try:
            await handle.execute_update("customer_replied", CustomerRepliedRequest(at=moment))
        except WorkflowUpdateFailedError as err:
            refused = err.cause
            break
        moment += timedelta(hours=1)  # the reply is overdue
        await handle.execute_update("agent_replied", AgentRepliedRequest(by="Ann", at=moment))
    assert isinstance(refused, ApplicationError)
    assert refused.type == INVALID_UPDATE
    assert "customer_replied: ticket" in refused.message
    assert "escalation records, the most one ticket keeps" in refused.message
    status = await live.status(handle)
    assert len(status.escalations) == 7
    assert status.next_reply_cycles >= 1
    await live.assert_no_task_failures(handle)
    await live.close(handle)
