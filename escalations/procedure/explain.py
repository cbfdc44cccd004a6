"""A policy as an escalation procedure: the structure the Markdown and HTML pages render.

Everything here is read from the policy (and, for the example timelines, computed by
:mod:`escalations.procedure.example_timeline` through the workflow's own pure code); the
renderers only lay it out and escape it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escalations.procedure.example_timeline import Examples, example_timelines
from escalations.procedure.words import (
    CLOCK_WORDS,
    calendar_words,
    channel_words,
    condition_words,
    duration,
    listing,
    long_date,
    moment,
    rotation_words,
    target_words,
)
from policies.model import BUILTIN_ROLES, ClockName, Level, Plan, Policy, QuietHours, Targets
from policies.plan_match import DEFAULT_PLAN
from policies.rotations import Rotation, on_call
from policies.zones import zone

CHECKLIST = (
    "Acknowledge: acknowledge the ticket (its first response, which ends the first-response "
    "escalations) or answer the notice where it reached you, so that everyone can see someone "
    "has it.",
    "Update the ticket: write down what you found and what happens next, and keep its impact "
    "(affected users, critical service) current: the escalation ladder reads those fields.",
    "Hand over: if you cannot act now, reassign the ticket to someone who can and tell them "
    "directly. A notice is never left unanswered.",
    "Resolve only when the customer's problem is solved; they can still reopen it during the "
    "feedback window.",
)
"""What anyone notified does, whatever their role."""


class ExplainError(ValueError):
    """A request the policy cannot answer (such as a team it has no overrides for); the message
    starts with the flag."""


@dataclass(frozen=True)
class TargetRow:
    """One priority's targets in a plan."""

    priority: str
    first_response: str
    resolution: str
    next_reply: str
    calendar: str


@dataclass(frozen=True)
class PlanView:
    """An SLA plan: which tickets it takes and their targets."""

    name: str
    description: str
    applies_to: str
    rows: tuple[TargetRow, ...]


@dataclass(frozen=True)
class NamedWords:
    """A named part of the policy (a calendar, a rotation) in words."""

    name: str
    words: str


@dataclass(frozen=True)
class ContactView:
    """One point of contact of a level."""

    role: str
    address: str
    how: str
    override: str | None = None
    """The team whose override this entry comes from, if any."""
    quiet: str | None = None
    """When their notices may wait, if ever."""


@dataclass(frozen=True)
class LevelView:
    """One rung of the ladder: its trigger, who hears, and what else it does."""

    name: str
    trigger: str
    priorities: str
    contacts: tuple[ContactView, ...]
    repeat: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Procedure:
    """The whole page: everything a member of staff needs to know about one policy."""

    name: str
    version: str
    description: str
    team: str | None
    plans: tuple[PlanView, ...]
    calendars: tuple[NamedWords, ...]
    rotations: tuple[NamedWords, ...]
    levels: tuple[LevelView, ...]
    quiet_hours: tuple[str, ...]
    team_overrides: tuple[str, ...]
    feedback: str
    objectives: tuple[str, ...]
    checklist: tuple[str, ...]
    examples: Examples


def explain(policy: Policy, opened_at: datetime, team: str | None = None) -> Procedure:
    """The procedure ``policy`` describes, with contacts as ``team`` sees them (its overrides
    applied) and example timelines for tickets opened at ``opened_at``.

    Raises:
        ExplainError: ``team`` is given but the policy has no overrides for it.
    """
    if team is not None and team not in policy.teams:
        known = ", ".join(policy.teams) or "none"
        raise ExplainError(
            f"--team: policy {policy.name} has no overrides for team {team[:80]!r}; teams with "
            f"overrides: {known} (without --team every team's overrides are listed)"
        )
    return Procedure(
        name=policy.name,
        version=policy.version,
        description=policy.description,
        team=team,
        plans=tuple(_plans(policy)),
        calendars=tuple(_calendars(policy)),
        rotations=tuple(
            NamedWords(name, _rotation(rotation, opened_at))
            for name, rotation in policy.rotations.items()
        ),
        levels=tuple(_level(policy, level, team) for level in policy.levels),
        quiet_hours=tuple(_quiet_hours(policy)),
        team_overrides=tuple(_team_overrides(policy, team)),
        feedback=(
            f"A resolved ticket takes feedback (CSAT) and may be reopened for "
            f"{duration(policy.feedback_window)}; then it closes. A reopened ticket's clocks "
            "carry on from the business time they had counted."
        ),
        objectives=tuple(
            f"{o.priority} {CLOCK_WORDS[o.clock]}: {o.objective:g}% within target over a "
            f"rolling {duration(o.window)}"
            for o in policy.service_levels.objectives
        ),
        checklist=CHECKLIST,
        examples=example_timelines(policy, opened_at, team),
    )


def _rows(targets: dict[str, Targets]) -> list[TargetRow]:
    return [
        TargetRow(
            priority=priority,
            first_response=target_words(t.first_response),
            resolution=target_words(t.resolution),
            next_reply=target_words(t.for_clock(ClockName.NEXT_REPLY)),
            calendar=t.calendar,
        )
        for priority, t in targets.items()
    ]


def _plan_conditions(plan: Plan) -> str:
    parts = []
    for name, values in plan.when.conditions().items():
        if name == "tags":
            parts.append(f"a tag is {listing(values, 'or')}")
        else:
            parts.append(f"{name.replace('_', ' ')} is {listing(values, 'or')}")
    if plan.valid_from is not None:
        parts.append(f"opened on or after {long_date(plan.valid_from)} (UTC)")
    if plan.valid_until is not None:
        parts.append(f"opened on or before {long_date(plan.valid_until)} (UTC)")
    return "Tickets where " + "; and ".join(parts)


def _plans(policy: Policy) -> list[PlanView]:
    views = [
        PlanView(plan.name, plan.description, _plan_conditions(plan), tuple(_rows(plan.targets)))
        for plan in policy.plans
    ]
    views.append(
        PlanView(
            DEFAULT_PLAN,
            "",
            "Every ticket no other plan takes" if policy.plans else "Every ticket",
            tuple(_rows(policy.targets)),
        )
    )
    return views


def _calendars(policy: Policy) -> list[NamedWords]:
    used = [t.calendar for t in policy.targets.values()]
    used += [t.calendar for plan in policy.plans for t in plan.targets.values()]
    used += [quiet.calendar for quiet in policy.quiet_hours.values()]
    used += list(policy.calendars)
    names = list(dict.fromkeys(used))  # first use first, each once
    return [NamedWords(name, calendar_words(name, policy.calendars.get(name))) for name in names]


def _quiet_note(quiet: QuietHours) -> str:
    note = f"notices wait while {quiet.calendar} is closed"
    if quiet.page_any_time:
        note += f", except for {listing(quiet.page_any_time)} tickets, which notify at once"
    return note


def _rotation(rotation: Rotation, opened_at: datetime) -> str:
    at = opened_at.astimezone(zone(rotation.timezone))
    return (
        f"{rotation_words(rotation)}. On call at {moment(at)} (the examples' opening): "
        f"{on_call(rotation, opened_at)}."
    )


def _how(policy: Policy, entry: str) -> str:
    if entry in policy.rotations:
        return f"on-call rotation {entry}: whoever is on call when the level fires"
    channel = policy.channels.get(entry)
    return "email" if channel is None else channel_words(entry, channel)


def _contacts(policy: Policy, level: Level, team: str | None) -> list[ContactView]:
    overrides = policy.teams.get(team, {}) if team is not None else {}
    views = []
    for role in level.notify:
        if role in BUILTIN_ROLES:
            quiet = policy.quiet_hours.get(role)
            views.append(
                ContactView(
                    role,
                    "the ticket's current assignee",
                    "email",
                    quiet=None if quiet is None else _quiet_note(quiet),
                )
            )
            continue
        source = team if role in overrides else None
        for entry in overrides.get(role, policy.contacts.get(role, [])):
            rotation = entry if entry in policy.rotations else None
            quiet = policy.quiet_hours_for(role, entry, rotation)
            views.append(
                ContactView(
                    role,
                    entry,
                    _how(policy, entry),
                    override=source,
                    quiet=None if quiet is None else _quiet_note(quiet),
                )
            )
    return views


def _actions(level: Level) -> list[str]:
    actions = []
    if level.set_priority is not None:
        actions.append(
            f"Sets the ticket's priority to {level.set_priority}: its clocks take that "
            "priority's targets, keeping the business time already counted."
        )
    if level.reassign is not None:
        who = [f"team {level.reassign.team}"] if level.reassign.team else []
        who += [level.reassign.assignee] if level.reassign.assignee else []
        actions.append(f"Reassigns the ticket to {' and '.join(who)}.")
    return actions


def _level(policy: Policy, level: Level, team: str | None) -> LevelView:
    repeat = None
    if level.repeat is not None:
        repeat = (
            f"Notifies again every {duration(level.repeat.every)} while the trigger still "
            f"holds, at most {level.repeat.times} more times ({level.repeat.times + 1} notices "
            "in all)."
        )
    return LevelView(
        name=level.name,
        trigger=condition_words(level.when),
        priorities=(
            "Every priority"
            if level.priorities is None
            else f"{listing(level.priorities)} tickets only"
        ),
        contacts=tuple(_contacts(policy, level, team)),
        repeat=repeat,
        actions=tuple(_actions(level)),
    )


def _quiet_hours(policy: Policy) -> list[str]:
    lines = []
    for who, quiet in policy.quiet_hours.items():
        kind = "address"
        if who in policy.contacts or who in BUILTIN_ROLES:
            kind = "role"
        elif who in policy.channels:
            kind = "channel"
        elif who in policy.rotations:
            kind = "rotation"
        lines.append(
            f"{who} ({kind}): notified only while {quiet.calendar} is open; notices outside "
            "it wait until it opens"
            + (
                f", except for {listing(quiet.page_any_time)} tickets, which notify at once, "
                "at any hour"
                if quiet.page_any_time
                else ""
            )
            + ". The escalation itself happens on time; only the delivery waits."
        )
    return lines


def _team_overrides(policy: Policy, team: str | None) -> list[str]:
    lines = []
    for name, roles in policy.teams.items():
        if team is not None and name != team:
            continue
        for role, entries in roles.items():
            shown = listing([f"{entry} ({_how(policy, entry)})" for entry in entries])
            lines.append(f"Team {name}: {role} is {shown} instead of the policy's contacts")
    return lines
