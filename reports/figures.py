"""The figures of ``escalations report``, computed from ticket outcomes: pure, no I/O.

:func:`build_report` takes the :class:`~workflows.ticket_outcome.TicketOutcome` of each ticket
(read from visibility by :mod:`reports.visibility`) and the policies they ran under, and returns
a :class:`Report`: the same figures per group and for all tickets, the bottlenecks, and the
series the HTML charts draw. Renderers (``reports/render_*.py``) only format a Report, so the
terminal table, JSON, CSV and HTML always agree. Definitions of every figure:
``docs/reporting.md``.

Every figure comes from each ticket's :class:`~reports.ticket_facts.TicketFacts`, gathered in
one pass (:class:`_Pass`, counting into :mod:`reports.tallies`); :func:`report_of_facts` takes
facts directly, as the cache of closed tickets holds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from policies.model import Policy
from reports.gc_pause import paused_gc
from reports.report_model import (
    GROUP_BY,
    Bottlenecks,
    GroupBy,
    Histogram,
    PauseExample,
    Report,
    TimelinePoint,
)
from reports.tallies import Breaches, Objectives, Tally, Ticket, ranked
from reports.ticket_facts import ClockFacts, PauseFacts, TicketFacts
from workflows.ticket_outcome import TicketOutcome

__all__ = [
    "DEFAULT_LONG_PAUSE",
    "GROUP_BY",
    "NO_LEVEL",
    "GroupBy",
    "Report",
    "build_report",
    "report_of_facts",
]

NO_LEVEL = "(none)"
"""The ``level`` group of tickets on which no level fired, so every ticket is in some group."""
TOTAL = "total"
DEFAULT_LONG_PAUSE = timedelta(hours=24)
PAUSE_EXAMPLES = 20
"""Pauses listed per pattern (the longest); the counts cover all of them."""
DAILY_UP_TO = timedelta(days=62)
"""Ranges up to this long chart attainment per day; longer ones per ISO week (from Monday)."""
HISTOGRAM_STEP = 10
HISTOGRAM_TOP = 200
"""First-response histogram: bins of 10% of the target up to 200%, then one open bin."""


_BREACHED_BIN = 100 // HISTOGRAM_STEP
"""The first histogram bin of breached clocks (100% of the target and beyond)."""
_EDGES = list(range(0, HISTOGRAM_TOP + HISTOGRAM_STEP, HISTOGRAM_STEP))


def group_keys(outcome: TicketOutcome | TicketFacts, group_by: GroupBy) -> list[str]:
    """The groups a ticket belongs to: one, or for ``level`` every level that fired."""
    if group_by == "level":
        fired = sorted(level for level, count in outcome.escalations.items() if count > 0)
        return fired or [NO_LEVEL]
    value: str = getattr(outcome, group_by)
    return [value]


def _pause_example(facts: TicketFacts, pause: PauseFacts) -> PauseExample:
    return PauseExample(
        ticket_id=facts.ticket_id,
        team=facts.team,
        priority=facts.priority,
        start=pause.start,
        seconds=pause.seconds,
        reason=pause.reason,
        after_customer_reply=pause.after_customer_reply,
    )


def _longest(examples: list[PauseExample]) -> list[PauseExample]:
    return sorted(examples, key=lambda e: (-e.seconds, e.ticket_id, e.start))[:PAUSE_EXAMPLES]


def _bucket(opened_day: int, unit: Literal["day", "week"]) -> date:
    day = date.fromordinal(opened_day)
    return day - timedelta(days=day.weekday()) if unit == "week" else day


def _histogram_bin(clock: ClockFacts, target_seconds: float) -> int:
    share = clock.business_seconds / target_seconds * 100
    # Breached means business time >= target, so a share of exactly 100% (or a float a hair
    # below it) must land in a breached bin: go by the flag at the boundary.
    index = min(int(share // HISTOGRAM_STEP), len(_EDGES) - 1)
    return max(index, _BREACHED_BIN) if clock.breached else min(index, _BREACHED_BIN - 1)


class _Pass:
    """Every figure of a report, gathered in one pass over the outcomes.

    A report of 100,000 tickets is mostly this loop, so each outcome is read once: its breaches,
    stopped times and objectives worked out once, then counted into its groups, the total, its
    team, priority and levels, the timeline, the histogram and the pause lists.
    """

    def __init__(
        self,
        group_by: GroupBy,
        policies: Mapping[str, Policy],
        unit: Literal["day", "week"],
        long_pause: timedelta,
    ) -> None:
        self.group_by, self.unit = group_by, unit
        self.long_pause = long_pause.total_seconds()
        self.objectives = Objectives(policies)
        self.groups: dict[str, Tally] = defaultdict(Tally)
        self.total = Tally()
        self.teams: dict[str, Breaches] = defaultdict(Breaches)
        self.priorities: dict[str, Breaches] = defaultdict(Breaches)
        self.levels: dict[str, Breaches] = defaultdict(Breaches)
        self.timeline: dict[tuple[date, str, str], list[int]] = {}
        self.histograms: dict[str, list[int]] = {}
        self.targets: dict[str, set[float]] = defaultdict(set)
        self.after_reply: list[PauseExample] = []
        self.long: list[PauseExample] = []
        self.policies: set[str] = set()
        self._buckets: dict[int, date] = {}

    def add(self, facts: TicketFacts) -> None:
        """Count one ticket in everywhere it belongs."""
        clocks = facts.clocks
        first, resolution = clocks[0], clocks[1]
        met = []
        for ident, index in self.objectives.of(facts.policy, facts.priority):
            clock = clocks[index]
            # A clock without a target (response-only) is measured by no objective.
            if clock is not None and clock.stopped and clock.target_seconds is not None:
                met.append((ident, not clock.breached))
        first_stopped = first is not None and first.stopped
        ticket = Ticket(
            facts=facts,
            breaches=(
                int(first is not None and first.breached),
                int(resolution is not None and resolution.breached),
                facts.next_reply_breaches,
            ),
            first_response=first.business_seconds if first is not None and first_stopped else None,
            resolution=(
                resolution.business_seconds
                if resolution is not None and resolution.stopped
                else None
            ),
            met=met,
        )
        levels = group_keys(facts, "level")
        if self.group_by == "level":
            for level in levels:
                self.groups[level].add(ticket)
            # A ticket is in several level groups: the total counts it once, on its own.
            self.total.add(ticket)
        else:
            # Every ticket is in exactly one group: the total is their sum (see report()).
            self.groups[getattr(facts, self.group_by)].add(ticket)
        self._bottlenecks(ticket, levels)
        if met:
            start = self._buckets.get(facts.opened_day)
            if start is None:
                start = self._buckets[facts.opened_day] = _bucket(facts.opened_day, self.unit)
            for (policy, key), within in met:
                tally = self.timeline.setdefault((start, policy, key), [0, 0])
                tally[0] += 1
                tally[1] += within
        target = first.target_seconds if first is not None and first_stopped else None
        if first is not None and target is not None and target > 0:
            counts = self.histograms.get(facts.priority)
            if counts is None:
                counts = self.histograms[facts.priority] = [0] * len(_EDGES)
            counts[_histogram_bin(first, target)] += 1
            self.targets[facts.priority].add(target)
        for pause in facts.pauses:
            if pause.after_customer_reply:
                self.after_reply.append(_pause_example(facts, pause))
            if pause.seconds >= self.long_pause:
                self.long.append(_pause_example(facts, pause))
        self.policies.add(facts.policy)

    def _bottlenecks(self, ticket: Ticket, levels: list[str]) -> None:
        facts, breaches = ticket.facts, ticket.breaches
        fired = sum(facts.escalations.values())
        # A team or priority literally named like the no-level group is left out too.
        if facts.team != NO_LEVEL:
            self.teams[facts.team].add(breaches, fired)
        if facts.priority != NO_LEVEL:
            self.priorities[facts.priority].add(breaches, fired)
        for level in levels:
            if level != NO_LEVEL:
                self.levels[level].add(breaches, facts.escalations.get(level, 0))

    def report(self, now: datetime, range: tuple[datetime, datetime]) -> Report:
        """The report of every ticket added."""
        if self.group_by != "level":
            for name in sorted(self.groups):
                self.total.merge(self.groups[name])
        return Report(
            generated_at=now,
            range_from=range[0],
            range_to=range[1],
            group_by=self.group_by,
            groups=[
                self.groups[name].figures(name, self.objectives) for name in sorted(self.groups)
            ],
            total=self.total.figures(TOTAL, self.objectives),
            bottlenecks=Bottlenecks(
                teams=ranked(self.teams),
                priorities=ranked(self.priorities),
                levels=ranked(self.levels),
                long_pause_seconds=self.long_pause,
                paused_after_customer_reply=len(self.after_reply),
                long_pauses=len(self.long),
                after_customer_reply_examples=_longest(self.after_reply),
                long_pause_examples=_longest(self.long),
            ),
            timeline_unit=self.unit,
            timeline=[
                TimelinePoint(
                    start=start,
                    policy=policy,
                    key=key,
                    objective=self.objectives.by_ident[(policy, key)].objective,
                    measured=measured,
                    met=met,
                    attainment=met / measured,
                )
                for (start, policy, key), (measured, met) in sorted(self.timeline.items())
            ],
            histograms=[
                Histogram(
                    priority=priority,
                    edges=_EDGES,
                    counts=self.histograms[priority],
                    target_seconds=(
                        next(iter(self.targets[priority]))
                        if len(self.targets[priority]) == 1
                        else None
                    ),
                )
                for priority in sorted(self.histograms)
            ],
            unknown_policies=sorted(self.policies - set(self.objectives.policies)),
        )


def build_report(
    outcomes: Sequence[TicketOutcome],
    *,
    group_by: GroupBy,
    policies: Mapping[str, Policy],
    now: datetime,
    range: tuple[datetime, datetime],  # shadows the builtin: the name callers know it by
    long_pause: timedelta = DEFAULT_LONG_PAUSE,
) -> Report:
    """All the report's figures for ``outcomes``.

    Args:
        outcomes: One outcome per ticket (as :func:`reports.visibility.read_outcomes` returns).
        group_by: priority, team, customer, policy or level (a ticket counts in every level
            that fired on it; tickets on which none did form the ``(none)`` group).
        policies: The policies by name; a ticket's objectives come from its policy.
        now: When the report is made (shown on it; no figure depends on the clock).
        range: The opened-at range the outcomes were selected by, ``[from, to)``.
        long_pause: Pauses at least this long are listed as long pauses.
    """
    with paused_gc():
        facts = [TicketFacts.of(outcome) for outcome in outcomes]
    return report_of_facts(
        facts, group_by=group_by, policies=policies, now=now, range=range, long_pause=long_pause
    )


def report_of_facts(
    facts: Sequence[TicketFacts],
    *,
    group_by: GroupBy,
    policies: Mapping[str, Policy],
    now: datetime,
    range: tuple[datetime, datetime],  # shadows the builtin: the name callers know it by
    long_pause: timedelta = DEFAULT_LONG_PAUSE,
) -> Report:
    """:func:`build_report` of tickets given by their facts (as the cache of closed tickets
    holds them): the same figures from the same values. Arguments as :func:`build_report`."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by {group_by!r}: use one of {', '.join(GROUP_BY)}")
    unit: Literal["day", "week"] = "day" if range[1] - range[0] <= DAILY_UP_TO else "week"
    gathered = _Pass(group_by, policies, unit, long_pause)
    # The pass allocates a few objects per ticket and frees none: see gc_pause.
    with paused_gc():
        for fact in facts:
            gathered.add(fact)
        return gathered.report(now, range)
