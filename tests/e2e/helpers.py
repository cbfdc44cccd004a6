"""What the e2e scenarios share: the test policy, opening tickets, polling, reading the fake."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.api.enums.v1 import TimeoutType
from temporalio.client import Client, WorkflowHandle

from escalations.testing.fake_sendgrid import FakeSendGrid
from workflows.ticket_messages import TicketInput, TicketStatus, workflow_id_for

T = TypeVar("T")

POLICY_NAME = "e2e"
# Targets in seconds so a whole ladder climbs in well under a minute. Each priority is shaped
# for one scenario; the levels are the same for all of them.
POLICY_YAML = """\
name: e2e
version: 1
description: End-to-end test policy with targets in seconds.

targets:
  P1: {first_response: 6s, resolution: 12s}     # the whole ladder: 3 s, 6 s, 12 s
  P2: {first_response: 16s, resolution: 20s}    # a first level late enough to restart under
  P3: {first_response: 6s, resolution: 1h}      # one level soon, the next 3 s later
  P4: {first_response: 1h, resolution: 1d}      # nothing fires during a test

contacts:
  team_lead: [lead@example.com]
  manager: [manager@example.com]

levels:
  - name: response-at-risk
    when: {clock: first_response, at: 50%}
    notify: [assignee]
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [team_lead]
  - name: resolution-breached
    when: {clock: resolution, at: 100%}
    notify: [manager]
"""
LEVELS = ("response-at-risk", "response-breached", "resolution-breached")

# A query is answered by a worker; with none polling it would wait for the RPC deadline.
QUERY_RPC_TIMEOUT = timedelta(seconds=5)


def new_ticket(priority: str, **overrides: Any) -> TicketInput:
    """A ticket under the e2e policy with a unique id."""
    fields: dict[str, Any] = {
        "ticket_id": f"T-e2e-{uuid.uuid4().hex}",
        "title": "Checkout returns 500 for every card payment",
        "priority": priority,
        "team": "support",
        "customer": "Acme",
        "requester": "buyer@acme.example",
        "assignee": "agent@example.com",
        "policy": POLICY_NAME,
    }
    fields.update(overrides)
    return TicketInput(**fields)


async def open_ticket(
    client: Client, ticket: TicketInput, task_queue: str
) -> WorkflowHandle[Any, Any]:
    """Start ``TicketEscalation`` the way another service would: by type name and JSON."""
    return await client.start_workflow(
        "TicketEscalation",
        ticket,
        id=workflow_id_for(ticket.ticket_id),
        task_queue=task_queue,
    )


async def query_status(handle: WorkflowHandle[Any, Any]) -> TicketStatus:
    """The ticket's ``status`` query."""
    status: TicketStatus = await handle.query(
        "status", result_type=TicketStatus, rpc_timeout=QUERY_RPC_TIMEOUT
    )
    return status


async def wait_until(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float,
    what: str,
    interval: float = 0.25,
    watch: Callable[[], None] | None = None,
) -> T:
    """Await ``probe`` until it returns something other than None.

    ``probe`` may raise while the condition cannot be checked yet (a query before the ticket
    opened); ``watch`` is called each round and should raise if a process it guards died.
    """
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while True:
        if watch is not None:
            watch()
        try:
            result = await probe()
        except Exception as exc:
            last_error = exc
        else:
            if result is not None:
                return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {within}s waiting for {what}; last error: {last_error!r}"
            )
        await asyncio.sleep(interval)


def accepted_for(fake: FakeSendGrid, ticket_id: str) -> list[dict[str, Any]]:
    """The bodies the fake answered 2xx for this ticket, oldest first."""
    return [b for b in fake.accepted if b.get("custom_args", {}).get("ticket_id") == ticket_id]


def accepted_levels(fake: FakeSendGrid, ticket_id: str) -> Counter[str]:
    """How many accepted notices each level of this ticket got (duplicates counted)."""
    return Counter(b["custom_args"]["level"] for b in accepted_for(fake, ticket_id))


async def wait_for_notices(
    fake: FakeSendGrid,
    ticket_id: str,
    levels: tuple[str, ...] = LEVELS,
    *,
    within: float,
    watch: Callable[[], None] | None = None,
) -> Counter[str]:
    """Wait until each of ``levels`` has an accepted notice; returns the counts per level."""

    async def probe() -> Counter[str] | None:
        counts = accepted_levels(fake, ticket_id)
        return counts if all(counts[level] for level in levels) else None

    return await wait_until(
        probe,
        within=within,
        what=f"accepted notices for {', '.join(levels)}",
        interval=0.02,
        watch=watch,
    )


async def all_levels_sent(handle: WorkflowHandle[Any, Any]) -> TicketStatus | None:
    """The status once every level fired once and its delivery is ``sent``."""
    status = await query_status(handle)
    done = [e.level for e in status.escalations] == list(LEVELS) and all(
        e.delivery.status == "sent" for e in status.escalations
    )
    return status if done else None


def describe_lateness(status: TicketStatus) -> str:
    """One line per escalation: when it was due, how late it fired, its delivery."""
    return "\n".join(
        f"  {e.level} #{e.repeat}: due +{(e.due_at - status.opened_at).total_seconds():.1f}s, "
        f"fired {(e.fired_at - e.due_at).total_seconds():.2f}s late, delivery {e.delivery.status}"
        f" ({e.delivery.message_id})"
        for e in status.escalations
    )


async def recovery_events(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """What a killed worker cost, read from the ticket's history, for the test log.

    A workflow task the dead worker had started must time out (START_TO_CLOSE, the workflow
    task timeout) before another worker gets it; one merely queued on its sticky queue moves
    sooner (SCHEDULE_TO_START, the sticky queue timeout). An activity it had started runs
    again after its attempt timed out: the completed attempt's number is above 1.
    """
    notes: list[str] = []
    history = await handle.fetch_history()
    if not history.events:
        return notes
    start = history.events[0].event_time.ToDatetime()
    for event in history.events:
        offset = (event.event_time.ToDatetime() - start).total_seconds()
        if event.HasField("workflow_task_timed_out_event_attributes"):
            kind = TimeoutType.Name(event.workflow_task_timed_out_event_attributes.timeout_type)
            notes.append(f"+{offset:.1f}s workflow task timed out ({kind})")
        elif event.HasField("activity_task_started_event_attributes"):
            attempt = event.activity_task_started_event_attributes.attempt
            if attempt > 1:
                notes.append(f"+{offset:.1f}s an activity ran again: attempt {attempt}")
    return notes
