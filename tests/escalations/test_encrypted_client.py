"""TicketClient with encryption on, against the time-skipping server: everything still reads,
errors still name their cause, and the server's copy of a ticket is ciphertext."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.history.v1 import History
from temporalio.testing import WorkflowEnvironment

from escalations.client.tickets import TicketClient, TicketOpenFailed, TicketUpdateRejected
from escalations.runtime.config import load_settings
from escalations.runtime.encryption import generate_key
from tests.escalations.test_client import WorkerQueue, ticket_worker
from workflows.ticket_messages import TicketInput, workflow_id_for


@pytest.fixture
async def encrypted(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[TicketClient, WorkerQueue]]:
    """A client and a worker that both encrypt, configured the way services are: settings."""
    address = time_skipping_env.client.service_client.config.target_host
    key = generate_key("test-1").to_line().replace(" ", ":")
    settings = load_settings({"TEMPORAL_ADDRESS": address, "ESCALATIONS_ENCRYPTION_KEYS": key})
    connected = await TicketClient.connect(settings)
    async with ticket_worker(connected.client, tmp_path) as queue:
        yield TicketClient(connected.client, queue.task_queue), queue


def _ticket(queue: WorkerQueue, **changes: str) -> TicketInput:
    fields = {
        "ticket_id": queue.new_ticket_id(),
        "title": f"Customer database dump {uuid.uuid4().hex[:8]}",
        "priority": "P1",
        "team": "payments",
        "customer": "Acme",
        "requester": "buyer@example.com",
        **changes,
    }
    return TicketInput.model_validate(fields)


async def _stored(env: WorkflowEnvironment, ticket_id: str) -> bytes:
    # The session's plain client: what anyone without the key sees in the server.
    handle = env.client.get_workflow_handle(workflow_id_for(ticket_id))
    history = await handle.fetch_history()
    return History(events=history.events).SerializeToString()


async def test_tickets_read_back_and_the_server_holds_ciphertext(
    time_skipping_env: WorkflowEnvironment, encrypted: tuple[TicketClient, WorkerQueue]
) -> None:
    tickets, queue = encrypted
    ticket = _ticket(queue)
    status = await tickets.open(ticket)
    assert status.title == ticket.title
    handle = tickets.client.get_workflow_handle(workflow_id_for(ticket.ticket_id))
    assert await (await handle.describe()).static_summary() == (
        f"P1 · {ticket.ticket_id} · {ticket.title}"
    )
    stored = await _stored(time_skipping_env, ticket.ticket_id)
    assert ticket.title.encode() not in stored
    assert b"buyer@example.com" not in stored


async def test_rejections_still_name_their_cause(
    encrypted: tuple[TicketClient, WorkerQueue],
) -> None:
    tickets, queue = encrypted
    ticket = _ticket(queue)
    await tickets.open(ticket)
    with pytest.raises(TicketUpdateRejected, match="resume: the ticket is not paused"):
        await tickets.resume(ticket.ticket_id)


async def test_failure_messages_are_encrypted_in_the_server_but_read_by_the_client(
    time_skipping_env: WorkflowEnvironment, encrypted: tuple[TicketClient, WorkerQueue]
) -> None:
    tickets, queue = encrypted
    ticket = _ticket(queue, policy="no-such-policy")
    with pytest.raises(TicketOpenFailed, match="no policy named 'no-such-policy'"):
        await tickets.open(ticket)
    stored = await _stored(time_skipping_env, ticket.ticket_id)
    # The failure's message and stack trace travel in its encrypted attributes.
    assert b"no policy named" not in stored
    assert b"no-such-policy" not in stored
    assert b"Encoded failure" in stored
