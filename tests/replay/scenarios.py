"""The tickets ``record.py`` runs, one script each; every script drives one ticket to its end.

A script gets a :class:`Recording`: the server it runs on, the fake SendGrid every notice goes
to (scripted answers are used first-in, first-out) and a way to open its ticket. Scripts check
that the ticket did what their docstring promises, so a re-recording cannot quietly record
something else.
"""

from __future__ import annotations

import asyncio
import time as wall_clock
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from escalations.testing.fake_sendgrid import FakeSendGrid
from workflows import ticket_messages as messages
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketStatus

Handle = WorkflowHandle[TicketEscalation, TicketStatus]
Opener = Callable[..., Awaitable[Handle]]

# Real seconds to wait for something the worker does at once (a notice, a new run).
WAIT_SECONDS = 30.0


class ScenarioFailed(RuntimeError):
    """A scenario's ticket did not do what the scenario records."""


@dataclass(frozen=True)
class Recording:
    """What a scenario script works with."""

    env: WorkflowEnvironment
    """The server; on the dev server ``env.sleep`` is a real sleep."""
    fake: FakeSendGrid
    open_ticket: Opener
    """Opens the scenario's ticket; keyword arguments override ``TicketInput`` fields."""
    policy_dir: Path
    """The worker's policy files (a copy): a scenario may publish a new version."""


Scenario = Callable[[Recording], Awaitable[Handle]]


async def every_update(rec: Recording) -> Handle:
    """A P2 ticket that fires levels, takes every update, repeats, is resolved, reopened,
    resolved again and rated, and closes when its feedback window ends."""
    env = rec.env
    handle = await rec.open_ticket(priority="P2")
    await env.sleep(timedelta(minutes=50))  # response-at-risk (75% of 1h)
    await handle.execute_update(
        TicketEscalation.acknowledge, messages.AcknowledgeRequest(by="agent")
    )
    await handle.execute_update(
        TicketEscalation.pause, messages.PauseRequest(reason="waiting on Acme")
    )
    await env.sleep(timedelta(hours=2))
    await handle.execute_update(TicketEscalation.resume, messages.ResumeRequest())
    await handle.execute_update(
        TicketEscalation.change_priority, messages.ChangePriorityRequest(priority="P1")
    )
    await handle.execute_update(
        TicketEscalation.update_impact, messages.UpdateImpactRequest(affected_users=900)
    )
    await env.sleep(timedelta(minutes=70))  # major-incident and a repeat
    await handle.execute_update(
        TicketEscalation.reassign,
        messages.ReassignRequest(team="platform", assignee="sre@example.com"),
    )
    await handle.execute_update(
        TicketEscalation.resolve, messages.ResolveRequest(by="sre", note="fixed")
    )
    # The feedback window: reopened an hour later, resolved again, rated; then it closes.
    await env.sleep(timedelta(hours=1))
    await handle.execute_update(
        TicketEscalation.reopen,
        messages.ReopenRequest(by="buyer@acme.example", reason="still failing"),
    )
    await env.sleep(timedelta(minutes=30))
    await handle.execute_update(
        TicketEscalation.resolve, messages.ResolveRequest(by="sre", note="again")
    )
    # Once the channels heard of the resolve, the feedback window's timer runs; the rating
    # arrives while it does (and leaves it armed).
    await env.sleep(timedelta(minutes=10))
    await handle.execute_update(
        TicketEscalation.feedback, messages.FeedbackRequest(csat=4, comment="slow, but fixed")
    )
    return handle


async def replies(rec: Recording) -> Handle:
    """Next-reply cycles on the test policy ``hours``: one answered, one overdue and repeated,
    a customer reply that resumes a paused ticket."""
    env = rec.env
    handle = await rec.open_ticket(priority="P1", policy="hours")
    await handle.execute_update(
        TicketEscalation.agent_replied, messages.AgentRepliedRequest(by="agent")
    )
    await handle.execute_update(
        TicketEscalation.customer_replied, messages.CustomerRepliedRequest()
    )
    await env.sleep(timedelta(minutes=20))
    await handle.execute_update(
        TicketEscalation.agent_replied, messages.AgentRepliedRequest(by="agent")
    )
    await handle.execute_update(
        TicketEscalation.customer_replied, messages.CustomerRepliedRequest()
    )
    await env.sleep(timedelta(minutes=70))  # reply-overdue, then its repeat
    await env.sleep(timedelta(minutes=60))
    await handle.execute_update(
        TicketEscalation.agent_replied, messages.AgentRepliedRequest(by="agent")
    )
    await handle.execute_update(
        TicketEscalation.pause, messages.PauseRequest(reason="waiting on Acme")
    )
    await handle.execute_update(
        TicketEscalation.customer_replied, messages.CustomerRepliedRequest()
    )
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    return handle


async def quiet_hours(rec: Recording) -> Handle:
    """A business-hours ticket (policy ``hours``, P3 on New York office hours) whose resolution
    breaches at once at 12:30 New York, when the Berlin manager is off: the manager's notice is
    held until Berlin opens and then sent; a priority change crosses calendars meanwhile."""
    env = rec.env
    now = await _skip_to_weekday_noon(env, ZoneInfo("America/New_York"))
    handle = await rec.open_ticket(priority="P3", policy="hours", opened_at=now - timedelta(days=9))
    for _ in range(24):  # until the held notice goes out at 09:00 Berlin
        await env.sleep(timedelta(hours=1))
    await handle.execute_update(
        TicketEscalation.change_priority, messages.ChangePriorityRequest(priority="P2")
    )
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    return handle


async def failed_delivery(rec: Recording) -> Handle:
    """A P2 ticket whose first notice SendGrid rejects for good (HTTP 400: recorded as failed,
    and the ticket keeps escalating) and whose second goes out after a 500 and a 429."""
    env, fake = rec.env, rec.fake
    first_request = len(fake.requests)
    fake.answer_next(400)  # response-at-risk: SendGridRejected, non-retryable
    fake.answer_next(500)  # response-breached, attempt 1: SendGridUnavailable
    # Attempt 2: SendGridRateLimited, retried after the reset (at least a second).
    fake.answer_next(429, headers={"X-RateLimit-Reset": str(int(wall_clock.time()) + 1)})
    handle = await rec.open_ticket(priority="P2")
    await env.sleep(timedelta(minutes=50))  # response-at-risk (75% of 1h)
    status = await _until(handle, lambda s: _delivered(s, 1), "the at-risk notice to finish")
    _expect(status.escalations[0].delivery.status == "failed", "the at-risk notice failed", status)
    await env.sleep(timedelta(minutes=15))  # response-breached
    status = await _until(handle, lambda s: _delivered(s, 2), "the breach notice to finish")
    _expect(status.escalations[1].delivery.status == "sent", "the breach notice was sent", status)
    answered = [request.status for request in fake.requests[first_request:]]
    _expect(answered == [400, 500, 429, 202], "SendGrid answered 400, 500, 429, 202", answered)
    await handle.execute_update(
        TicketEscalation.acknowledge, messages.AcknowledgeRequest(by="agent")
    )
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    return handle


async def continue_as_new(rec: Recording) -> Handle:
    """On the dev server with a low ``limit.historyCount.suggestContinueAsNew`` (real time): a
    P1 ticket on the test policy ``seconds`` repeats its breach every second until the server
    suggests continue-as-new; the continued run fires the next repeat from the state it was
    handed, then is acknowledged and resolved."""
    handle = await rec.open_ticket(priority="P1", policy="seconds")
    first_run = handle.result_run_id
    latest = rec.env.client.get_workflow_handle_for(TicketEscalation.run, handle.id)
    deadline = wall_clock.monotonic() + WAIT_SECONDS
    while (description := await latest.describe()).run_id == first_run:
        if wall_clock.monotonic() > deadline:
            raise ScenarioFailed(
                f"{handle.id} did not continue as new within {WAIT_SECONDS}s: does the dev "
                "server still honour limit.historyCount.suggestContinueAsNew?"
            )
        await asyncio.sleep(0.1)
    carried = len((await latest.query(TicketEscalation.status)).escalations)
    _expect(carried > 0, "the continued run carries the notices of the first", carried)
    await _until(latest, lambda s: _delivered(s, carried + 1), "a repeat in the continued run")
    await latest.execute_update(
        TicketEscalation.acknowledge, messages.AcknowledgeRequest(by="agent")
    )
    await latest.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    _expect(
        (await latest.describe()).run_id == description.run_id,
        "the ticket was resolved in the second run",
        description.run_id,
    )
    return handle


async def policy_migration(rec: Recording) -> Handle:
    """A P2 ticket under ``default`` v4 moved onto a v5 with longer P2 targets by
    ``migrate_policy`` after its first level; the next level fires on the new targets."""
    env = rec.env
    handle = await rec.open_ticket(priority="P2")
    await env.sleep(timedelta(minutes=50))  # response-at-risk at 45 of 60 minutes
    path = rec.policy_dir / "default.yaml"
    text = path.read_text(encoding="utf-8")
    old_p2 = "  P2: {first_response: 1h, resolution: 8h, next_reply: 2h}"
    _expect("version: 4" in text and old_p2 in text, "default.yaml at v4", "another file")
    path.write_text(
        text.replace("version: 4", "version: 5", 1).replace(
            old_p2, "  P2: {first_response: 2h, resolution: 12h, next_reply: 2h}", 1
        ),
        encoding="utf-8",
    )
    migrated = await handle.execute_update(
        TicketEscalation.migrate_policy,
        messages.MigratePolicyRequest(
            to_version="5", by="ops@example.com", reason="longer P2 targets"
        ),
    )
    _expect(migrated.policy_version == "5", "the ticket on v5", migrated.policy_version)
    await env.sleep(timedelta(minutes=75))  # 125 minutes: past the new 2h target
    status = await handle.query(TicketEscalation.status)
    breached = [
        e for e in status.escalations if e.level == "response-breached" and e.channel == "email"
    ]
    _expect(
        len(breached) == 1 and breached[0].due_at == status.opened_at + timedelta(hours=2),
        "response-breached once, at the new 2h target",
        [(e.level, e.due_at) for e in status.escalations],
    )
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    return handle


async def late_events(rec: Recording) -> Handle:
    """A P2 ticket that takes events reported late (an agent reply, a customer message written
    before a pause, a resolve), and whose major-incident repeat skips the grid points that fell
    while it was paused."""
    env = rec.env
    handle = await rec.open_ticket(priority="P2")
    await env.sleep(timedelta(minutes=10))
    await handle.execute_update(
        TicketEscalation.acknowledge, messages.AcknowledgeRequest(by="agent")
    )
    await env.sleep(timedelta(minutes=10))
    await handle.execute_update(
        TicketEscalation.customer_replied, messages.CustomerRepliedRequest()
    )
    await env.sleep(timedelta(minutes=5))
    impact = await handle.execute_update(
        TicketEscalation.update_impact, messages.UpdateImpactRequest(affected_users=900)
    )
    opened = impact.opened_at
    await env.sleep(timedelta(minutes=10))
    await handle.execute_update(
        TicketEscalation.pause, messages.PauseRequest(reason="waiting on Acme")
    )
    await env.sleep(timedelta(minutes=40))
    await handle.execute_update(
        TicketEscalation.agent_replied,
        messages.AgentRepliedRequest(by="agent", at=opened + timedelta(minutes=30)),
    )
    late = await handle.execute_update(
        TicketEscalation.customer_replied,
        messages.CustomerRepliedRequest(at=opened + timedelta(minutes=32)),
    )
    _expect(
        late.state == "paused", "a message written before the pause leaves it paused", late.state
    )
    await env.sleep(timedelta(minutes=5))
    resumed = await handle.execute_update(TicketEscalation.resume, messages.ResumeRequest())
    await env.sleep(timedelta(minutes=10))
    resolved = await handle.execute_update(
        TicketEscalation.resolve,
        messages.ResolveRequest(by="agent", at=resumed.opened_at + timedelta(minutes=88)),
    )
    # The email notices: the executive's PagerDuty notices are records of their own.
    major = [
        e for e in resolved.escalations if e.level == "major-incident" and e.channel == "email"
    ]
    first_due = major[0].due_at if major else None
    _expect(
        [e.repeat for e in major] == [0, 1]
        and first_due is not None
        and major[1].due_at == first_due + timedelta(minutes=60),
        "major-incident at the impact update, then its repeat on the first grid point after "
        "the resume (the one that fell while paused skipped)",
        [(e.repeat, e.due_at) for e in major],
    )
    reply = resolved.clocks["next_reply"]
    _expect(
        resolved.next_reply_cycles == 2 and reply.stopped_at is not None,
        "a second next-reply cycle from the late message, ended by the resolve",
        (resolved.next_reply_cycles, reply),
    )
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


def _delivered(status: TicketStatus, count: int) -> bool:
    """At least ``count`` notices booked, and none of them still on its way."""
    return len(status.escalations) >= count and all(
        record.delivery.status not in ("pending", "held") for record in status.escalations
    )


async def _until(handle: Handle, done: Callable[[TicketStatus], bool], what: str) -> TicketStatus:
    """Query the ticket (in real time, without skipping time) until ``done`` holds."""
    deadline = wall_clock.monotonic() + WAIT_SECONDS
    while not done(status := await handle.query(TicketEscalation.status)):
        if wall_clock.monotonic() > deadline:
            raise ScenarioFailed(f"{handle.id}: waited {WAIT_SECONDS}s for {what}: {status}")
        await asyncio.sleep(0.1)
    return status


def _expect(holds: bool, what: str, seen: object) -> None:
    if not holds:
        raise ScenarioFailed(f"expected {what}; got {seen}")


async def channels(rec: Recording) -> Handle:
    """A P2 support ticket under ``default`` whose team lead hears through Slack (written to
    the outbox, which answers as Slack does): the at-risk level posts the thread's root, the
    breach replies in it, and the acknowledge, a pause, the resume and the resolve rewrite the
    root."""
    env = rec.env
    handle = await rec.open_ticket(priority="P2", team="support")
    await env.sleep(timedelta(minutes=50))  # response-at-risk (75% of 1h)
    await env.sleep(timedelta(minutes=15))  # response-breached
    status = await _until(handle, lambda s: _delivered(s, 4), "both levels' notices")
    slack = [e for e in status.escalations if e.channel == "slack-support"]
    thread = status.channels.get("slack-support")
    _expect(
        len(slack) == 2 and thread is not None and thread.thread is not None,
        "two Slack notices and the thread kept",
        [(e.level, e.channel, e.delivery.status) for e in status.escalations],
    )
    await handle.execute_update(TicketEscalation.acknowledge, messages.AcknowledgeRequest(by="a"))
    await handle.execute_update(TicketEscalation.pause, messages.PauseRequest(reason="logs"))
    await env.sleep(timedelta(minutes=5))
    await handle.execute_update(TicketEscalation.resume, messages.ResumeRequest())
    await env.sleep(timedelta(minutes=5))
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="a"))
    told = await _until(
        handle,
        lambda s: (
            (kept := s.channels.get("slack-support")) is not None
            and kept.last_event == "resolved"
            and kept.last_event_status is not None
        ),
        "Slack told of the resolve",
    )
    _expect(
        told.channels["slack-support"].last_event_status == "written",
        "the root rewritten (to the outbox)",
        told.channels,
    )
    return handle


async def helpdesk_reports(rec: Recording) -> Handle:
    """A P2 ticket driven by a helpdesk's reports arriving out of order: the resume before its
    pause, the customer's reply after the solve, then a reopening and a second solve."""
    env = rec.env
    handle = await rec.open_ticket(priority="P2")
    opened = (await handle.query(TicketEscalation.status)).opened_at
    await env.sleep(timedelta(minutes=50))

    def report(event: str, minutes: int) -> messages.ReportEventRequest:
        return messages.ReportEventRequest.model_validate(
            {
                "event": event,
                "at": opened + timedelta(minutes=minutes),
                "by": "agent@example.com",
                "source": "zendesk",
            }
        )

    for event, minutes in (
        ("agent_replied", 5),
        ("active", 30),
        ("solved", 45),
        ("waiting", 10),
        ("customer_replied", 25),
    ):
        status = await handle.execute_update(
            TicketEscalation.report_event, report(event, minutes), id=f"zd:{event}"
        )
    _expect(
        status.state == "resolved" and status.clocks["resolution"].elapsed == timedelta(minutes=30),
        "resolved, having paused from minute 10 to the customer's reply at 25",
        (status.state, status.clocks["resolution"].elapsed),
    )
    await env.sleep(timedelta(minutes=10))
    reopened = await handle.execute_update(
        TicketEscalation.report_event, report("active", 55), id="zd:reopened"
    )
    _expect(reopened.state == "acknowledged", "reopened by an active report", reopened.state)
    await env.sleep(timedelta(minutes=20))
    await handle.execute_update(
        TicketEscalation.report_event, report("solved", 70), id="zd:solved-2"
    )
    return handle


async def sla_plans(rec: Recording) -> Handle:
    """A P2 ticket under the shipped ``tiered`` policy, opened on its ``standard`` plan by a tag
    (P2 response 2h on support hours), moved onto ``gold`` (30m, 24x7) by ``update_attributes``
    after 20 minutes; gold's response levels then fire on the time already counted."""
    env = rec.env
    handle = await rec.open_ticket(
        priority="P2", policy="tiered", tags=["standard-sla"], attributes={"region": "emea"}
    )
    opened = await handle.query(TicketEscalation.status)
    _expect(opened.plan == "standard", "opened on the standard plan", opened.plan)
    await env.sleep(timedelta(minutes=20))
    moved = await handle.execute_update(
        TicketEscalation.update_attributes,
        messages.UpdateAttributesRequest(attributes={"customer_tier": "gold"}),
    )
    _expect(moved.plan == "gold", "moved onto the gold plan", moved.plan)
    await env.sleep(timedelta(hours=1))
    status = await handle.query(TicketEscalation.status)
    fired = [e.level for e in status.escalations]
    _expect(
        "response-at-risk" in fired and "response-breached" in fired,
        "gold's response levels fired",
        fired,
    )
    await handle.execute_update(TicketEscalation.resolve, messages.ResolveRequest(by="agent"))
    return handle


TIME_SKIPPING: dict[str, Scenario] = {
    "sla-plans": sla_plans,
    "helpdesk-reports": helpdesk_reports,
    "channels": channels,
    "every-update": every_update,
    "replies": replies,
    "quiet-hours": quiet_hours,
    "failed-delivery": failed_delivery,
    "policy-migration": policy_migration,
    "late-events": late_events,
}
"""Scenarios on the time-skipping server: hours of SLA time in a moment."""

DEV_SERVER: dict[str, Scenario] = {
    "continue-as-new": continue_as_new,
}
"""Scenarios that need the dev server's dynamic config, in real time."""
