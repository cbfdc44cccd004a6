"""Running sums of a report's figures: per group, per bottleneck, and the objectives they meet.

:mod:`reports.figures` makes one pass over the tickets and counts each into its tallies; a
tally then gives its group's figures. Every sum of floats is exact (``math.fsum``) and every
distribution sorts its values, so no figure depends on the order tickets were counted in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from policies.model import ClockName, Objective, Policy
from reports.report_model import Attainment, Bottleneck, Csat, GroupFigures, Pauses
from reports.stats import Distribution
from reports.ticket_facts import CLOCKS, TicketFacts


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``; None when there is no whole."""
    return part / whole if whole else None


Ident = tuple[str, str]
"""An objective as figures name it: (policy, objective key)."""
CLOCK_NAMES = tuple(clock.value for clock in ClockName)
"""Breaches are tallied per clock in this order (the order of every ``breaches`` dict)."""


class Objectives:
    """The objectives of each (policy, priority) in ``policies``, looked up once each."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        self.policies = policies
        self._found: dict[tuple[str, str], list[tuple[Ident, int]]] = {}
        self.by_ident: dict[Ident, Objective] = {}

    def of(self, policy_name: str, priority: str) -> list[tuple[Ident, int]]:
        """(ident, index of its clock in :data:`CLOCKS`) of each objective of the policy for
        ``priority``."""
        found = self._found.get((policy_name, priority))
        if found is None:
            found = []
            policy = self.policies.get(policy_name)
            if policy is not None:
                for objective in policy.service_levels.objectives:
                    if objective.priority == priority:
                        ident = (policy.name, objective.key)
                        self.by_ident[ident] = objective
                        found.append((ident, CLOCKS.index(objective.clock)))
            self._found[(policy_name, priority)] = found
        return found


class Tally:
    """Running sums of one group's figures, one ticket at a time."""

    __slots__ = (
        "answered",
        "breaches",
        "escalations",
        "first",
        "met",
        "opened",
        "paused",
        "reopened",
        "resolution",
        "resolved",
        "scores",
    )

    def __init__(self) -> None:
        self.opened = self.resolved = self.reopened = self.answered = 0
        self.breaches = [0, 0, 0]
        self.escalations: dict[str, int] = {}
        self.scores: list[int] = []
        self.paused: list[float] = []
        self.first: list[float] = []
        self.resolution: list[float] = []
        self.met: dict[Ident, list[int]] = {}

    def add(self, ticket: Ticket) -> None:
        """Count one ticket in."""
        facts = ticket.facts
        self.opened += 1
        breaches = self.breaches
        b = ticket.breaches
        breaches[0] += b[0]
        breaches[1] += b[1]
        breaches[2] += b[2]
        if facts.escalations:
            escalations = self.escalations
            for level, count in facts.escalations.items():
                escalations[level] = escalations.get(level, 0) + count
        if facts.resolved:
            self.resolved += 1
            self.answered += facts.csat is not None
        if facts.csat is not None:
            self.scores.append(facts.csat)
        if facts.reopened:
            self.reopened += 1
        self.paused.append(facts.paused_seconds)
        if ticket.first_response is not None:
            self.first.append(ticket.first_response)
        if ticket.resolution is not None:
            self.resolution.append(ticket.resolution)
        for ident, within in ticket.met:
            tally = self.met.get(ident)
            if tally is None:
                tally = self.met[ident] = [0, 0]
            tally[0] += 1
            tally[1] += within

    def merge(self, other: Tally) -> None:
        """Add ``other``'s tickets (none of them counted here already)."""
        self.opened += other.opened
        self.resolved += other.resolved
        self.reopened += other.reopened
        self.answered += other.answered
        self.breaches = [a + b for a, b in zip(self.breaches, other.breaches, strict=True)]
        for level, count in other.escalations.items():
            self.escalations[level] = self.escalations.get(level, 0) + count
        self.scores += other.scores
        self.paused += other.paused
        self.first += other.first
        self.resolution += other.resolution
        for ident, (measured, met) in other.met.items():
            tally = self.met.setdefault(ident, [0, 0])
            tally[0] += measured
            tally[1] += met

    def figures(self, group: str, objectives: Objectives) -> GroupFigures:
        """The group's figures. Every sum of floats is exact (``math.fsum``) and every
        distribution sorts its values, so no figure depends on the order tickets came in."""
        paused_total = math.fsum(self.paused)
        return GroupFigures(
            group=group,
            opened=self.opened,
            resolved=self.resolved,
            reopened=self.reopened,
            first_response=Distribution.of(self.first),
            resolution=Distribution.of(self.resolution),
            attainment=[self._attainment(i, objectives.by_ident[i]) for i in sorted(self.met)],
            breaches=dict(zip(CLOCK_NAMES, self.breaches, strict=True)),
            escalations=dict(sorted(self.escalations.items())),
            paused=Pauses(
                tickets=sum(1 for p in self.paused if p > 0),
                total_seconds=paused_total,
                mean_seconds=ratio(paused_total, len(self.paused)),
            ),
            csat=Csat(
                responses=len(self.scores),
                mean=ratio(sum(self.scores), len(self.scores)),
                response_rate=ratio(self.answered, self.resolved),
            ),
        )

    def _attainment(self, ident: Ident, objective: Objective) -> Attainment:
        measured, met = self.met[ident]
        missed = measured - met
        allowed = objective.error_budget * measured
        return Attainment(
            policy=ident[0],
            key=objective.key,
            priority=objective.priority,
            clock=objective.clock,
            objective=objective.objective,
            measured=measured,
            met=met,
            missed=missed,
            attainment=ratio(met, measured),
            allowed_misses=allowed,
            error_budget_left=None if not measured else 1 - missed / allowed,
        )


class Breaches:
    """Running sums of one bottleneck (a team, priority or level)."""

    __slots__ = ("breached", "by_clock", "escalations", "tickets")

    def __init__(self) -> None:
        self.tickets = self.breached = self.escalations = 0
        self.by_clock = [0, 0, 0]

    def add(self, breaches: tuple[int, int, int], escalations: int) -> None:
        """Count one ticket in, with the escalations that count for this bottleneck."""
        self.tickets += 1
        by_clock = self.by_clock
        by_clock[0] += breaches[0]
        by_clock[1] += breaches[1]
        by_clock[2] += breaches[2]
        self.breached += any(breaches)
        self.escalations += escalations

    def row(self, name: str) -> Bottleneck:
        """The bottleneck's figures."""
        return Bottleneck(
            name=name,
            tickets=self.tickets,
            breaches=sum(self.by_clock),
            breached_tickets=self.breached,
            breach_rate=self.breached / self.tickets,
            escalations=self.escalations,
            breaches_by_clock=dict(zip(CLOCK_NAMES, self.by_clock, strict=True)),
        )


def ranked(bottlenecks: dict[str, Breaches]) -> list[Bottleneck]:
    rows = [b.row(name) for name, b in bottlenecks.items()]
    rows.sort(key=lambda r: (-r.breaches, -r.breach_rate, r.name))
    return rows


@dataclass(slots=True)
class Ticket:
    """What the tallies need of one ticket beyond its facts, worked out once per report."""

    facts: TicketFacts
    breaches: tuple[int, int, int]
    """Per clock, in :data:`CLOCK_NAMES` order: 0 or 1, and for next reply the late replies."""
    first_response: float | None
    """Business seconds of the first-response clock, if it stopped; resolution likewise."""
    resolution: float | None
    met: list[tuple[Ident, bool]]
    """Each objective of the ticket's policy and priority whose clock stopped: within target?"""
