"""Random policies and updates through the real workflow, checked against a reference ladder.

Each seed (see :mod:`tests.workflows.ladder_scripts`) opens a ticket on a policy of its own and
sends it updates as they happen (no ``at``); the tickets run side by side on the time-skipping
server. Then every notice in each final status is checked against
:mod:`tests.workflows.ladder_reference`, fed the instants at which the workflow applied each
update, read from its history: the server's clock moves on by some milliseconds per request, so
the instants a test asks for are not the ones the ticket sees.

No update is sent within :data:`GUARD` of a notice the reference expects from a timer, and the
final statuses are not read then either: which came first would be a race, not a rule.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from tests.workflows.conftest import Harness
from tests.workflows.ladder_reference import Event, Notice, ladder
from tests.workflows.ladder_scripts import Script, generate, policy_document
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    AgentRepliedRequest,
    ChangePriorityRequest,
    CustomerRepliedRequest,
    PauseRequest,
    ReopenRequest,
    ResolveRequest,
    ResumeRequest,
    TicketStatus,
    UpdateImpactRequest,
)

# 40 tickets take 10-20 s on two cores; a deeper search runs `drive` with more seeds.
SEEDS = range(40)
GUARD = timedelta(seconds=3)
AGENT = "agent@example.com"

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


# -- driving -----------------------------------------------------------------------------------


@dataclass
class Drive:
    """One ticket under way: the updates applied so far (at about when they were sent)."""

    script: Script
    handle: Handle
    opened_at: datetime
    sent: list[Event] = field(default_factory=list)
    results: list[TicketStatus] = field(default_factory=list)

    def clash(self, at: datetime) -> datetime | None:
        """The latest notice the reference expects from a timer within GUARD of ``at``."""
        s = self.script
        run = ladder(s.policy, self.opened_at, s.facts, self.sent, at + GUARD)
        # A notice an update made due goes out in the update's own workflow task: no race.
        updates = {e.at for e in self.sent}
        near = [
            n.fired_at
            for n in run.notices
            if abs(n.fired_at - at) <= GUARD and n.fired_at not in updates
        ]
        return max(near) if near else None


async def _send(handle: Handle, event: Event) -> TicketStatus:
    match event.kind:
        case "pause":
            return await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="logs"))
        case "resume":
            return await handle.execute_update(TicketEscalation.resume, ResumeRequest())
        case "change_priority":
            assert event.priority is not None
            request = ChangePriorityRequest(priority=event.priority)
            return await handle.execute_update(TicketEscalation.change_priority, request)
        case "update_impact":
            impact = UpdateImpactRequest(
                affected_users=event.affected_users, critical_service=event.critical_service
            )
            return await handle.execute_update(TicketEscalation.update_impact, impact)
        case "acknowledge":
            ack = AcknowledgeRequest(by=AGENT)
            return await handle.execute_update(TicketEscalation.acknowledge, ack)
        case "customer_replied":
            message = CustomerRepliedRequest()
            return await handle.execute_update(TicketEscalation.customer_replied, message)
        case "agent_replied":
            reply = AgentRepliedRequest(by=AGENT)
            return await handle.execute_update(TicketEscalation.agent_replied, reply)
        case "resolve":
            return await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by=AGENT))
        case "reopen":
            again = ReopenRequest(by=AGENT, reason="still broken")
            return await handle.execute_update(TicketEscalation.reopen, again)


async def drive(harness: Harness, policy_dir: Path, seeds: range | list[int]) -> list[str]:
    """Run one ticket per seed side by side; returns a report per ticket that departs from
    the reference (empty: all agree)."""
    drives: list[Drive] = []
    for seed in seeds:
        script = generate(seed)
        (policy_dir / f"{script.policy.name}.yaml").write_text(policy_document(script.policy))
        handle = await harness.open(
            policy=script.policy.name,
            priority=script.facts.priority,
            affected_users=script.facts.affected_users,
            critical_service=script.facts.critical_service,
        )
        opened_at = (await handle.query(TicketEscalation.status)).opened_at
        drives.append(Drive(script, handle, opened_at))

    # The next update of each ticket, earliest first: (when, ticket).
    queue = [(d.opened_at + d.script.steps[0].gap, i) for i, d in enumerate(drives)]
    heapq.heapify(queue)
    while queue:
        at, i = heapq.heappop(queue)
        d = drives[i]
        now = await harness.advance_to(at)
        clash = d.clash(now)
        if clash is not None:
            heapq.heappush(queue, (clash + GUARD + timedelta(seconds=1), i))
            continue
        step = d.script.steps[len(d.sent)]
        d.results.append(await _send(d.handle, step.event))
        d.sent.append(_at(step.event, now))
        if len(d.sent) < len(d.script.steps):
            heapq.heappush(queue, (now + d.script.steps[len(d.sent)].gap, i))

    end = max(d.sent[-1].at + d.script.tail for d in drives)
    while clashes := [c for d in drives if (c := d.clash(end)) is not None]:
        end = max(clashes) + GUARD + timedelta(seconds=1)
    await harness.advance_to(end)
    return [r for d in drives if (r := await _check(d, end))]


def _at(event: Event, at: datetime) -> Event:
    return Event(at, event.kind, event.priority, event.affected_users, event.critical_service)


# -- checking ----------------------------------------------------------------------------------


async def _applied_at(handle: Handle) -> list[tuple[str, datetime]]:
    """Each update the workflow accepted, with its ``workflow.now()``: the start of the workflow
    task that ran it."""
    started: datetime | None = None
    applied: list[tuple[str, datetime]] = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started = event.event_time.ToDatetime(tzinfo=UTC)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attributes = event.workflow_execution_update_accepted_event_attributes
            assert started is not None
            applied.append((attributes.accepted_request.input.name, started))
    return applied


def _inconsistent(events: list[Event], results: list[TicketStatus]) -> list[str]:
    """Where an update's own result disagrees with the instant read from history."""
    problems: list[str] = []
    acknowledged: datetime | None = None
    for event, result in zip(events, results, strict=True):
        if acknowledged is None and event.kind in ("acknowledge", "agent_replied"):
            acknowledged = event.at
        if result.acknowledged_at != acknowledged:
            problems.append(f"{event.kind}: acknowledged_at {result.acknowledged_at}")
        if event.kind == "pause" and result.paused_at != event.at:
            problems.append(f"pause at {event.at}: paused_at {result.paused_at}")
        if event.kind == "resolve" and result.resolved_at != event.at:
            problems.append(f"resolve at {event.at}: resolved_at {result.resolved_at}")
        if event.kind == "reopen" and result.reopens[-1].at != event.at:
            problems.append(f"reopen at {event.at}: reopens {result.reopens}")
    return problems


async def _check(d: Drive, end: datetime) -> str | None:
    s = d.script
    status = await d.handle.query(TicketEscalation.status)
    applied = await _applied_at(d.handle)
    assert [name for name, _ in applied] == [e.kind for e in d.sent], d.script.seed
    events = [_at(e, at) for e, (_, at) in zip(d.sent, applied, strict=True)]
    assert not _inconsistent(events, d.results), (d.script.seed, _inconsistent(events, d.results))
    actual = [Notice(e.level, e.repeat, e.cycle, e.due_at, e.fired_at) for e in status.escalations]
    acted_at = {n.key: n.fired_at for n in actual}
    expected = ladder(s.policy, status.opened_at, s.facts, events, end, acted_at)

    def key(n: Notice) -> tuple[str, int, int, datetime]:
        return (n.level, n.cycle, n.repeat, n.due_at)

    problems: list[str] = []
    if sorted(map(key, actual)) != sorted(map(key, expected.notices)):
        problems.append("notices differ from the reference")
    for notice in actual:
        for start, stop in expected.not_live:
            if start <= notice.fired_at and (stop is None or notice.fired_at < stop):
                problems.append(f"{notice.level} #{notice.repeat} fired while paused or resolved")
    times = {level.name: level.times for level in s.policy.levels}
    for (level, cycle), count in Counter((n.level, n.cycle) for n in actual).items():
        if count > 1 + times[level]:
            problems.append(f"{level} sent {count} notices in cycle {cycle}")
    if not problems:
        return None
    return _report(d, status.opened_at, events, expected.notices, actual, problems)


def _report(
    d: Drive,
    opened: datetime,
    events: list[Event],
    expected: list[Notice],
    actual: list[Notice],
    problems: list[str],
) -> str:
    def notices(items: list[Notice]) -> list[str]:
        return [
            f"    {n.level} cycle {n.cycle} #{n.repeat} due +{n.due_at - opened} "
            f"fired +{n.fired_at - opened}"
            for n in sorted(items, key=lambda n: (n.fired_at, n.level))
        ]

    lines = [
        f"seed {d.script.seed}: {'; '.join(problems)}",
        f"  opened {opened.isoformat()} {d.script.facts}",
        *("  | " + line for line in policy_document(d.script.policy).splitlines()),
        *(
            f"  +{e.at - opened} {e.kind} "
            + " ".join(
                f"{k}={v}"
                for k, v in (
                    ("priority", e.priority),
                    ("affected_users", e.affected_users),
                    ("critical_service", e.critical_service),
                )
                if v is not None
            )
            for e in events
        ),
        "  workflow:",
        *notices(actual),
        "  reference:",
        *notices(expected),
    ]
    return "\n".join(lines)


async def test_generated_tickets_follow_the_reference_ladder(
    harness: Harness, tmp_path: Path
) -> None:
    # The harness copies the test policies into tmp_path/policies and loads them from there
    # when a ticket opens; each seed adds its own.
    reports = await drive(harness, tmp_path / "policies", SEEDS)
    assert not reports, "\n\n".join(reports)
