"""``policy simulate`` agrees with the workflow: each scenario runs through ``TicketEscalation``
on the time-skipping server and through :func:`escalations.procedure.simulation.simulate`, and
both must book the same firings (level, repeat, part, recipients, quiet-hours release) at the
same instants after the opening.

Both open the ticket at the same ``opened_at`` (the server's time when the test opens it).
Events that carry an ``at`` (acknowledge, resolve) reach the workflow with their exact time;
the others (pause, resume, impact) apply when the update arrives, a few milliseconds after the
instant the test skipped to, so instants are compared within ``JITTER``. The scenarios keep
those events where the jitter counts nothing (a pause at lunch) or only moves the levels they
trigger, and no threshold near the end of a scenario, where the two would race.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import WorkflowHandle

from escalations.procedure.scenario import Scenario, ScenarioEvent, parse_event, parse_when
from escalations.procedure.simulation import Simulation, simulate
from policies.loader import default_policy_dir, load_named_policy, read_policy_file
from policies.model import Policy
from tests.workflows.conftest import TEST_POLICIES, Harness
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    ChangePriorityRequest,
    PauseRequest,
    ResolveRequest,
    ResumeRequest,
    TicketStatus,
    UpdateImpactRequest,
)

NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"
MONDAY, TUESDAY = 0, 1
AGENT = "agent@example.com"
JITTER = timedelta(seconds=5)
# Reached by the workflow's notices (the fake SendGrid, or the outbox for channels).
DELIVERED = {"sent", "written", "pending"}

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


@dataclass(frozen=True)
class Seen:
    """One firing (one part of it) as either side booked it, timed from the opening."""

    fired: timedelta
    due: timedelta
    recipients: frozenset[str]
    held_until: datetime | None
    delivery: str


Key = tuple[str, int, int, int]
"""``(level, repeat, cycle, part)``."""


def from_workflow(status: TicketStatus) -> dict[Key, Seen]:
    seen: dict[Key, Seen] = {}
    for r in status.escalations:
        key = (r.level, r.repeat, r.cycle, r.part)
        earlier = seen.get(key)
        delivery = "sent" if r.delivery.status in DELIVERED else r.delivery.status
        seen[key] = Seen(
            fired=r.fired_at - status.opened_at,
            due=r.due_at - status.opened_at,
            recipients=frozenset(r.recipients) | (earlier.recipients if earlier else frozenset()),
            held_until=r.held_until,
            delivery=delivery,
        )
    return seen


def from_simulation(sim: Simulation) -> dict[Key, Seen]:
    return {
        (f.level, f.repeat, f.cycle, f.part): Seen(
            fired=f.at - sim.opened_at,
            due=f.due_at - sim.opened_at,
            recipients=frozenset(n.address for n in f.recipients),
            held_until=f.held_until,
            delivery=f.delivery,
        )
        for f in sim.firings
    }


def assert_agree(status: TicketStatus, sim: Simulation) -> None:
    ran, simulated = from_workflow(status), from_simulation(sim)
    assert status.opened_at == sim.opened_at
    assert sorted(ran) == sorted(simulated), "the same levels fire, as often, in the same parts"
    for key, seen in simulated.items():
        other = ran[key]
        assert other.recipients == seen.recipients, key
        assert other.held_until == seen.held_until, key
        assert other.delivery == seen.delivery, key
        assert abs(other.fired - seen.fired) <= JITTER, (key, other.fired, seen.fired)
        assert abs(other.due - seen.due) <= JITTER, (key, other.due, seen.due)
    assert status.state.value == sim.final_state
    assert status.priority == sim.final_priority


async def send(handle: Handle, event: ScenarioEvent) -> None:
    """The update a person (or a helpdesk) would send for ``event``."""
    match event.kind:
        case "ack":
            await handle.execute_update(
                TicketEscalation.acknowledge, AcknowledgeRequest(by=AGENT, at=event.at)
            )
        case "resolve":
            await handle.execute_update(
                TicketEscalation.resolve, ResolveRequest(by=AGENT, at=event.at)
            )
        case "pause":
            await handle.execute_update(
                TicketEscalation.pause, PauseRequest(reason="waiting on the customer")
            )
        case "resume":
            await handle.execute_update(TicketEscalation.resume, ResumeRequest())
        case "impact":
            await handle.execute_update(
                TicketEscalation.update_impact,
                UpdateImpactRequest(affected_users=event.affected_users),
            )
        case "priority":
            assert event.priority is not None
            await handle.execute_update(
                TicketEscalation.change_priority, ChangePriorityRequest(priority=event.priority)
            )
        case _:
            raise AssertionError(f"no update for {event.kind} in this test")


async def run_both(
    harness: Harness,
    policy: Policy,
    priority: str,
    events: Iterable[str],
    until: str,
    opened_at: datetime | None = None,
) -> tuple[TicketStatus, Simulation]:
    """Open the ticket at ``opened_at`` (default: the server's now, never later) on the server
    and in a simulation, play ``events`` on both, and stop both at ``until``."""
    opened_at = opened_at or await harness.now()
    scenario = Scenario(
        priority=priority,
        opened_at=opened_at,
        assignee=AGENT,
        events=[parse_event(text, opened_at) for text in events],
        until=parse_when(until, opened_at),
    )
    sim = simulate(policy, scenario)
    assert scenario.until is not None
    # No threshold races the end of the scenario.
    assert all(abs(f.at - scenario.until) > timedelta(minutes=1) for f in sim.firings)
    handle = await harness.open(
        priority=priority,
        policy=policy.name,
        team=scenario.team,
        assignee=AGENT,
        opened_at=opened_at,
    )
    for event in sorted(scenario.events, key=lambda e: e.at):
        await harness.advance_to(event.at)
        await send(handle, event)
    await harness.advance_to(scenario.until)
    status = await handle.query(TicketEscalation.status)
    # A resolved ticket takes no refreshing update; it changes no more anyway.
    return (status if status.resolved_at else await harness.refresh(handle)), sim


def on_the_minute(moment: datetime) -> datetime:
    """The wall time ``skip_to`` aimed at: it lands a few milliseconds after it, and a ticket
    opened then would miss a business second at the end of the day."""
    return moment.replace(second=0, microsecond=0)


def default_policy() -> Policy:
    return load_named_policy(default_policy_dir(), "default")


async def test_default_policy_p2_without_events(harness: Harness) -> None:
    status, sim = await run_both(harness, default_policy(), "P2", [], "+12h")
    assert_agree(status, sim)
    # The whole ladder, with every repeat of the major incident.
    assert [f.level for f in sim.firings][:4] == [
        "response-at-risk",
        "response-breached",
        "resolution-at-risk",
        "resolution-breached",
    ]
    assert [f.repeat for f in sim.firings if f.level == "major-incident"] == [0, 1, 2, 3]


async def test_p3_on_support_hours_with_ack_and_a_pause(harness: Harness) -> None:
    # Opened Tuesday 09:00 in New York. The pause and the resume fall in the lunch hour, so
    # the moment the update lands counts nothing; the ack carries its exact time.
    opened_at = on_the_minute(await harness.skip_to(TUESDAY, 9, 0, NEW_YORK))
    events = ["pause at +3h30m", "resume at +1d3h45m", "ack at +1d4h30m"]
    status, sim = await run_both(harness, default_policy(), "P3", events, "+3d8h30m", opened_at)
    assert_agree(status, sim)
    assert [e.outcome for e in sim.events] == ["applied"] * 3
    assert len(sim.firings) >= 2


async def test_major_incident_repeats_until_resolved(harness: Harness) -> None:
    events = ["impact 600 at +5m", "resolve at +1h20m"]
    status, sim = await run_both(harness, default_policy(), "P1", events, "+2h")
    assert_agree(status, sim)
    incident = [f for f in sim.firings if f.level == "major-incident"]
    assert [f.repeat for f in incident] == [0, 1, 2]
    assert [f.at - incident[0].at for f in incident] == [timedelta(minutes=m) for m in (0, 30, 60)]
    assert sim.stopped == "resolved"


async def test_quiet_hours_hold_the_managers_notice(harness: Harness) -> None:
    # Policy hours: P2 counts 16h on the Berlin office calendar (09:00-17:00), so a ticket
    # opened Monday 09:00 breaches resolution Tuesday 17:00, as the manager's day in Berlin
    # ends; their notice waits until Wednesday 09:00, the lead's goes at once.
    opened_at = on_the_minute(await harness.skip_to(MONDAY, 9, 0, BERLIN))
    policy = read_policy_file(TEST_POLICIES / "hours.yaml")
    status, sim = await run_both(harness, policy, "P2", [], "+2d1h", opened_at)
    assert_agree(status, sim)
    held = [f for f in sim.firings if f.held_until is not None]
    assert [(f.level, f.part, [n.role for n in f.recipients]) for f in held] == [
        ("resolution-breached", 1, ["manager"])
    ]
    assert held[0].delivery == "sent"  # released on Wednesday morning
