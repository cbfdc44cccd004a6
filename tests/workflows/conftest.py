"""A worker on the time-skipping server, with real activities and a loopback fake SendGrid."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import build_notification_activities
from activities.policy_files import PolicyActivities
from policies.loader import default_policy_dir
from tests.fakes.sendgrid import FakeSendGrid
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketInput, TicketStatus, workflow_id_for

TEST_POLICIES = Path(__file__).parent / "policies"


@dataclass
class Harness:
    """One test's ticket world: server, worker queue, fake SendGrid."""

    env: WorkflowEnvironment
    task_queue: str
    sendgrid: FakeSendGrid
    activities: list[Callable[..., Any]]
    executor: ThreadPoolExecutor
    handles: list[WorkflowHandle[TicketEscalation, TicketStatus]] = field(default_factory=list)

    async def open(self, **overrides: Any) -> WorkflowHandle[TicketEscalation, TicketStatus]:
        """Open a P1 payments ticket under the default policy, with ``overrides``."""
        fields: dict[str, Any] = {
            "ticket_id": f"T-{uuid.uuid4().hex[:10]}",
            "title": "Checkout down",
            "priority": "P1",
            "team": "payments",
            "customer": "Acme",
            "requester": "buyer@acme.example",
            "assignee": "agent@example.com",
        }
        fields.update(overrides)
        ticket = TicketInput(**fields)
        handle = await self.env.client.start_workflow(
            TicketEscalation.run,
            ticket,
            id=workflow_id_for(ticket.ticket_id),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle

    async def close(self) -> None:
        """Terminate this test's open tickets: the session's time-skipping server would
        otherwise stall later tests on their timers, which no worker is left to serve."""
        for handle in self.handles:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")

    async def now(self) -> datetime:
        """The test server's current time."""
        return await self.env.get_current_time()

    async def status_after(
        self, handle: WorkflowHandle[TicketEscalation, TicketStatus], wait: timedelta
    ) -> TicketStatus:
        """Skip ``wait`` of server time, then query the ticket."""
        # In steps: one long skip over many timers can outlast the test server's RPC deadline.
        step = timedelta(hours=1)
        while wait > step:
            await self.env.sleep(step)
            wait -= step
        await self.env.sleep(wait)
        return await handle.query(TicketEscalation.status)


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, fake_sendgrid: FakeSendGrid, tmp_path: Path
) -> AsyncIterator[Harness]:
    queue = f"escalations-{uuid.uuid4()}"
    notifications = build_notification_activities(
        api_key="SG.test-key",
        sendgrid_host=fake_sendgrid.url,
        from_address="escalations@example.com",
        outbox_dir=tmp_path / "outbox",
    )
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    # The shipped policies plus the test-only ones in tests/workflows/policies.
    for source in [*default_policy_dir().glob("*.yaml"), *TEST_POLICIES.glob("*.yaml")]:
        shutil.copy(source, policy_dir / source.name)
    policies = PolicyActivities(policy_dir)
    activities: list[Callable[..., Any]] = [policies.load_policy, notifications.send_notification]
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            time_skipping_env.client,
            task_queue=queue,
            workflows=[TicketEscalation],
            activities=activities,
            activity_executor=executor,
        ):
            harness = Harness(time_skipping_env, queue, fake_sendgrid, activities, executor)
            try:
                yield harness
            finally:
                await harness.close()
