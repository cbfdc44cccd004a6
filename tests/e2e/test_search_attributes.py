"""Operators find tickets in visibility by their search attributes (the Web UI's filters)."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowExecution

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import Workers
from tests.e2e.helpers import (
    LEVELS,
    new_ticket,
    open_ticket,
    query_status,
    wait_for_notices,
    wait_until,
)
from tests.e2e.processes import DevServer
from workflows import search_attributes as sa

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def test_search_attributes_are_visible(
    client: Client, dev_server: DevServer, workers: Workers, sendgrid: FakeSendGrid
) -> None:
    worker = await workers.start(dev_server.address)
    ticket = new_ticket("P3")  # levels at 3 s and 6 s, the last after an hour
    handle = await open_ticket(client, ticket, workers.task_queue)
    tid = ticket.ticket_id

    await wait_for_notices(sendgrid, tid, LEVELS[:1], within=30, watch=worker.assert_running)
    query = f'TicketId = "{tid}" AND SlaState = "open"'

    async def listed_with_level() -> WorkflowExecution | None:
        # Visibility is eventually consistent: the upsert shows up a moment after it happens.
        found = [execution async for execution in client.list_workflows(query)]
        assert len(found) <= 1, f"{query} matched {len(found)} workflows"
        if found and found[0].typed_search_attributes.get(sa.ESCALATION_LEVEL):
            return found[0]
        return None

    execution = await wait_until(
        listed_with_level, within=15, what=f"visibility to list {query}", interval=0.5
    )
    status = await query_status(handle)
    attributes = execution.typed_search_attributes
    level = attributes.get(sa.ESCALATION_LEVEL)
    print(f"listed {execution.id} with EscalationLevel={level!r}; status: {status.current_level}")

    assert execution.id == handle.id
    assert execution.workflow_type == "TicketEscalation"
    fired = [e.level for e in status.escalations]
    assert fired[:1] == [LEVELS[0]]
    assert level in fired
    assert attributes.get(sa.TICKET_ID) == tid
    assert attributes.get(sa.SLA_STATE) == "open"
    assert attributes.get(sa.PRIORITY) == "P3"
    assert attributes.get(sa.TEAM) == "support"
    assert attributes.get(sa.CUSTOMER) == "Acme"
    assert attributes.get(sa.RESPONSE_DUE_AT) == status.clocks["first_response"].due_at
    assert attributes.get(sa.RESOLUTION_DUE_AT) == status.clocks["resolution"].due_at
    assert attributes.get(sa.RESOLUTION_BREACHED) is False

    # A query for another state does not match this ticket.
    others = [
        e async for e in client.list_workflows(f'TicketId = "{tid}" AND SlaState = "resolved"')
    ]
    assert others == []
