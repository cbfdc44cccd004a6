"""The fixed tickets whose cost is counted, each run on ``TicketEscalation`` and on its floor.

A scenario is a script over a :class:`ScriptedTicket`: it moves the clock to an instant after
the ticket opened, waits for the ticket to settle, and sends updates. Every step is awaited,
and the ticket is settled (no workflow task or activity outstanding, the expected notices
done) before each update, so a run's history has the same events however fast the machine is.
``escalations bench`` runs the scripts on its server in real time; the cost budget test
(``tests/cost``) runs them on the time-skipping test server.

The ladder (:data:`LADDER_POLICY`, 4 s to first response, 8 s to resolution) puts thresholds at
2, 4, 6, 8, 10, 11 and 12 s, one notice each; :data:`LADDER_THRESHOLDS` is the same ladder for
the floor (:class:`escalations.bench.floor.BenchFloorTicket`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from escalations.bench.cost import HistoryCost, history_cost
from escalations.bench.floor import (
    BenchFloorTicket,
    FloorThreshold,
    FloorTicketInput,
    FloorUpdate,
)
from escalations.client.tickets import TicketClient
from workflows import ticket_messages as messages
from workflows.ticket_messages import TicketInput, workflow_id_for

LADDER_POLICY_NAME = "bench-ladder"
FEEDBACK_WINDOW = timedelta(seconds=1)
LADDER_POLICY = f"""
name: {LADDER_POLICY_NAME}
version: 1
description: A short ladder whose ticket climbs every level, for counting what a ticket costs.
targets:
  P1: {{first_response: 4s, resolution: 8s}}
contacts:
  team_lead: [lead@example.com]
  manager: [manager@example.com]
levels:
  - {{name: response-at-risk, when: {{clock: first_response, at: 50%}}, notify: [team_lead]}}
  - {{name: response-breached, when: {{clock: first_response, at: 100%}}, notify: [team_lead]}}
  - {{name: resolution-at-risk, when: {{clock: resolution, at: 75%}}, notify: [manager]}}
  - {{name: resolution-breached, when: {{clock: resolution, at: 100%}}, notify: [manager]}}
  - name: major-incident
    when: {{clock: resolution, after_breach: 2s}}
    notify: [manager]
    repeat: {{every: 1s, times: 2}}
feedback_window: {int(FEEDBACK_WINDOW.total_seconds())}s   # closes a second after it is resolved
"""
LADDER_THRESHOLDS = [
    FloorThreshold(clock="first_response", after=timedelta(seconds=2)),
    FloorThreshold(clock="first_response", after=timedelta(seconds=4)),
    FloorThreshold(clock="resolution", after=timedelta(seconds=6)),
    FloorThreshold(clock="resolution", after=timedelta(seconds=8)),
    *(FloorThreshold(clock="resolution", after=timedelta(seconds=s)) for s in (10, 11, 12)),
]

SETTLE_TIMEOUT = 60.0  # seconds; a settled ticket takes milliseconds, a loaded machine more
SETTLE_POLL = 0.05


class ScenarioError(RuntimeError):
    """A scenario's ticket did not reach the state the script waits for."""


class Clock(Protocol):
    """Time as the scenario's server sees it, counted from when the ticket opened."""

    async def start(self) -> None:
        """Mark the instant the ticket opened."""

    async def until(self, offset: timedelta) -> None:
        """Return once ``offset`` has passed since :meth:`start` (at once if it has)."""


class RealClock:
    """Wall-clock time, for a real server."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    async def start(self) -> None:
        """Mark the instant the ticket opened."""
        self._start = time.monotonic()

    async def until(self, offset: timedelta) -> None:
        """Sleep until ``offset`` after :meth:`start`."""
        await asyncio.sleep(max(self._start + offset.total_seconds() - time.monotonic(), 0))


class ScriptedTicket(Protocol):
    """One ticket, ours or the floor's, as a script drives it."""

    async def open(self) -> None:
        """Start it on the ladder; return once its first workflow task has run."""

    async def acknowledge(self) -> None:
        """Send the acknowledge update and wait for its result."""

    async def resolve(self) -> None:
        """Send the resolve update and wait for its result."""

    async def pause(self) -> None:
        """Send the pause update and wait for its result."""

    async def resume(self) -> None:
        """Send the resume update and wait for its result."""

    @property
    def handle(self) -> WorkflowHandle[object, object]:
        """The workflow's handle."""


async def settle(handle: WorkflowHandle[object, object], notices: int) -> None:
    """Wait until ``notices`` activities have finished and nothing is outstanding.

    Nothing outstanding: every workflow task scheduled has finished and every activity
    scheduled has closed, so an update sent now gets a workflow task of its own.

    Raises:
        ScenarioError: not within :data:`SETTLE_TIMEOUT`.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        events = [event async for event in handle.fetch_history_events()]
        done, quiet = _progress(events)
        if quiet and done >= notices:
            return
        if time.monotonic() > deadline:
            raise ScenarioError(
                f"{handle.id}: {done} of {notices} notices done, "
                f"{'nothing' if quiet else 'something'} outstanding after {SETTLE_TIMEOUT:.0f}s"
            )
        await asyncio.sleep(SETTLE_POLL)


_TASK_ENDS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
_ACTIVITY_ENDS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}


def _progress(events: list[HistoryEvent]) -> tuple[int, bool]:
    """Activities finished, and whether no workflow task or activity is outstanding."""
    tasks = activities = finished = 0
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            tasks += 1
        elif event.event_type in _TASK_ENDS:
            tasks -= 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities += 1
        elif event.event_type in _ACTIVITY_ENDS:
            activities -= 1
            finished += 1
    return finished, tasks == 0 and activities == 0


class OurTicket:
    """A ``TicketEscalation`` on the ladder policy, opened and updated through the client."""

    def __init__(self, tickets: TicketClient, ticket_id: str | None = None) -> None:
        self._tickets = tickets
        self._id = ticket_id or f"COST-{uuid.uuid4().hex[:10]}"

    @property
    def handle(self) -> WorkflowHandle[object, object]:
        """The ticket's workflow."""
        return self._tickets.client.get_workflow_handle(workflow_id_for(self._id))

    async def open(self) -> None:
        """Open it and wait until its first workflow task has finished.

        Not by polling the status query, as ``TicketClient.open`` does by default: a query
        that arrives while the policy loads can split the ticket's first workflow task in two,
        and put its markers in two tasks (two billable actions instead of one).
        """
        await self._tickets.open(
            TicketInput(
                ticket_id=self._id,
                title="Checkout down",
                priority="P1",
                team="payments",
                customer="Acme",
                requester="buyer@acme.example",
                policy=LADDER_POLICY_NAME,
            ),
            wait=False,
        )
        await settle(self.handle, 0)

    async def acknowledge(self) -> None:
        """The first response."""
        await self._tickets.acknowledge(self._id, messages.AcknowledgeRequest(by="agent"))

    async def resolve(self) -> None:
        """Solved."""
        await self._tickets.resolve(self._id, messages.ResolveRequest(by="agent"))

    async def pause(self) -> None:
        """Waiting on the customer."""
        await self._tickets.pause(self._id, messages.PauseRequest(reason="waiting on Acme"))

    async def resume(self) -> None:
        """The customer answered."""
        await self._tickets.resume(self._id, messages.ResumeRequest())


class FloorTicket:
    """A ``BenchFloorTicket`` on the same ladder."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._handle: WorkflowHandle[BenchFloorTicket, None] | None = None

    @property
    def handle(self) -> WorkflowHandle[object, object]:
        """The floor's workflow."""
        return self._client.get_workflow_handle(self._require().id)

    def _require(self) -> WorkflowHandle[BenchFloorTicket, None]:
        if self._handle is None:
            raise ScenarioError("the floor ticket has not been opened")
        return self._handle

    async def open(self) -> None:
        """Start it."""
        self._handle = await self._client.start_workflow(
            BenchFloorTicket.run,
            FloorTicketInput(thresholds=LADDER_THRESHOLDS, linger=FEEDBACK_WINDOW),
            id=f"floor-cost-{uuid.uuid4().hex[:10]}",
            task_queue=self._task_queue,
        )
        await settle(self.handle, 0)

    async def acknowledge(self) -> None:
        """The first response."""
        await self._require().execute_update(BenchFloorTicket.acknowledge, FloorUpdate())

    async def resolve(self) -> None:
        """Solved."""
        await self._require().execute_update(BenchFloorTicket.resolve, FloorUpdate())

    async def pause(self) -> None:
        """Waiting on the customer."""
        await self._require().execute_update(BenchFloorTicket.pause, FloorUpdate())

    async def resume(self) -> None:
        """The customer answered."""
        await self._require().execute_update(BenchFloorTicket.resume, FloorUpdate())


Script = Callable[[ScriptedTicket, Clock], Awaitable[None]]


async def _at(ticket: ScriptedTicket, clock: Clock, seconds: float, notices: int) -> None:
    await clock.until(timedelta(seconds=seconds))
    await settle(ticket.handle, notices)


async def full_ladder(ticket: ScriptedTicket, clock: Clock) -> None:
    """Every level fires, the repeats too (seven notices); then it is resolved."""
    for notices, seconds in enumerate((2.5, 4.5, 6.5, 8.5, 10.5, 11.5, 12.5), start=1):
        await _at(ticket, clock, seconds, notices)
    await ticket.resolve()


async def typical(ticket: ScriptedTicket, clock: Clock) -> None:
    """Acknowledged before any level fires, resolved before resolution is at risk."""
    await _at(ticket, clock, 1, 0)
    await ticket.acknowledge()
    await _at(ticket, clock, 3, 0)
    await ticket.resolve()


async def paused(ticket: ScriptedTicket, clock: Clock) -> None:
    """Paused for ten seconds before any level fires; once resumed, response-at-risk fires
    (one notice), then it is acknowledged and resolved."""
    await _at(ticket, clock, 1, 0)
    await ticket.pause()
    await _at(ticket, clock, 11, 0)
    await ticket.resume()
    await _at(ticket, clock, 12.5, 1)
    await ticket.acknowledge()
    await settle(ticket.handle, 1)
    await ticket.resolve()


@dataclass(frozen=True)
class CostScenario:
    """A named script and what it shows."""

    name: str
    description: str
    script: Script


SCENARIOS = (
    CostScenario("full ladder", "a ticket up the whole ladder, then resolved", full_ladder),
    CostScenario("typical", "acknowledged, then resolved in time", typical),
    CostScenario("paused", "paused and resumed, one notice, then resolved", paused),
)


async def run_scenario(
    scenario: CostScenario, ticket: ScriptedTicket, clock: Clock, client: Client
) -> HistoryCost:
    """Open ``ticket``, run the script, wait for the workflow to end and count its history
    (read through ``client``)."""
    await ticket.open()
    await clock.start()
    await scenario.script(ticket, clock)
    await ticket.handle.result()
    return await chain_cost(client, ticket.handle.id)


async def chain_cost(client: Client, workflow_id: str) -> HistoryCost:
    """The cost of the workflow's first run and of every run it continued as."""
    latest = client.get_workflow_handle(workflow_id)
    started = await anext(aiter(latest.fetch_history_events()))
    attributes = started.workflow_execution_started_event_attributes
    run_id: str | None = attributes.first_execution_run_id or attributes.original_execution_run_id
    total = HistoryCost()
    while run_id:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
        total = total + history_cost(events)
        run_id = _continued_as(events)
    return total


def _continued_as(events: list[HistoryEvent]) -> str | None:
    """The run this one continued as, or None."""
    last = events[-1] if events else None
    if last is None or last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        return None
    return last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id or None
