"""TicketClient against the time-skipping server: opening, error mapping, rejected updates."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import build_notification_activities
from activities.policy_files import PolicyActivities
from escalations.client.lifecycle import wait_until_open
from escalations.client.tickets import (
    TicketAlreadyOpen,
    TicketClient,
    TicketClosed,
    TicketNotFound,
    TicketOpenFailed,
    TicketUpdateRejected,
)
from policies.loader import default_policy_dir
from workflows import search_attributes as sa
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    ChangePriorityRequest,
    PauseRequest,
    ReassignRequest,
    ResolveRequest,
    TicketInput,
    UpdateImpactRequest,
    workflow_id_for,
)
from workflows.ticket_state import TicketStateName

NewTicket = Callable[..., TicketInput]


@dataclass
class WorkerQueue:
    """A task queue with a worker polling it, and the tickets a test opened there."""

    task_queue: str
    ticket_ids: list[str] = field(default_factory=list)

    def new_ticket_id(self) -> str:
        """A unique ticket id whose workflow is terminated when the test ends."""
        ticket_id = f"T-{uuid.uuid4().hex[:12]}"
        self.ticket_ids.append(ticket_id)
        return ticket_id


@asynccontextmanager
async def ticket_worker(client: Client, outbox: Path) -> AsyncIterator[WorkerQueue]:
    """Run a worker with the workflow and its activities on a task queue of its own.

    Tickets left open are terminated on exit: the time-skipping server is shared by the whole
    session, and their timers would otherwise keep firing when a later test skips time.
    """
    queue = WorkerQueue(f"escalations-test-{uuid.uuid4()}")
    notifications = build_notification_activities(
        api_key=None,
        sendgrid_host=None,
        from_address="escalations@example.com",
        outbox_dir=outbox,
    )
    policies = PolicyActivities(default_policy_dir())
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=queue.task_queue,
            workflows=[TicketEscalation],
            activities=[policies.load_policy, notifications.send_notification],
            activity_executor=executor,
        ):
            try:
                yield queue
            finally:
                for ticket_id in queue.ticket_ids:
                    handle = client.get_workflow_handle(workflow_id_for(ticket_id))
                    # Not found, or already closed: nothing left to stop.
                    with contextlib.suppress(RPCError):
                        await handle.terminate(reason="test finished")


@pytest.fixture
async def queue(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[WorkerQueue]:
    """A worker on a task queue of this test's own."""
    async with ticket_worker(time_skipping_env.client, tmp_path) as queue:
        yield queue


@pytest.fixture
def tickets(time_skipping_env: WorkflowEnvironment, queue: WorkerQueue) -> TicketClient:
    """A client that opens tickets on the test's task queue."""
    return TicketClient(time_skipping_env.client, queue.task_queue)


@pytest.fixture
def new_ticket(queue: WorkerQueue) -> Callable[..., TicketInput]:
    """Builds a valid ticket with a fresh id; keyword arguments override fields."""

    def build(**changes: object) -> TicketInput:
        fields: dict[str, object] = {
            "ticket_id": queue.new_ticket_id(),
            "title": "Checkout down",
            "priority": "P1",
            "team": "payments",
            "customer": "Acme",
            "requester": "buyer@example.com",
        }
        fields.update(changes)
        return TicketInput.model_validate(fields)

    return build


async def _update_accepted_events(client: TicketClient, ticket_id: str) -> int:
    handle = client.client.get_workflow_handle(workflow_id_for(ticket_id))
    history = await handle.fetch_history()
    return sum(
        1
        for event in history.events
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    )


async def test_open_waits_on_history_and_leaves_the_opening_in_one_task(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    # A status query sent while the policy loads would be a billable action for nothing, and
    # one reaching the worker mid-task splits the opening across tasks.
    ticket = new_ticket()
    status = await tickets.open(ticket)
    assert status.ticket_id == ticket.ticket_id
    handle = tickets.client.get_workflow_handle(workflow_id_for(ticket.ticket_id))
    events = (await handle.fetch_history()).events
    scheduled = [
        e.event_id for e in events if e.HasField("workflow_task_scheduled_event_attributes")
    ]
    markers = [e.event_id for e in events if e.HasField("marker_recorded_event_attributes")]
    assert markers, "the opening records its patch and its policy as markers"
    # Every marker of the opening was sent by the first task: none follows a second one.
    assert len(scheduled) == 1 or max(markers) < scheduled[1], [
        e.WhichOneof("attributes") for e in events
    ]


async def test_open_returns_the_first_status(tickets: TicketClient, new_ticket: NewTicket) -> None:
    ticket = new_ticket()
    status = await tickets.open(ticket)
    assert status.ticket_id == ticket.ticket_id
    assert status.state == TicketStateName.OPEN
    assert status.policy == "default"
    assert set(status.clocks) == {"first_response", "resolution", "next_reply"}
    assert not status.clocks["next_reply"].started


async def test_open_twice_is_rejected_and_keeps_one_workflow(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    ticket = new_ticket()
    await tickets.open(ticket)
    handle = tickets.client.get_workflow_handle(workflow_id_for(ticket.ticket_id))
    first_run = (await handle.describe()).run_id
    with pytest.raises(TicketAlreadyOpen) as caught:
        await tickets.open(ticket.model_copy(update={"title": "Checkout down again"}))
    assert str(caught.value).startswith(
        f"ticket {ticket.ticket_id} is already open (workflow ticket-{ticket.ticket_id})"
    )
    description = await handle.describe()
    assert description.run_id == first_run
    assert description.status == WorkflowExecutionStatus.RUNNING
    status = await tickets.status(ticket.ticket_id)
    assert status.title == "Checkout down"


async def test_open_without_waiting_returns_none(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    ticket = new_ticket()
    await tickets.open(ticket, wait=False)
    handle = tickets.client.get_workflow_handle(workflow_id_for(ticket.ticket_id))
    description = await handle.describe()
    assert await description.static_summary() == f"P1 · {ticket.ticket_id} · Checkout down"
    assert description.typed_search_attributes.get(sa.CUSTOMER) == "Acme"
    # Let it finish opening: terminating a ticket while its first task or activity is in
    # flight leaves the shared time-skipping server unable to skip time for later tests.
    status = await wait_until_open(tickets.client, handle, ticket.ticket_id, tickets.task_queue)
    assert status.ticket_id == ticket.ticket_id


async def test_open_rejects_internal_continued_state(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    # Any value will do (model_copy does not validate): the client must refuse it before it
    # reaches Temporal.
    ticket = new_ticket().model_copy(update={"continued": object()})
    with pytest.raises(ValueError, match="continued is internal"):
        await tickets.open(ticket)
    with pytest.raises(TicketNotFound):
        await tickets.status(ticket.ticket_id)


async def test_unknown_priority_fails_the_open_naming_it(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(priority="P9")
    with pytest.raises(TicketOpenFailed) as caught:
        await tickets.open(ticket)
    message = str(caught.value)
    assert ticket.ticket_id in message
    assert "'P9' is not defined by policy 'default'" in message


async def test_unknown_policy_fails_the_open_naming_it(
    tickets: TicketClient, new_ticket: NewTicket
) -> None:
    ticket = new_ticket(policy="no-such-policy")
    with pytest.raises(TicketOpenFailed) as caught:
        await tickets.open(ticket)
    message = str(caught.value)
    assert ticket.ticket_id in message
    assert "no policy named 'no-such-policy'" in message
    # Later calls keep saying why the ticket is not there to talk to.
    with pytest.raises(TicketOpenFailed, match="no policy named 'no-such-policy'"):
        await tickets.status(ticket.ticket_id)
    with pytest.raises(TicketClosed, match="is failed"):
        await tickets.acknowledge(ticket.ticket_id, AcknowledgeRequest(by="Ann"))


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("resume", "resume: the ticket is not paused", id="resume-not-paused"),
        pytest.param("priority", "'P7' is not defined by policy 'default'", id="unknown-priority"),
        pytest.param("ack-future", "is in the future", id="ack-in-future"),
    ],
)
async def test_invalid_update_is_rejected_without_reaching_history(
    tickets: TicketClient, new_ticket: NewTicket, action: str, expected: str
) -> None:
    ticket = new_ticket()
    opened = await tickets.open(ticket)
    ticket_id = ticket.ticket_id
    if action == "resume":
        call = tickets.resume(ticket_id)
    elif action == "priority":
        call = tickets.change_priority(ticket_id, ChangePriorityRequest(priority="P7"))
    else:
        # Relative to the ticket's own clock: the time-skipping server's time is not ours.
        at = opened.opened_at + timedelta(days=1)
        call = tickets.acknowledge(ticket_id, AcknowledgeRequest(by="Ann", at=at))
    with pytest.raises(TicketUpdateRejected) as caught:
        await call
    assert expected in str(caught.value)
    assert ticket_id in str(caught.value)
    assert await _update_accepted_events(tickets, ticket_id) == 0
    assert (await tickets.status(ticket_id)).state == TicketStateName.OPEN


async def test_updates_on_an_unknown_ticket_raise_not_found(tickets: TicketClient) -> None:
    ticket_id = f"T-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(TicketNotFound, match=f"ticket {ticket_id} not found"):
        await tickets.acknowledge(ticket_id, AcknowledgeRequest(by="Ann"))
    with pytest.raises(TicketNotFound, match=ticket_id):
        await tickets.pause(ticket_id, PauseRequest(reason="waiting"))
    with pytest.raises(TicketNotFound, match=ticket_id):
        await tickets.status(ticket_id)


async def test_updates_change_the_ticket_and_status_survives_resolve(
    tickets: TicketClient,
    new_ticket: NewTicket,
    time_skipping_env: WorkflowEnvironment,
) -> None:
    ticket = new_ticket(priority="P2")
    ticket_id = ticket.ticket_id
    await tickets.open(ticket)
    acked = await tickets.acknowledge(ticket_id, AcknowledgeRequest(by="Ann"))
    assert acked.acknowledged_by == "Ann"
    paused = await tickets.pause(ticket_id, PauseRequest(reason="waiting on customer"))
    assert paused.state == TicketStateName.PAUSED
    resumed = await tickets.resume(ticket_id)
    assert resumed.state == TicketStateName.ACKNOWLEDGED
    raised = await tickets.change_priority(ticket_id, ChangePriorityRequest(priority="P1"))
    assert raised.priority == "P1"
    impact = await tickets.update_impact(ticket_id, UpdateImpactRequest(affected_users=20))
    assert impact.affected_users == 20
    moved = await tickets.reassign(ticket_id, ReassignRequest(assignee="bob@example.com"))
    assert moved.assignee == "bob@example.com"
    resolved = await tickets.resolve(ticket_id, ResolveRequest(by="Bob", note="fixed"))
    assert resolved.state == TicketStateName.RESOLVED
    # The ticket takes feedback for a week after resolve, then completes.
    assert resolved.feedback_closes_at is not None
    await time_skipping_env.sleep(timedelta(days=7, minutes=1))
    handle = tickets.client.get_workflow_handle(workflow_id_for(ticket_id))
    await handle.result()
    after = await tickets.status(ticket_id)
    assert after.state == TicketStateName.RESOLVED
    assert after.resolution_note == "fixed"
    with pytest.raises(TicketClosed, match=f"ticket {ticket_id}: it is closed"):
        await tickets.pause(ticket_id, PauseRequest(reason="too late"))


def test_every_update_is_a_client_method_documented_by_its_handler() -> None:
    from temporalio import workflow

    from escalations.client.tickets import UPDATES

    definition = workflow._Definition.must_from_class(TicketEscalation)
    assert set(UPDATES) == set(definition.updates)
    for name in UPDATES:
        doc = getattr(TicketClient, name).__doc__
        assert doc
        assert doc == getattr(TicketEscalation, name).__doc__
