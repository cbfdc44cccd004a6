"""Channel rules on the time-skipping server, against the providers' fakes: one Slack thread
even when two levels fire at the same instant, quiet hours hold a paging channel, and a
resolve reaches PagerDuty after the trigger it resolves, however long that trigger retried."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.dispatch import ChannelActivities, ChannelEndpoints
from activities.channels.secrets import SecretSource
from activities.notifications import build_notification_activities
from activities.outbox import OutboxWriter
from activities.policy_files import PolicyActivities
from tests.fakes.pagerduty import DEFAULT_ROUTING_KEY, FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.workflows.tickets import ticket_fields
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import ResolveRequest, TicketInput, TicketStatus, workflow_id_for

TOKEN = "xoxb-workflow-channels"
POLICY = """\
name: chan-wf
version: 1
calendars:
  office: {timezone: UTC, hours: {mon-sun: ["09:00-17:00"]}}
targets:
  P1: {first_response: 10m, resolution: 1h}
  P2: {first_response: 10m, resolution: 1h}
channels:
  slack-ops: {slack: {channel: "#ops"}}
  pd-ops: {pagerduty: {routing_key_env: WF_PD_KEY}}
contacts:
  team_lead: [slack-ops]
  executive: [pd-ops]
quiet_hours:
  pd-ops: {calendar: office, page_any_time: [P1]}
levels:
  - {name: first, when: {clock: first_response, at: 50%}, notify: [team_lead]}
  - {name: same-instant, when: {clock: first_response, at: 50%}, notify: [team_lead, executive]}
  - {name: breached, when: {clock: first_response, at: 100%}, notify: [executive]}
"""


@dataclass
class World:
    env: WorkflowEnvironment
    queue: str
    slack: FakeSlack
    channel_id: str
    pagerduty: FakePagerDuty
    handles: list[WorkflowHandle[TicketEscalation, TicketStatus]] = field(default_factory=list)

    async def open(self, priority: str) -> WorkflowHandle[TicketEscalation, TicketStatus]:
        fields = ticket_fields(priority, ticket_id=f"T-{uuid.uuid4().hex[:10]}").model_dump()
        ticket = TicketInput(**fields, policy="chan-wf")
        handle = await self.env.client.start_workflow(
            TicketEscalation.run,
            ticket,
            id=workflow_id_for(ticket.ticket_id),
            task_queue=self.queue,
        )
        self.handles.append(handle)
        return handle

    async def close(self) -> None:
        """Terminate the test's tickets: a resolved one keeps a feedback-window timer that would
        stall the session's time skipping once no worker serves it."""
        for handle in self.handles:
            # Terminating a ticket while an activity of its runs would lock time skipping.
            # The raw description: handle.describe() cannot parse the time-skipping server's
            # null for an unset Datetime search attribute.
            request = DescribeWorkflowExecutionRequest(
                namespace=self.env.client.namespace,
                execution=WorkflowExecution(workflow_id=handle.id),
            )
            for _ in range(100):
                description = await self.env.client.workflow_service.describe_workflow_execution(
                    request
                )
                if not description.pending_activities:
                    break
                await asyncio.sleep(0.05)
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


@pytest.fixture
async def world(time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[World]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "chan-wf.yaml").write_text(POLICY, encoding="utf-8")
    with FakeSlack(token=TOKEN) as slack, FakePagerDuty() as pagerduty:
        channel_id = slack.add_channel("#ops")
        channels = ChannelActivities(
            OutboxWriter(tmp_path / "outbox", "escalations@example.com"),
            ChannelEndpoints(slack_api_url=f"{slack.url}/api/", pagerduty_events_url=pagerduty.url),
            secrets=SecretSource({"SLACK_BOT_TOKEN": TOKEN, "WF_PD_KEY": DEFAULT_ROUTING_KEY}),
        )
        email = build_notification_activities(
            None, None, "escalations@example.com", tmp_path / "outbox"
        )
        queue = f"channels-{uuid.uuid4()}"
        with ThreadPoolExecutor(max_workers=4) as executor:
            async with Worker(
                time_skipping_env.client,
                task_queue=queue,
                workflows=[TicketEscalation],
                activities=[
                    PolicyActivities(policies).load_policy,
                    email.send_notification,
                    channels.send_channel_notice,
                ],
                activity_executor=executor,
            ):
                world = World(time_skipping_env, queue, slack, channel_id, pagerduty)
                try:
                    yield world
                finally:
                    await world.close()


async def _skip_to_hour(env: WorkflowEnvironment, hour: int) -> None:
    now = await env.get_current_time()
    wait = (timedelta(hours=hour) - timedelta(hours=now.hour, minutes=now.minute)) % timedelta(
        days=1
    )
    wait += timedelta(minutes=1)
    # In steps: one long skip can outlast the test server's RPC deadline.
    while wait > timedelta(0):
        step = min(wait, timedelta(hours=1))
        await env.sleep(step)
        wait -= step


async def _told(
    handle: WorkflowHandle[TicketEscalation, TicketStatus], channel: str, event: str
) -> TicketStatus:
    """The status once ``channel`` was told of ``event`` (the tell is an activity of its own)."""
    for _ in range(200):
        status = await handle.query(TicketEscalation.status)
        kept = status.channels.get(channel)
        if kept is not None and kept.last_event == event and kept.last_event_status:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{channel} never told of {event}: {status.channels}")


async def test_two_levels_at_one_instant_share_one_slack_thread(world: World) -> None:
    await _skip_to_hour(world.env, 10)  # office hours: nothing is held
    handle = await world.open("P2")
    await world.env.sleep(timedelta(minutes=6))
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent"))
    status = await _told(handle, "slack-ops", "resolved")

    slack_records = [e for e in status.escalations if e.channel == "slack-ops"]
    assert [e.level for e in slack_records] == ["first", "same-instant"]
    messages = world.slack.messages_in(world.channel_id)
    roots = [m for m in messages if m.thread_ts is None]
    assert len(roots) == 1
    assert [m.thread_ts for m in messages if m.thread_ts] == [roots[0].ts]
    assert status.channels["slack-ops"].thread is not None
    assert status.channels["slack-ops"].thread.ts == roots[0].ts
    assert world.slack.problems == []


async def test_quiet_hours_hold_a_paging_channel_unless_the_priority_pages_any_time(
    world: World,
) -> None:
    await _skip_to_hour(world.env, 2)  # the office calendar is closed until 09:00
    quiet = await world.open("P2")
    urgent = await world.open("P1")
    await world.env.sleep(timedelta(minutes=6))
    held = await quiet.query(TicketEscalation.status)
    paged = await urgent.query(TicketEscalation.status)

    [held_pd] = [e for e in held.escalations if e.channel == "pd-ops"]
    assert held_pd.delivery.status == "held"
    assert held_pd.held_until is not None
    assert held_pd.held_until.hour == 9
    [paged_pd] = [e for e in paged.escalations if e.channel == "pd-ops"]
    assert paged_pd.delivery.status == "sent"
    assert paged_pd.delivery.message_id in world.pagerduty.alerts
    for handle in (quiet, urgent):
        await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent"))
    resolved = await _told(urgent, "pd-ops", "resolved")
    assert world.pagerduty.actions_for(resolved.escalations[-1].delivery.message_id or "") == [
        "trigger",
        "resolve",
    ]


async def test_a_resolve_reaches_pagerduty_after_the_trigger_it_resolves(world: World) -> None:
    await _skip_to_hour(world.env, 10)
    # PagerDuty is down when the page falls due: the trigger retries with backoff.
    world.pagerduty.answer_always(503)
    handle = await world.open("P1")
    await world.env.sleep(timedelta(minutes=6))
    attempts = len(world.pagerduty.requests)
    assert attempts >= 1
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent"))
    world.pagerduty.answer_normally()
    await world.env.sleep(timedelta(seconds=30))
    final = await handle.query(TicketEscalation.status)

    [pd_record] = [e for e in final.escalations if e.channel == "pd-ops"]
    assert pd_record.delivery.status == "cancelled"
    accepted = [r for r in world.pagerduty.requests if 200 <= r.status < 300]
    # Only the resolve was accepted, and nothing reached PagerDuty after it.
    assert [r.data["event_action"] for r in accepted] == ["resolve"]
    assert world.pagerduty.requests[-1] is accepted[-1]
    assert final.channels["pd-ops"].last_event == "resolved"
    assert final.channels["pd-ops"].last_event_status == "sent"
    assert world.pagerduty.problems == []
