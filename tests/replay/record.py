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
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import build_notification_activities
from activities.policy_files import PolicyActivities
from policies.loader import default_policy_dir
from tests.fakes.sendgrid import FakeSendGrid
from tests.server_setup import start_time_skipping
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    ChangePriorityRequest,
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

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


async def _every_update(env: WorkflowEnvironment, handle: Handle) -> None:
    """A P2 ticket that fires levels, takes every update, repeats, and is resolved."""
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


SCENARIOS: dict[str, tuple[str, Callable[[WorkflowEnvironment, Handle], Awaitable[None]]]] = {
    "every-update": ("P2", _every_update),
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
            policies = PolicyActivities(default_policy_dir())
            queue = f"record-{uuid.uuid4()}"
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[TicketEscalation],
                activities=[policies.load_policy, notifications.send_notification],
                activity_executor=executor,
            ):
                for name, (priority, script) in SCENARIOS.items():
                    ticket = TicketInput(
                        ticket_id=f"REC-{name}",
                        title="Checkout down",
                        priority=priority,
                        team="payments",
                        customer="Acme",
                        requester="buyer@acme.example",
                        assignee="agent@example.com",
                    )
                    handle = await env.client.start_workflow(
                        TicketEscalation.run,
                        ticket,
                        id=workflow_id_for(ticket.ticket_id),
                        task_queue=queue,
                    )
                    await script(env, handle)
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
