"""The figures of a report computed the plain way: every figure its own pass over the outcomes.

This is how ``reports/figures.py`` computed a report before it gathered every figure in one
pass (five times faster at 100,000 tickets). It is kept here, unchanged but for its imports,
as the oracle the faster code must agree with exactly (tests/reports/test_figures_reference.py).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from policies.model import ClockName, Objective, Policy
from reports.figures import (
    DAILY_UP_TO,
    DEFAULT_LONG_PAUSE,
    GROUP_BY,
    HISTOGRAM_STEP,
    HISTOGRAM_TOP,
    NO_LEVEL,
    PAUSE_EXAMPLES,
    TOTAL,
)
from reports.report_model import (
    Attainment,
    Bottleneck,
    Bottlenecks,
    Csat,
    GroupBy,
    GroupFigures,
    Histogram,
    PauseExample,
    Pauses,
    Report,
    TimelinePoint,
)
from reports.stats import Distribution
from workflows.ticket_outcome import TicketOutcome


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _stopped_seconds(outcomes: Iterable[TicketOutcome], clock: ClockName) -> list[float]:
    values = []
    for outcome in outcomes:
        found = outcome.clocks.get(clock)
        if found is not None and found.stopped_at is not None:
            values.append(found.business_seconds)
    return values


def _objectives(
    outcome: TicketOutcome, policies: Mapping[str, Policy]
) -> Iterable[tuple[str, Objective]]:
    policy = policies.get(outcome.policy)
    if policy is None:
        return ()
    return (
        (policy.name, o) for o in policy.service_levels.objectives if o.priority == outcome.priority
    )


def _attainment(
    outcomes: Sequence[TicketOutcome], policies: Mapping[str, Policy]
) -> list[Attainment]:
    counts: dict[tuple[str, str], list[int]] = {}
    objectives: dict[tuple[str, str], Objective] = {}
    for outcome in outcomes:
        for policy, objective in _objectives(outcome, policies):
            within = outcome.met(objective.clock)
            if within is None:
                continue
            ident = (policy, objective.key)
            objectives[ident] = objective
            tally = counts.setdefault(ident, [0, 0])
            tally[0] += 1
            tally[1] += within
    rows = []
    for ident in sorted(counts):
        objective = objectives[ident]
        measured, met = counts[ident]
        missed = measured - met
        allowed = objective.error_budget * measured
        rows.append(
            Attainment(
                policy=ident[0],
                key=objective.key,
                priority=objective.priority,
                clock=objective.clock,
                objective=objective.objective,
                measured=measured,
                met=met,
                missed=missed,
                attainment=_ratio(met, measured),
                allowed_misses=allowed,
                error_budget_left=None if not measured else 1 - missed / allowed,
            )
        )
    return rows


def _breaches(outcome: TicketOutcome) -> dict[str, int]:
    first = outcome.clocks.get(ClockName.FIRST_RESPONSE)
    resolution = outcome.clocks.get(ClockName.RESOLUTION)
    return {
        ClockName.FIRST_RESPONSE.value: int(first is not None and first.breached),
        ClockName.RESOLUTION.value: int(resolution is not None and resolution.breached),
        ClockName.NEXT_REPLY.value: outcome.next_reply_breaches,
    }


def figures(
    group: str, outcomes: Sequence[TicketOutcome], policies: Mapping[str, Policy]
) -> GroupFigures:
    """Every figure of one group of tickets."""
    breaches: Counter[str] = Counter({clock.value: 0 for clock in ClockName})
    escalations: Counter[str] = Counter()
    for outcome in outcomes:
        breaches.update(_breaches(outcome))
        escalations.update(outcome.escalations)
    resolved = [o for o in outcomes if o.resolved]
    scores = [o.csat for o in outcomes if o.csat is not None]
    paused = [o.paused_seconds for o in outcomes]
    return GroupFigures(
        group=group,
        opened=len(outcomes),
        resolved=len(resolved),
        reopened=sum(1 for o in outcomes if o.reopens),
        first_response=Distribution.of(_stopped_seconds(outcomes, ClockName.FIRST_RESPONSE)),
        resolution=Distribution.of(_stopped_seconds(outcomes, ClockName.RESOLUTION)),
        attainment=_attainment(outcomes, policies),
        breaches=dict(breaches),
        escalations=dict(sorted(escalations.items())),
        paused=Pauses(
            tickets=sum(1 for p in paused if p > 0),
            total_seconds=math.fsum(paused),
            mean_seconds=_ratio(math.fsum(paused), len(paused)),
        ),
        csat=Csat(
            responses=len(scores),
            mean=_ratio(sum(scores), len(scores)),
            response_rate=_ratio(sum(1 for o in resolved if o.csat is not None), len(resolved)),
        ),
    )


def group_keys(outcome: TicketOutcome, group_by: GroupBy) -> list[str]:
    """The groups ``outcome`` belongs to: one, or for ``level`` every level that fired."""
    if group_by == "level":
        fired = sorted(level for level, count in outcome.escalations.items() if count > 0)
        return fired or [NO_LEVEL]
    value: str = getattr(outcome, group_by)
    return [value]


def _bottlenecks(outcomes: Sequence[TicketOutcome], by: GroupBy) -> list[Bottleneck]:
    members: dict[str, list[TicketOutcome]] = defaultdict(list)
    for outcome in outcomes:
        for key in group_keys(outcome, by):
            if key != NO_LEVEL:
                members[key].append(outcome)
    rows = []
    for name, tickets in members.items():
        by_clock: Counter[str] = Counter({clock.value: 0 for clock in ClockName})
        breached = 0
        for outcome in tickets:
            counts = _breaches(outcome)
            by_clock.update(counts)
            breached += any(counts.values())
        fired = sum(
            o.escalations.get(name, 0) if by == "level" else sum(o.escalations.values())
            for o in tickets
        )
        rows.append(
            Bottleneck(
                name=name,
                tickets=len(tickets),
                breaches=sum(by_clock.values()),
                breached_tickets=breached,
                breach_rate=breached / len(tickets),
                escalations=fired,
                breaches_by_clock=dict(by_clock),
            )
        )
    rows.sort(key=lambda r: (-r.breaches, -r.breach_rate, r.name))
    return rows


def _pause_patterns(
    outcomes: Sequence[TicketOutcome], long_pause: timedelta
) -> tuple[list[PauseExample], list[PauseExample]]:
    after_reply, long = [], []
    for outcome in outcomes:
        for pause in outcome.pauses:
            # A pause still open counts until the outcome was written, as paused_seconds does.
            end = pause.end if pause.end is not None else outcome.as_of
            example = PauseExample(
                ticket_id=outcome.ticket_id,
                team=outcome.team,
                priority=outcome.priority,
                start=pause.start,
                seconds=max(0.0, (end - pause.start).total_seconds()),
                reason=pause.reason,
                after_customer_reply=pause.after_customer_reply,
            )
            if pause.after_customer_reply:
                after_reply.append(example)
            if example.seconds >= long_pause.total_seconds():
                long.append(example)
    return after_reply, long


def _longest(examples: list[PauseExample]) -> list[PauseExample]:
    return sorted(examples, key=lambda e: (-e.seconds, e.ticket_id, e.start))[:PAUSE_EXAMPLES]


def _bucket(moment: datetime, unit: Literal["day", "week"]) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if unit == "week" else day


def _timeline(
    outcomes: Sequence[TicketOutcome],
    policies: Mapping[str, Policy],
    unit: Literal["day", "week"],
) -> list[TimelinePoint]:
    counts: dict[tuple[date, str, str], list[int]] = {}
    objectives: dict[tuple[str, str], Objective] = {}
    for outcome in outcomes:
        start = _bucket(outcome.opened_at, unit)
        for policy, objective in _objectives(outcome, policies):
            within = outcome.met(objective.clock)
            if within is None:
                continue
            objectives[(policy, objective.key)] = objective
            tally = counts.setdefault((start, policy, objective.key), [0, 0])
            tally[0] += 1
            tally[1] += within
    return [
        TimelinePoint(
            start=start,
            policy=policy,
            key=key,
            objective=objectives[(policy, key)].objective,
            measured=measured,
            met=met,
            attainment=met / measured,
        )
        for (start, policy, key), (measured, met) in sorted(counts.items())
    ]


def _histograms(outcomes: Sequence[TicketOutcome]) -> list[Histogram]:
    edges = list(range(0, HISTOGRAM_TOP + HISTOGRAM_STEP, HISTOGRAM_STEP))
    counts: dict[str, list[int]] = {}
    targets: dict[str, set[float]] = defaultdict(set)
    for outcome in outcomes:
        clock = outcome.clocks.get(ClockName.FIRST_RESPONSE)
        if clock is None or clock.stopped_at is None:
            continue
        # Only a resolution clock may go without a target: a first response always has one.
        assert clock.target_seconds is not None
        if clock.target_seconds <= 0:
            continue
        share = clock.business_seconds / clock.target_seconds * 100
        # Breached means business time >= target, so a share of exactly 100% (or a float a
        # hair below it) must land in a breached bin: go by the flag at the boundary.
        index = min(int(share // HISTOGRAM_STEP), len(edges) - 1)
        if clock.breached:
            index = max(index, 100 // HISTOGRAM_STEP)
        else:
            index = min(index, 100 // HISTOGRAM_STEP - 1)
        counts.setdefault(outcome.priority, [0] * len(edges))[index] += 1
        targets[outcome.priority].add(clock.target_seconds)
    return [
        Histogram(
            priority=priority,
            edges=edges,
            counts=counts[priority],
            target_seconds=next(iter(targets[priority])) if len(targets[priority]) == 1 else None,
        )
        for priority in sorted(counts)
    ]


def reference_report(
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
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by {group_by!r}: use one of {', '.join(GROUP_BY)}")
    members: dict[str, list[TicketOutcome]] = defaultdict(list)
    for outcome in outcomes:
        for key in group_keys(outcome, group_by):
            members[key].append(outcome)
    after_reply, long = _pause_patterns(outcomes, long_pause)
    unit: Literal["day", "week"] = "day" if range[1] - range[0] <= DAILY_UP_TO else "week"
    return Report(
        generated_at=now,
        range_from=range[0],
        range_to=range[1],
        group_by=group_by,
        groups=[figures(name, members[name], policies) for name in sorted(members)],
        total=figures(TOTAL, outcomes, policies),
        bottlenecks=Bottlenecks(
            teams=_bottlenecks(outcomes, "team"),
            priorities=_bottlenecks(outcomes, "priority"),
            levels=_bottlenecks(outcomes, "level"),
            long_pause_seconds=long_pause.total_seconds(),
            paused_after_customer_reply=len(after_reply),
            long_pauses=len(long),
            after_customer_reply_examples=_longest(after_reply),
            long_pause_examples=_longest(long),
        ),
        timeline_unit=unit,
        timeline=_timeline(outcomes, policies, unit),
        histograms=_histograms(outcomes),
        unknown_policies=sorted({o.policy for o in outcomes} - set(policies)),
    )
