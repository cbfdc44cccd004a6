"""On a real dev server: the schedules install idempotently, and the monitor and the weekly
report read real visibility (tickets seeded with known outcomes in their memo)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.slo import SloActivities
from activities.slo_email import build_prepared_sender
from activities.slo_models import SloMonitorInput, WeeklySloReportInput
from escalations.cli.main import main as cli_main
from escalations.client import schedules
from policies.loader import default_policy_dir
from reports.visibility import TicketFilter, read_outcomes
from tests.e2e.processes import DevServer
from tests.slo.outcomes import period
from workflows import search_attributes as sa
from workflows.slo_alert import SloBudgetAlert
from workflows.slo_monitor import SloMonitor
from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome
from workflows.weekly_report import WeeklySloReport


@workflow.defn(name="TicketEscalation")
class SeededTicket:
    """Stands in for a closed ticket: its outcome is in the memo it was started with."""

    @workflow.run
    async def run(self, ticket_id: str) -> str:
        return ticket_id


async def test_install_twice_creates_then_leaves_unchanged(client: Client) -> None:
    policy = f"slo-{uuid.uuid4().hex[:8]}"
    queue = f"slo-{uuid.uuid4()}"
    # The weekly report schedule is one per namespace: start from none, as a fresh one has.
    await _delete_if_present(client, schedules.WEEKLY_REPORT_ID)

    first = await schedules.install(client, task_queue=queue, policies=[policy])
    assert first == [(f"slo-monitor-{policy}", "created"), ("slo-weekly-report", "created")]
    second = await schedules.install(client, task_queue=queue, policies=[policy])
    assert second == [(f"slo-monitor-{policy}", "unchanged"), ("slo-weekly-report", "unchanged")]

    monitor = client.get_schedule_handle(f"slo-monitor-{policy}")
    described = await monitor.describe()
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=5)]
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("SloMonitor", queue)
    (arg,) = await client.data_converter.decode(action.args, [SloMonitorInput])
    assert arg == SloMonitorInput(policy=policy)

    # An operator pauses the monitor; a later install with a new interval updates the spec
    # and keeps it paused.
    await monitor.pause(note="maintenance")
    third = await schedules.install(
        client, task_queue=queue, policies=[policy], every=timedelta(minutes=10)
    )
    assert third == [(f"slo-monitor-{policy}", "updated"), ("slo-weekly-report", "unchanged")]
    described = await monitor.describe()
    assert described.schedule.spec.intervals[0].every == timedelta(minutes=10)
    assert described.schedule.state.paused
    assert described.schedule.state.note == "maintenance"

    weekly = await client.get_schedule_handle(schedules.WEEKLY_REPORT_ID).describe()
    (calendar,) = weekly.schedule.spec.calendars
    assert [r.start for r in calendar.day_of_week] == [1]  # Monday (Temporal: 0 = Sunday)
    assert ([r.start for r in calendar.hour], [r.start for r in calendar.minute]) == ([8], [0])
    moved = await schedules.install(
        client,
        task_queue=queue,
        policies=[policy],
        every=timedelta(minutes=10),
        weekly_at=schedules.parse_weekly_at("fri 17:30"),
        time_zone="Europe/Paris",
    )
    assert moved == [(f"slo-monitor-{policy}", "unchanged"), ("slo-weekly-report", "updated")]
    weekly = await client.get_schedule_handle(schedules.WEEKLY_REPORT_ID).describe()
    assert weekly.schedule.spec.time_zone_name == "Europe/Paris"
    assert weekly.info.next_action_times[0].astimezone().weekday() in (4, 5)

    await monitor.delete()
    await client.get_schedule_handle(schedules.WEEKLY_REPORT_ID).delete()


def test_weekly_at_is_parsed_or_refused_with_the_form() -> None:
    assert str(schedules.parse_weekly_at("Monday 8:05")) == "mon 08:05"
    for bad in ("mon", "8:00", "xyz 08:00", "mon 24:00", "mon 08:60"):
        with pytest.raises(ValueError, match=r"e\.g\. 'mon 08:00'|not a time of day"):
            schedules.parse_weekly_at(bad)


@dataclass
class Seeded:
    client: Client
    policy: str
    task_queue: str
    outbox: Path

    def emails(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found


@pytest.fixture
async def seeded(client: Client, tmp_path: Path) -> AsyncIterator[Seeded]:
    policy = f"slo-{uuid.uuid4().hex[:8]}"
    text = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
    (tmp_path / f"{policy}.yaml").write_text(
        text.replace("name: default", f"name: {policy}", 1), encoding="utf-8"
    )
    world = Seeded(client, policy, f"slo-{uuid.uuid4()}", tmp_path / "outbox")
    sender = build_prepared_sender(None, None, "escalations@example.com", world.outbox)
    activities = SloActivities(client, tmp_path, sender)
    async with Worker(
        client,
        task_queue=world.task_queue,
        workflows=[SeededTicket, SloMonitor, SloBudgetAlert, WeeklySloReport],
        # As the service's worker runs them (worker.worker_tuning): the sandbox would
        # otherwise re-import this test module, and with it the activities, per workflow.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
        activities=[
            activities.evaluate_slo,
            activities.open_slo_alert,
            activities.close_slo_alert,
            activities.send_slo_alert,
            activities.send_weekly_report,
        ],
    ):
        yield world
        alert = client.get_workflow_handle(f"slo-alert-{policy}-P1-first_response")
        with contextlib.suppress(RPCError):  # none was started by this test
            await alert.terminate("test finished")


async def _seed(world: Seeded, outcomes: list[TicketOutcome], now: datetime) -> None:
    for outcome in outcomes:
        await world.client.execute_workflow(
            SeededTicket.run,
            outcome.ticket_id,
            id=f"ticket-{outcome.ticket_id}",
            task_queue=world.task_queue,
            memo={OUTCOME_MEMO: outcome},
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.POLICY, outcome.policy),
                    SearchAttributePair(sa.OPENED_AT, outcome.opened_at),
                    SearchAttributePair(sa.PRIORITY, outcome.priority),
                ]
            ),
        )
    # Visibility is eventually consistent: wait until every seeded ticket is listed.
    selection = TicketFilter(now - timedelta(days=1), now, policies=(world.policy,))
    for _ in range(100):
        if len(await read_outcomes(world.client, selection)) == len(outcomes):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("seeded tickets did not show up in visibility")


async def test_monitor_reads_visibility_and_alerts_once(seeded: Seeded) -> None:
    now = datetime.now(UTC)
    await _seed(seeded, period(now, good=2, bad=8, policy=seeded.policy), now)

    results = [
        await seeded.client.execute_workflow(
            SloMonitor.run,
            SloMonitorInput(policy=seeded.policy),
            id=f"slo-monitor-{seeded.policy}-{uuid.uuid4()}",
            task_queue=seeded.task_queue,
        )
        for _ in range(3)
    ]
    assert [r.tickets for r in results] == [10, 10, 10]
    assert [r.burning for r in results] == [["P1-first_response"]] * 3
    assert [r.opened for r in results] == [["P1-first_response"], [], []]
    for _ in range(100):
        if seeded.emails():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    (alert,) = seeded.emails()
    assert "P1-first_response: error budget burning 16.0x" in alert["Subject"]
    assert alert["To"] == "support-manager@example.com, vp-support@example.com"


async def test_weekly_report_emails_the_html_report(seeded: Seeded) -> None:
    now = datetime.now(UTC)
    await _seed(seeded, period(now, good=5, bad=1, policy=seeded.policy), now)
    result = await seeded.client.execute_workflow(
        WeeklySloReport.run,
        WeeklySloReportInput(policies=[seeded.policy], to=["ops@example.com"]),
        id=f"slo-weekly-report-{uuid.uuid4()}",
        task_queue=seeded.task_queue,
    )
    assert (result.tickets, result.recipients, result.provider) == (
        6,
        ["ops@example.com"],
        "outbox",
    )
    (report,) = seeded.emails()
    assert "Weekly report" in report["Subject"]
    html = report.get_body(("html",))
    assert html is not None
    page = html.get_content()
    assert page.startswith("<!DOCTYPE html>")
    assert "P1" in page


async def _delete_if_present(client: Client, schedule_id: str) -> None:
    with contextlib.suppress(RPCError):  # not there: nothing to delete
        await client.get_schedule_handle(schedule_id).delete()


async def test_cli_install_then_show(
    dev_server: DevServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = f"slo-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("ESCALATIONS_TASK_QUEUE", f"slo-{uuid.uuid4()}")
    client = await dev_server.wait_ready()
    await _delete_if_present(client, schedules.WEEKLY_REPORT_ID)
    install = ["schedules", "install", "--policy", policy, "--to", "ops@example.com"]

    # The CLI runs its own event loop: run it off this test's loop, as a shell would.
    assert await asyncio.to_thread(cli_main, install) == 0
    assert await asyncio.to_thread(cli_main, install) == 0
    first, second = capsys.readouterr().out.split("inspect:")[:2]
    assert f"slo-monitor-{policy}: created" in first
    assert "slo-weekly-report: created" in first
    assert f"slo-monitor-{policy}: unchanged" in second

    assert await asyncio.to_thread(cli_main, ["schedules", "show"]) == 0
    shown = capsys.readouterr().out
    assert f"slo-monitor-{policy}: SloMonitor, every 5m, active" in shown
    assert "slo-weekly-report: WeeklySloReport, mon 08:00 UTC, active" in shown

    assert await asyncio.to_thread(cli_main, ["schedules", "install", "--weekly-at", "noon"]) == 2
    assert "give a weekday and a 24-hour time" in capsys.readouterr().err
    assert await asyncio.to_thread(cli_main, ["schedules", "install", "--time-zone", "Mars/X"]) == 2
    assert "'Mars/X' is not an IANA time zone" in capsys.readouterr().err

    await client.get_schedule_handle(f"slo-monitor-{policy}").delete()
    await client.get_schedule_handle(schedules.WEEKLY_REPORT_ID).delete()
