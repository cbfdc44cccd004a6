"""Record fresh TicketEscalation histories for the replay tests.

Run ``python -m tests.replay.record`` before a release (or after a workflow change that is
behind ``workflow.patched``) and commit the new files: every committed history must keep
replaying on every later version of the workflow code, which ``tests/replay`` checks in CI.
Each scenario runs real activities against the time-skipping server and a loopback fake
SendGrid, and is saved as ``histories/<scenario>-<label>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import build_notification_activities
from activities.policy_files import PolicyActivities
from escalations.loopback_sendgrid import FakeSendGrid
from policies.loader import default_policy_dir
from tests.server_setup import start_time_skipping
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    AgentRepliedRequest,
    ChangePriorityRequest,
    CustomerRepliedRequest,
    PauseRequest,
    ReassignRequest,
    ResolveRequest,
    ResumeRequest,
    TicketInput,
    TicketStatus,
    UpdateImpactRequest,
    workflow_id_for,
)

HISTORIES = Path(__file__).parent / "histories"
TEST_POLICIES = Path(__file__).parent.parent / "workflows" / "policies"

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


Opener = Callable[..., Awaitable[Handle]]


async def _every_update(env: WorkflowEnvironment, open_ticket: Opener) -> Handle:
    """A P2 ticket that fires levels, takes every update, repeats, and is resolved."""
    handle = await open_ticket(priority="P2")
    await env.sleep(timedelta(minutes=50))  # response-at-risk (75% of 1h)
    await handle.execute_update(TicketEscalation.acknowledge, AcknowledgeRequest(by="agent"))
    await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="waiting on Acme"))
    await env.sleep(timedelta(hours=2))
    await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P1")
    )
    await handle.execute_update(
        TicketEscalation.update_impact, UpdateImpactRequest(affected_users=900)
    )
    await env.sleep(timedelta(minutes=70))  # major-incident and a repeat
    await handle.execute_update(
        TicketEscalation.reassign, ReassignRequest(team="platform", assignee="sre@example.com")
    )
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="sre", note="fixed"))
    return handle


async def _replies(env: WorkflowEnvironment, open_ticket: Opener) -> Handle:
    """Next-reply cycles on the test policy ``hours``: one answered, one overdue and repeated,
    a customer reply that resumes a paused ticket."""
    handle = await open_ticket(priority="P1", policy="hours")
    await handle.execute_update(TicketEscalation.agent_replied, AgentRepliedRequest(by="agent"))
    await handle.execute_update(TicketEscalation.customer_replied, CustomerRepliedRequest())
    await env.sleep(timedelta(minutes=20))
    await handle.execute_update(TicketEscalation.agent_replied, AgentRepliedRequest(by="agent"))
    await handle.execute_update(TicketEscalation.customer_replied, CustomerRepliedRequest())
    await env.sleep(timedelta(minutes=70))  # reply-overdue, then its repeat
    await env.sleep(timedelta(minutes=60))
    await handle.execute_update(TicketEscalation.agent_replied, AgentRepliedRequest(by="agent"))
    await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="waiting on Acme"))
    await handle.execute_update(TicketEscalation.customer_replied, CustomerRepliedRequest())
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent"))
    return handle


async def _quiet_hours(env: WorkflowEnvironment, open_ticket: Opener) -> Handle:
    """A business-hours ticket (policy ``hours``, P3 on New York office hours) whose resolution
    breaches at once at 12:30 New York, when the Berlin manager is off: the manager's notice is
    held until Berlin opens and then sent; a priority change crosses calendars meanwhile."""
    now = await _skip_to_weekday_noon(env, ZoneInfo("America/New_York"))
    handle = await open_ticket(priority="P3", policy="hours", opened_at=now - timedelta(days=9))
    for _ in range(24):  # until the held notice goes out at 09:00 Berlin
        await env.sleep(timedelta(hours=1))
    await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent"))
    return handle


async def _skip_to_weekday_noon(env: WorkflowEnvironment, zone: ZoneInfo) -> datetime:
    now = await env.get_current_time()
    day = now.astimezone(zone).date()
    while True:
        target = datetime.combine(day, time(12, 30), tzinfo=zone)
        if target > now and day.weekday() < 4:  # Monday to Thursday: the next day is open
            break
        day += timedelta(days=1)
    while (wait := target - await env.get_current_time()) > timedelta(0):
        await env.sleep(min(wait, timedelta(days=1)))
    return await env.get_current_time()


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, Opener], Awaitable[Handle]]] = {
    "every-update": _every_update,
    "replies": _replies,
    "quiet-hours": _quiet_hours,
}


async def record(label: str) -> list[Path]:
    """Run every scenario and save its history; returns the files written."""
    written: list[Path] = []
    env = await start_time_skipping()
    try:
        with (
            FakeSendGrid() as fake,
            tempfile.TemporaryDirectory() as outbox,
            ThreadPoolExecutor(max_workers=4) as executor,
        ):
            notifications = build_notification_activities(
                api_key="SG.test-key",
                sendgrid_host=fake.url,
                from_address="escalations@example.com",
                outbox_dir=Path(outbox),
            )
            policy_dir = Path(outbox) / "policies"
            policy_dir.mkdir()
            for source in [*default_policy_dir().glob("*.yaml"), *TEST_POLICIES.glob("*.yaml")]:
                shutil.copy(source, policy_dir / source.name)
            policies = PolicyActivities(policy_dir)
            queue = f"record-{uuid.uuid4()}"
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[TicketEscalation],
                activities=[policies.load_policy, notifications.send_notification],
                activity_executor=executor,
            ):
                for name, script in SCENARIOS.items():

                    async def open_ticket(name: str = name, **overrides: Any) -> Handle:
                        ticket = TicketInput(
                            **{
                                "ticket_id": f"REC-{name}",
                                "title": "Checkout down",
                                "team": "payments",
                                "customer": "Acme",
                                "requester": "buyer@acme.example",
                                "assignee": "agent@example.com",
                                **overrides,
                            }
                        )
                        return await env.client.start_workflow(
                            TicketEscalation.run,
                            ticket,
                            id=workflow_id_for(ticket.ticket_id),
                            task_queue=queue,
                        )

                    handle = await script(env, open_ticket)
                    await handle.result()
                    history = await handle.fetch_history()
                    path = HISTORIES / f"{name}-{label}.json"
                    path.write_text(history.to_json())
                    written.append(path)
    finally:
        await env.shutdown()
    return written


def main() -> None:
    """Command line: ``python -m tests.replay.record --label v2``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="suffix naming the code version")
    args = parser.parse_args()
    for path in asyncio.run(record(args.label)):
        print(f"wrote {path}")
    # The SDK's runtime can abort the interpreter at exit while its threads still hold
    # references; collecting them first avoids that (the same workaround as the CLI's).
    gc.collect()


if __name__ == "__main__":
    main()
