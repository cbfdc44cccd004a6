"""``simulate``: the timeline a ticket would go through under a policy, before it ships.

Not a second implementation of the rules. The ticket is a
:class:`~workflows.ticket_state.TicketState` opened as the ``TicketEscalation`` workflow opens
it; levels fire through :func:`workflows.ticket_firing.fire_due_levels`, as the workflow fires
them; each event passes the workflow's own update preconditions
(:mod:`workflows.ticket_preconditions`) and calls the same state method as its update handler.
Only time is virtual: where the workflow sleeps on a durable timer until
:meth:`~workflows.ticket_state.TicketState.next_wake`, the simulation jumps there.
``tests/workflows/test_simulate_agrees.py`` runs the same scenarios through the workflow on the
time-skipping server and checks that both give the same firings.

An event at the same instant as a threshold is applied first, as if it had reached the ticket a
moment before its timer fired.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ValidationError

from activities.models import TicketFields
from escalations.procedure.scenario import Scenario, ScenarioError, ScenarioEvent
from policies.calendar import CalendarSet, policy_calendars
from policies.model import Policy
from workflows import ticket_preconditions as rules
from workflows.ticket_firing import Firing, fire_due_levels
from workflows.ticket_messages import ClockStatus, TicketInput, build_status
from workflows.ticket_state import TicketState

HORIZON = timedelta(days=30)
"""How far a scenario without ``until`` is followed at most."""
MAX_STEPS = 10_000
"""Wake-ups at most: far more than any policy's ladder needs (each is a threshold or an event)."""
NOTICE_KEY = "simulation"
SIMULATED_TICKET = "SIM-1"
ACTOR = "simulation"
"""Who acknowledges, replies and resolves in a simulated ticket."""

Stop = Literal["until", "resolved", "idle", "horizon"]
Delivery = Literal["sent", "held", "cancelled", "skipped"]
_DELIVERY: dict[str, Delivery] = {
    # A notice the workflow would now send: in a simulation, it is sent.
    "pending": "sent",
    "held": "held",
    "cancelled": "cancelled",
    "skipped": "skipped",
}


class Notice(BaseModel):
    """One recipient of a firing: the role that reached them, and how."""

    role: str
    address: str
    """An email address, or the name of one of the policy's channels."""
    channel: str
    """``email`` or the channel's name."""
    rotation: str | None = None
    """The on-call rotation whose member ``address`` was at the time, if any."""


class SimulatedFiring(BaseModel):
    """One firing of a level (``part`` 0), or one group of its recipients held for quiet hours
    (``part`` 1, 2, ...), as the ticket's escalation records book it."""

    at: datetime
    """When the level fired."""
    due_at: datetime
    level: str
    repeat: int
    cycle: int = 0
    """The next-reply cycle, for levels on the next-reply clock."""
    part: int = 0
    reason: str
    actions: list[str]
    recipients: list[Notice]
    held_until: datetime | None = None
    """When quiet hours end and the notices go out (None: at once)."""
    delivery: Delivery
    """``sent`` (at ``at``, or at ``held_until``), ``held`` (still waiting when the timeline
    stopped), ``cancelled`` (resolved before quiet hours ended), ``skipped`` (nobody to tell)."""
    detail: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """Which firing of which level this is: ``(level, repeat, cycle)``."""
        return (self.level, self.repeat, self.cycle)


class EventOutcome(BaseModel):
    """What became of one scripted event."""

    event: ScenarioEvent
    outcome: Literal["applied", "refused", "not reached"]
    detail: str | None = None
    """The ticket's refusal (the workflow's own message), or what the event changed."""


class Breach(BaseModel):
    """A clock reached its target while running."""

    clock: str
    at: datetime


class Simulation(BaseModel):
    """A scenario's timeline under one policy."""

    scenario: Scenario
    policy: str
    policy_version: str
    plan: str
    """The SLA plan the ticket opened on."""
    zone: str
    """The zone the policy's calendars keep time in, for showing instants."""
    opened_at: datetime
    ended_at: datetime
    stopped: Stop
    """``until`` reached, ``resolved``, ``idle`` (nothing left to fire or happen), or the
    ``horizon`` of a scenario without ``until``."""
    firings: list[SimulatedFiring]
    events: list[EventOutcome]
    breaches: list[Breach]
    clocks: dict[str, ClockStatus]
    """Each clock as of ``ended_at``: its due instant, and whether it was met or breached."""
    final_state: str
    final_priority: str
    final_plan: str


def simulate(policy: Policy, scenario: Scenario) -> Simulation:
    """Run ``scenario`` under ``policy`` over virtual time.

    Raises:
        ScenarioError: the ticket could not open under ``policy`` (a priority it does not
            define, a field a ticket may not have), or an event or ``until`` lies before the
            opening.
    """
    ticket = _ticket_input(policy, scenario)
    opened_at = scenario.opened_at.astimezone(UTC)
    events = sorted(scenario.events, key=lambda event: event.at)
    for event in events:
        if event.at < opened_at:
            raise ScenarioError(
                f"events: {event.text or event.describe()!r} at {event.at.isoformat()} is "
                f"before the ticket opened ({opened_at.isoformat()})"
            )
    until = scenario.until.astimezone(UTC) if scenario.until else None
    if until is not None and until <= opened_at:
        raise ScenarioError(
            f"until: {until.isoformat()} is not after the opening ({opened_at.isoformat()})"
        )
    fields = TicketFields.model_validate(ticket.model_dump(include=set(TicketFields.model_fields)))
    state = TicketState.open(
        fields,
        policy,
        opened_at,
        notice_key=NOTICE_KEY,
        tags=ticket.tags,
        attributes=ticket.attributes,
    )
    run = _Run(state, policy_calendars(policy))
    plan, zone = state.plan, _zone(state, run.calendars)
    last, stopped = run.play(opened_at, events, until or opened_at + HORIZON, until is None)
    # With an until, that is the instant the reader asked about, even if the ticket fell
    # quiet before it: its clocks are shown as they stand then.
    ended_at = until or last
    return Simulation(
        scenario=scenario,
        policy=policy.name,
        policy_version=policy.version,
        plan=plan,
        zone=zone,
        opened_at=opened_at,
        ended_at=ended_at,
        stopped=stopped,
        firings=[f for firing in run.firings for f in _described(state, firing)],
        events=run.outcomes,
        breaches=run.breaches,
        clocks=build_status(state, ended_at, run.calendars).clocks,
        final_state=state.state.value,
        final_priority=state.fields.priority,
        final_plan=state.plan,
    )


class _Run:
    """One ticket driven over virtual time the way the workflow's main loop drives it."""

    def __init__(self, state: TicketState, calendars: CalendarSet) -> None:
        self.state = state
        self.calendars = calendars
        self.firings: list[Firing] = []
        self.outcomes: list[EventOutcome] = []
        self.breaches: list[Breach] = []

    def play(
        self, now: datetime, events: Iterable[ScenarioEvent], end: datetime, horizon: bool
    ) -> tuple[datetime, Stop]:
        """From the opening at ``now`` until ``end``; returns where and why it stopped."""
        pending = deque(events)
        for _ in range(MAX_STEPS):
            # The workflow's loop body: fire what is due, release what quiet hours held.
            self.firings += fire_due_levels(self.state, now, self.calendars)
            self.state.release_held(now)
            wake = self.state.next_wake(now, self.calendars)
            times = [wake.at] if wake is not None else []
            times += [pending[0].at] if pending else []
            if not times:
                return now, "resolved" if self.state.resolved else "idle"
            later = min(times)
            if later > end:
                self.outcomes += [EventOutcome(event=e, outcome="not reached") for e in pending]
                if self.state.resolved:
                    return end, "resolved"
                return end, "horizon" if horizon else "until"
            self._note_breaches(now, later)
            now = later
            while pending and pending[0].at <= now:
                self._apply(pending.popleft(), now)
        raise ScenarioError(
            f"the timeline needs more than {MAX_STEPS} steps; give an earlier until"
        )

    def _note_breaches(self, now: datetime, later: datetime) -> None:
        # Nothing changes the clocks between two wake-ups, and a running clock's due instant
        # is always one of them (next_wake includes it), so a breach falls exactly on ``later``.
        for name, clock in self.state.clocks.items():
            due = clock.due_at(self.calendars) if clock.running else None
            if due is not None and now < due <= later:
                self.breaches.append(Breach(clock=name.value, at=due))

    def _apply(self, event: ScenarioEvent, now: datetime) -> None:
        state = self.state
        plan = state.plan
        problem, change = _update(state, event, now, self.calendars)
        if problem is not None:
            self.outcomes.append(EventOutcome(event=event, outcome="refused", detail=problem))
            return
        change()
        # What every update handler ends with (the workflow's _mark_changed).
        state.restart_reply_levels(now, self.calendars)
        detail = f"now on SLA plan {state.plan}" if state.plan != plan else None
        self.outcomes.append(EventOutcome(event=event, outcome="applied", detail=detail))


def _update(
    state: TicketState, event: ScenarioEvent, now: datetime, calendars: CalendarSet
) -> tuple[str | None, Callable[[], object]]:
    """The workflow's update for ``event`` at ``now``: its precondition's refusal (None when it
    holds) and the state change its handler makes."""
    match event.kind:
        case "ack":
            problem = rules.timed_event_problem(state, "acknowledge", None, now)
            return problem, lambda: state.acknowledge(ACTOR, now)
        case "resolve":
            return rules.resolve_problem(state, None, now), lambda: state.resolve(ACTOR, now, None)
        case "pause":
            reason = "waiting on the customer"
            return rules.pause_problem(state), lambda: state.pause(reason, now)
        case "resume":
            return rules.resume_problem(state), lambda: state.resume(now)
        case "priority":
            priority = event.priority or ""
            problem = rules.change_priority_problem(state, priority)
            return problem, lambda: state.change_priority(priority, now)
        case "customer-reply":
            problem = rules.customer_replied_problem(state, None, now)
            return problem, lambda: state.customer_replied(now, now, calendars)
        case "agent-reply":
            problem = rules.timed_event_problem(state, "agent_replied", None, now)
            return problem, lambda: state.agent_replied(ACTOR, now, calendars)
        case "impact" | "critical-service":
            users = event.affected_users
            critical = True if event.kind == "critical-service" else None
            problem = rules.resolved_problem(state, "update_impact")
            return problem, lambda: state.update_impact(users, critical, now)
        case "attributes":
            changes: dict[str, str | None] = dict(event.attributes)
            problem = rules.update_attributes_problem(state, changes)
            return problem, lambda: state.update_attributes(None, changes, now)
        case "reassign" | "assign":
            problem = rules.resolved_problem(state, "reassign")
            return problem, lambda: state.reassign(event.assignee, event.team, now)


def _ticket_input(policy: Policy, scenario: Scenario) -> TicketInput:
    """The ticket as the workflow would receive it, checked as the workflow checks it."""
    try:
        ticket = TicketInput(
            ticket_id=SIMULATED_TICKET,
            title="Simulated ticket",
            priority=scenario.priority,
            team=scenario.team,
            customer=scenario.customer,
            requester="requester@example.com",
            assignee=scenario.assignee,
            affected_users=scenario.affected_users,
            critical_service=scenario.critical_service,
            policy=policy.name,
            opened_at=scenario.opened_at,
            tags=scenario.tags,
            attributes=scenario.attributes,
        )
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        raise ScenarioError(f"{where}: {message}") from None
    if scenario.priority not in policy.targets:
        raise ScenarioError(
            f"priority: {scenario.priority!r} is not defined by policy {policy.name!r} "
            f"v{policy.version}; defined: {', '.join(policy.targets)}"
        )
    return ticket


def _zone(state: TicketState, calendars: CalendarSet) -> str:
    """The ticket's own calendar's zone; for a 24x7 priority, the first zone the policy's
    calendars name; UTC when none does."""
    own = calendars[state.targets()[state.fields.priority].calendar].timezone
    zones = [own] + [calendars[name].timezone for name in state.policy.calendars]
    return next((name for name in zones if name != "UTC"), "UTC")


def _described(state: TicketState, firing: Firing) -> list[SimulatedFiring]:
    """``firing``'s records, as they stand now (released, cancelled), one entry per part."""
    reached = {r.address.lower(): r for r in firing.recipients}
    parts: dict[int, list[int]] = {}
    for index, record in enumerate(firing.records, start=firing.first):
        parts.setdefault(record.part, []).append(index)
    described = []
    for part, indexes in parts.items():
        records = [state.escalations[i] for i in indexes]
        first = records[0]
        notices = []
        for record in records:
            for address in record.recipients:
                found = reached.get(address.lower())
                notices.append(
                    Notice(
                        role=found.role if found else "",
                        address=address,
                        channel=record.channel,
                        rotation=found.rotation if found else None,
                    )
                )
        status = first.delivery.status
        described.append(
            SimulatedFiring(
                at=firing.at,
                due_at=first.due_at,
                level=first.level,
                repeat=first.repeat,
                cycle=first.cycle,
                part=part,
                reason=first.reason,
                actions=[action for record in records for action in record.actions],
                recipients=notices,
                held_until=first.held_until,
                delivery=_DELIVERY[status],
                detail=first.delivery.detail,
            )
        )
    return described
