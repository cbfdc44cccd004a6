"""A worker on the time-skipping server, with real activities and a loopback fake SendGrid."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.dispatch import ChannelActivities
from activities.channels.secrets import SecretSource
from activities.notifications import build_notification_activities
from activities.outbox import OutboxWriter
from activities.policy_files import PolicyActivities
from escalations.testing.fake_sendgrid import FakeSendGrid
from policies.loader import default_policy_dir
from tests.workflows.tickets import ticket_fields
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    TicketInput,
    TicketStatus,
    UpdateImpactRequest,
    workflow_id_for,
)

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
        fields = (
            ticket_fields(
                ticket_id=f"T-{uuid.uuid4().hex[:10]}", assignee="agent@example.com"
            ).model_dump()
            | overrides
        )
        ticket = TicketInput(**fields)
        handle = await self.env.client.start_workflow(
            TicketEscalation.run,
            ticket,
            id=workflow_id_for(ticket.ticket_id),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        await self._wait_until_opened(handle)
        return handle

    async def close(self) -> None:
        """Terminate this test's open tickets: the session's time-skipping server would
        otherwise stall later tests on their timers, which no worker is left to serve."""
        for handle in self.handles:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")

    async def _wait_until_opened(
        self, handle: WorkflowHandle[TicketEscalation, TicketStatus]
    ) -> None:
        # Until its load_policy activity has finished, terminating a ticket leaves the test
        # server's time skipping locked, and every later test's sleep stalls; so a ticket
        # counts as open once its status query answers (or it has already closed: a ticket
        # refused at open).
        for _ in range(100):
            try:
                await handle.query(TicketEscalation.status)
                return
            except WorkflowQueryFailedError:
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    return
            await asyncio.sleep(0.05)

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

    async def skip_to(self, weekday: int, hour: int, minute: int, zone: str) -> datetime:
        """Skip server time to the next ``weekday`` (0 = Monday) at ``hour:minute`` wall time
        in ``zone``, strictly after the server's now; returns the server time reached.

        The server's clock starts at the real time, so a business-hours test first skips to
        a known weekday and hour, then opens its tickets. Call it with none of the test's
        tickets running (it skips in steps of a day; with tickets running use ``advance_to``).
        """
        tz = ZoneInfo(zone)
        now = await self.now()
        today = now.astimezone(tz).date()
        target = None
        for days in range(8):
            day = today + timedelta(days=days)
            candidate = datetime.combine(day, time(hour, minute), tzinfo=tz)
            if day.weekday() == weekday and candidate > now:
                target = candidate
                break
        assert target is not None
        wait = target - now
        step = timedelta(days=1)
        while wait > step:
            await self.env.sleep(step)
            wait -= step
        await self.env.sleep(wait)
        return await self.now()

    async def advance_to(self, moment: datetime) -> datetime:
        """Skip server time until ``moment`` in steps of at most an hour (safe while tickets
        run); returns the server time reached. A no-op if ``moment`` has passed."""
        now = await self.now()
        if moment > now:
            step = timedelta(hours=1)
            wait = moment - now
            while wait > step:
                await self.env.sleep(step)
                wait -= step
            await self.env.sleep(wait)
        return await self.now()

    async def refresh(self, handle: WorkflowHandle[TicketEscalation, TicketStatus]) -> TicketStatus:
        """The ticket's status computed at the server's current time.

        On the time-skipping server a query reports the time of the ticket's last workflow
        task (its clock runs ahead of the wall clock the query falls back on), so elapsed
        time freezes between wake-ups. A no-op update (the same impact figures) runs a
        workflow task now and returns the status computed then.
        """
        current = await handle.query(TicketEscalation.status)
        return await handle.execute_update(
            TicketEscalation.update_impact,
            UpdateImpactRequest(affected_users=current.affected_users),
        )


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
    # No channel secrets are set here: the shipped policies' Slack and PagerDuty channels write
    # to the outbox (tests/workflows/test_channels.py sends to the providers' fakes).
    channels = ChannelActivities(
        OutboxWriter(tmp_path / "outbox", "escalations@example.com"), secrets=SecretSource({})
    )
    activities: list[Callable[..., Any]] = [
        policies.load_policy,
        notifications.send_notification,
        channels.send_channel_notice,
    ]
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
