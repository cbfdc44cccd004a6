"""The SLO monitor, run as its schedule would run it, on the time-skipping test server.

Real workflows and activities, a loopback fake SendGrid; only the visibility read is replaced
(the time-skipping server implements no list API) by a filter over outcomes with known
results. The dev-server test in ``test_schedules.py`` reads real visibility.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.slo import SloActivities
from activities.slo_email import build_prepared_sender
from activities.slo_models import SloMonitorInput, SloMonitorResult, alert_workflow_id
from escalations.testing.fake_sendgrid import FakeSendGrid
from policies.loader import default_policy_dir
from reports.visibility import TicketFilter
from tests.slo.outcomes import period
from workflows.slo_alert import SloBudgetAlert
from workflows.slo_monitor import SloMonitor
from workflows.ticket_outcome import TicketOutcome

RUN_EVERY = timedelta(minutes=5)
OBJECTIVE = "P1-first_response"


@dataclass
class World:
    """One test's policy, tickets and fake SendGrid, and a worker serving the monitor."""

    env: WorkflowEnvironment
    task_queue: str
    policy: str
    sendgrid: FakeSendGrid
    outcomes: list[TicketOutcome] = field(default_factory=list)

    async def read(self, selection: TicketFilter) -> list[TicketOutcome]:
        # What the visibility query selects: opened in range, of the given policies.
        return [
            o
            for o in self.outcomes
            if selection.opened_from <= o.opened_at < selection.opened_to
            and (not selection.policies or o.policy in selection.policies)
        ]

    async def run_monitor(self) -> SloMonitorResult:
        """One run, as the schedule starts it (a fresh workflow id each time)."""
        return await self.env.client.execute_workflow(
            SloMonitor.run,
            SloMonitorInput(policy=self.policy),
            id=f"slo-monitor-{self.policy}-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    def emails(self, category: str) -> list[dict[str, Any]]:
        return [body for body in self.sendgrid.accepted if body["categories"] == [category]]

    async def wait_for_emails(self, category: str, count: int) -> list[dict[str, Any]]:
        # The episode sends on its own, after the monitor run that started it returned.
        for _ in range(200):
            if len(self.emails(category)) >= count:
                break
            await asyncio.sleep(0.05)
        return self.emails(category)

    @property
    def alert_id(self) -> str:
        return alert_workflow_id(self.policy, OBJECTIVE)


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
async def world(
    time_skipping_env: WorkflowEnvironment, fake_sendgrid: FakeSendGrid, tmp_path: Path
) -> AsyncIterator[World]:
    # The shipped default policy under a name of this test's own: alert workflow ids contain
    # the policy name, and the test server is shared by the session.
    policy = f"slo-{uuid.uuid4().hex[:10]}"
    text = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
    (tmp_path / f"{policy}.yaml").write_text(
        text.replace("name: default", f"name: {policy}", 1), encoding="utf-8"
    )
    world = World(time_skipping_env, f"slo-{uuid.uuid4()}", policy, fake_sendgrid)
    sender = build_prepared_sender(
        api_key="SG.test-key",
        sendgrid_host=fake_sendgrid.url,
        from_address="escalations@example.com",
        outbox_dir=tmp_path / "outbox",
    )
    activities = SloActivities(time_skipping_env.client, tmp_path, sender, reader=world.read)
    # Time moves only when a test sleeps, as between two schedule runs. Left to skip on its
    # own, the test server would jump to the next timer it knows whenever a run completes: an
    # episode waiting for the monitor's signal has none but its 10-year execution timeout.
    with time_skipping_env.auto_time_skipping_disabled():
        async with Worker(
            time_skipping_env.client,
            task_queue=world.task_queue,
            workflows=[SloMonitor, SloBudgetAlert],
            activities=[
                activities.evaluate_slo,
                activities.open_slo_alert,
                activities.close_slo_alert,
                activities.send_slo_alert,
            ],
        ):
            try:
                yield world
            finally:
                with contextlib.suppress(RPCError):
                    await time_skipping_env.client.get_workflow_handle(world.alert_id).terminate()


async def test_a_bad_period_opens_one_episode_and_sends_one_alert(world: World) -> None:
    now = await world.env.get_current_time()
    # 10 P1 first responses in the last half hour, 8 of them late: 16x the sustainable burn.
    world.outcomes = period(now, good=2, bad=8, within=timedelta(minutes=30), policy=world.policy)

    results = []
    for _ in range(4):
        results.append(await world.run_monitor())
        await world.env.sleep(RUN_EVERY)

    assert [r.burning for r in results] == [[OBJECTIVE]] * 4
    alerts = await world.wait_for_emails("slo-burning", 1)
    await asyncio.sleep(0.5)  # room for a duplicate to show up, if one were coming
    assert len(world.emails("slo-burning")) == 1
    (alert,) = alerts
    assert sorted(p["to"][0]["email"] for p in alert["personalizations"]) == [
        "support-manager@example.com",
        "vp-support@example.com",
    ]
    assert f"{world.policy} {OBJECTIVE}: error budget burning 16.0x" in alert["subject"]
    text = alert["content"][0]["value"]
    assert "Long window 1h: burn rate 16.0x (8 missed of 10)" in text
    assert "Attainment over 28d: 20.0% (8 missed of 10); objective 95%" in text
    key = alert["custom_args"]["idempotency_key"]
    description = await world.env.client.get_workflow_handle(world.alert_id).describe()
    assert key == f"{world.alert_id}/{description.run_id}/burning"
    assert world.emails("slo-recovered") == []


async def test_a_good_period_alerts_nobody(world: World) -> None:
    now = await world.env.get_current_time()
    world.outcomes = period(now, good=30, bad=1, within=timedelta(minutes=30), policy=world.policy)

    for _ in range(3):
        result = await world.run_monitor()
        assert (result.tickets, result.burning, result.opened) == (31, [], [])
        await world.env.sleep(RUN_EVERY)

    await asyncio.sleep(0.3)
    assert world.sendgrid.requests == []
    with pytest.raises(RPCError):
        await world.env.client.get_workflow_handle(world.alert_id).describe()


async def test_recovery_ends_the_episode_and_a_later_burn_opens_a_new_one(world: World) -> None:
    now = await world.env.get_current_time()
    world.outcomes = period(now, good=1, bad=9, within=timedelta(minutes=20), policy=world.policy)
    assert (await world.run_monitor()).burning == [OBJECTIVE]
    await world.wait_for_emails("slo-burning", 1)
    handle = world.env.client.get_workflow_handle(world.alert_id)
    first_run = (await handle.describe()).run_id

    # Seven hours on, every alert window is past the bad period: the monitor signals
    # ``recovered``, and the episode (well past its minimum length) closes with a notice.
    for _ in range(7):
        await world.env.sleep(timedelta(hours=1))
    recovered = await world.run_monitor()
    assert (recovered.burning, recovered.recovered) == ([], [OBJECTIVE])
    await handle.result()
    (notice,) = await world.wait_for_emails("slo-recovered", 1)
    assert notice["subject"].endswith(f"{OBJECTIVE}: recovered")

    # Still not burning: nothing runs to signal any more.
    assert (await world.run_monitor()).recovered == []

    # A new bad period: a new episode, a new alert.
    now = await world.env.get_current_time()
    world.outcomes += period(now, good=0, bad=6, within=timedelta(minutes=20), policy=world.policy)
    assert (await world.run_monitor()).burning == [OBJECTIVE]
    alerts = await world.wait_for_emails("slo-burning", 2)
    assert len(alerts) == 2
    second_run = (await handle.describe()).run_id
    assert second_run != first_run
    keys = [a["custom_args"]["idempotency_key"] for a in alerts]
    assert keys == [f"{world.alert_id}/{run}/burning" for run in (first_run, second_run)]


async def test_a_burn_that_flickers_within_the_short_window_stays_one_episode(
    world: World,
) -> None:
    now = await world.env.get_current_time()
    bad = period(now, good=0, bad=8, within=timedelta(minutes=20), policy=world.policy)
    world.outcomes = list(bad)
    assert (await world.run_monitor()).burning == [OBJECTIVE]
    await world.wait_for_emails("slo-burning", 1)
    handle = world.env.client.get_workflow_handle(world.alert_id)
    episode = (await handle.describe()).run_id

    # A run sees no events at all (say, visibility lagging): ``recovered``. Within the
    # episode's minimum length the burn is back, so the episode stays open.
    world.outcomes = []
    assert (await world.run_monitor()).recovered == [OBJECTIVE]
    world.outcomes = list(bad)
    await world.env.sleep(timedelta(minutes=1))
    assert (await world.run_monitor()).burning == [OBJECTIVE]
    await world.env.sleep(RUN_EVERY)
    assert (await world.run_monitor()).burning == [OBJECTIVE]

    await asyncio.sleep(0.3)
    assert len(world.emails("slo-burning")) == 1
    assert world.emails("slo-recovered") == []
    description = await handle.describe()
    assert description.run_id == episode
    assert description.status == WorkflowExecutionStatus.RUNNING
