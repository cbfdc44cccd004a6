"""Example timelines for the procedure page: what a ticket of each plan and priority goes
through when nobody responds or resolves it.

The instants come from :func:`escalations.procedure.simulation.simulate`, which drives the
workflow's own state and firing code over virtual time; this module only chooses the scenarios
and puts the result in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from escalations.procedure.scenario import EXAMPLE_ASSIGNEE, Scenario, ScenarioError
from escalations.procedure.simulation import SimulatedFiring, Simulation, simulate
from escalations.procedure.words import (
    CLOCK_WORDS,
    channel_words,
    clock_parts,
    duration,
    long_date,
    moment,
    target_words,
    threshold_note,
    zone_words,
)
from policies.calendar import CalendarSet, policy_calendars
from policies.ladder import clock_threshold
from policies.model import ClockName, Level, Plan, Policy
from policies.plan_match import DEFAULT_PLAN
from policies.working_days import resolve_target
from policies.zones import zone

_ANY_TEAM = "support"
"""The example ticket's team when none is asked for (one without overrides is chosen)."""


@dataclass(frozen=True)
class TimelineStep:
    """One moment of an example timeline."""

    at: datetime
    """In the timeline's display zone."""
    event: str
    level: bool
    """Whether ``event`` is a level firing (else the opening or a breach)."""
    why: str = ""
    notifies: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    """Recipients whose notices wait for quiet hours, each with its release time."""
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExampleTimeline:
    """The timeline of one example ticket."""

    plan: str
    priority: str
    steps: tuple[TimelineStep, ...]
    ending: str


@dataclass(frozen=True)
class Examples:
    """Every example timeline, the sentence that introduces them, and why a plan has none."""

    intro: str
    timelines: tuple[ExampleTimeline, ...]
    missing: tuple[str, ...] = ()


def example_timelines(policy: Policy, opened_at: datetime, team: str | None) -> Examples:
    """A timeline for each plan and priority of ``policy``, tickets opening at ``opened_at``
    for ``team`` (or a team without overrides) and then left alone."""
    ticket_team = team if team is not None else _team_without_overrides(policy)
    calendars = policy_calendars(policy)
    timelines: list[ExampleTimeline] = []
    missing: list[str] = []
    shown_in = None
    for plan in [*policy.plans, None]:
        name = DEFAULT_PLAN if plan is None else plan.name
        for priority in policy.targets:
            scenario = Scenario(priority=priority, opened_at=opened_at, team=ticket_team)
            if plan is not None:
                scenario = scenario.model_copy(update=_facts(plan))
            try:
                simulation = simulate(policy, scenario)
            except ScenarioError as err:  # a plan that tests what a ticket cannot carry
                missing.append(f"No example for plan {name}: {err}")
                break
            if simulation.plan != name:
                # Plans are chosen without regard to priority: no priority would show it.
                missing.append(
                    f"No example for plan {name}: a ticket that meets its conditions, opened "
                    f"then, takes plan {simulation.plan}"
                    + ("" if plan is None or not _dated(plan) else f" ({_dated(plan)})")
                )
                break
            shown_in = shown_in or simulation.zone
            timelines.append(_timeline(policy, simulation, calendars, shown_in))
    local = opened_at.astimezone(zone(shown_in or "UTC"))
    whose = f"team {ticket_team}" if team is not None else "a team without its own contacts"
    intro = (
        f"What happens to a ticket of each priority opened on {long_date(local.date())} at "
        f"{local:%H:%M} for {whose} when nobody responds to it or resolves it, as the workflow "
        f"runs it. Times are {zone_words(shown_in or 'UTC')}; the assignee is whoever the "
        "ticket is assigned to."
    )
    return Examples(intro, tuple(timelines), tuple(missing))


def _dated(plan: Plan) -> str:
    if plan.valid_from and plan.valid_until:
        return f"it is valid from {plan.valid_from} to {plan.valid_until}"
    if plan.valid_from:
        return f"it is valid from {plan.valid_from}"
    if plan.valid_until:
        return f"it is valid until {plan.valid_until}"
    return ""


def _team_without_overrides(policy: Policy) -> str:
    name, number = _ANY_TEAM, 1
    while name in policy.teams:
        number += 1
        name = f"{_ANY_TEAM}-{number}"
    return name


def _facts(plan: Plan) -> dict[str, object]:
    """Scenario fields that make a ticket match ``plan``: the first value of each condition."""
    wanted = plan.when.conditions()
    update: dict[str, object] = {}
    if "customer" in wanted:
        update["customer"] = wanted.pop("customer")[0]
    if "tags" in wanted:
        update["tags"] = [wanted.pop("tags")[0]]
    update["attributes"] = {name: values[0] for name, values in wanted.items()}
    return update


def _timeline(
    policy: Policy, simulation: Simulation, calendars: CalendarSet, shown_in: str
) -> ExampleTimeline:
    local = zone(shown_in)
    opened = simulation.opened_at.astimezone(local)
    steps = [TimelineStep(opened, "opened", level=False)]
    targets = policy.plan_targets(simulation.plan)[simulation.scenario.priority]
    steps += [
        TimelineStep(
            breach.at.astimezone(local),
            f"{CLOCK_WORDS[ClockName(breach.clock)]} target breached",
            level=False,
            why=(
                f"{target_words(targets.for_clock(ClockName(breach.clock)))} on the "
                f"{targets.calendar} calendar"
            ),
        )
        for breach in simulation.breaches
    ]
    firings: dict[tuple[str, int, int], list[SimulatedFiring]] = {}
    for firing in simulation.firings:
        firings.setdefault(firing.key, []).append(firing)
    levels = {level.name: level for level in policy.levels}
    for parts in firings.values():
        level = levels[parts[0].level]
        steps.append(_firing(policy, simulation, calendars, level, parts, local))
    # Breaches first at the same instant: the target runs out, then the level it triggers.
    steps.sort(key=lambda step: (step.at, step.level))
    return ExampleTimeline(
        simulation.plan, simulation.scenario.priority, tuple(steps), _ending(simulation)
    )


def _ending(simulation: Simulation) -> str:
    if simulation.stopped == "horizon":
        return (
            f"The example stops {duration(simulation.ended_at - simulation.opened_at)} after "
            "the opening; levels still due later are not shown."
        )
    return "Nothing further escalates."


def _why(
    policy: Policy, simulation: Simulation, calendars: CalendarSet, level: Level, due: datetime
) -> str:
    """Which part of ``level``'s trigger made it due at ``due``, against the ticket's target."""
    targets = policy.plan_targets(simulation.plan)[simulation.scenario.priority]
    calendar = calendars[targets.calendar]
    for part in clock_parts(level.when):
        if part.clock is ClockName.NEXT_REPLY:
            continue  # the example ticket never has a reply cycle running
        target = targets.for_clock(part.clock)
        # The example's clocks run without a pause from the opening, so a threshold is
        # reached exactly the business time after it.
        business = resolve_target(target, calendar, simulation.opened_at)
        if target is None or business is None:
            continue
        if calendar.add(simulation.opened_at, clock_threshold(part, business)) == due:
            return threshold_note(part, target)
    return "its trigger holds"


def _who(policy: Policy, address: str, channel: str, rotation: str | None) -> str:
    if address == EXAMPLE_ASSIGNEE:
        return "the assignee"
    shown = address
    if channel in policy.channels:
        shown = channel_words(channel, policy.channels[channel])
    return f"{shown} (on call in {rotation})" if rotation else shown


def _firing(
    policy: Policy,
    simulation: Simulation,
    calendars: CalendarSet,
    level: Level,
    parts: list[SimulatedFiring],
    local: tzinfo,
) -> TimelineStep:
    first = parts[0]
    if first.repeat:
        assert level.repeat is not None  # only a repeating level fires a repeat
        why = f"repeat {first.repeat} of {level.repeat.times}, every {duration(level.repeat.every)}"
    else:
        why = _why(policy, simulation, calendars, level, first.due_at)
    notifies, held = [], []
    for part in parts:
        who = [_who(policy, n.address, n.channel, n.rotation) for n in part.recipients]
        if part.held_until is None:
            notifies += who
        else:
            release = moment(part.held_until.astimezone(local))
            held += [f"{name} until {release}" for name in who]
    return TimelineStep(
        first.at.astimezone(local),
        level.name,
        level=True,
        why=why,
        notifies=tuple(notifies),
        held=tuple(held),
        actions=tuple(action for part in parts for action in part.actions),
    )
