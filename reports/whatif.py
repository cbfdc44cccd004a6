"""What-if: how past tickets would have fared under a candidate policy's calendars and targets.

Pure. Each clock of a :class:`~workflows.ticket_outcome.TicketOutcome` keeps the wall-clock
spans it counted in, so it can be measured again on another calendar: the candidate's business
time of a clock is the sum, over its spans, of ``calendar.elapsed(span.start, span.end)`` (an
open span counts until the outcome's ``as_of``), on the candidate's calendar for the ticket's
priority, against the candidate's target for that priority.

Approximation, documented in docs/slo-suggest.md: a ticket whose priority changed ran its
earlier spans on the old priority's calendar; the candidate measures every span on the calendar
of the ticket's *final* priority, because that is the only priority the outcome names. Clocks
whose spans were truncated (a ticket paused more than ``MAX_SPANS`` times) cannot be measured
again and are left out, and counted. A clock whose target is in working days or absent, in
either policy, has no single duration to compare against and is left out with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from policies.calendar import Calendar, policy_calendars
from policies.durations import format_target
from policies.model import ClockName, Policy
from reports.stats import nearest_rank
from reports.suggest import (
    CLOCKS,
    Measure,
    attainment,
    duration_text,
    objectives_of,
    percent_text,
    table,
)
from workflows.ticket_outcome import ClockOutcome, TicketOutcome


def remeasured(outcome: TicketOutcome, clock: ClockOutcome, calendar: Calendar) -> float:
    """Business seconds ``clock`` of ``outcome`` would have counted on ``calendar``.

    A span still open counts until the outcome's ``as_of`` (when its figures were written).
    """
    total = timedelta(0)
    for span in clock.spans:
        end = span.end if span.end is not None else outcome.as_of
        total += calendar.elapsed(span.start, end)
    return total.total_seconds()


def candidate_measure(candidate: Policy) -> Measure:
    """A :data:`~reports.suggest.Measure` that re-measures clocks on ``candidate``'s calendars.

    Raises:
        KeyError: from the measure, for a ticket whose priority the candidate has no targets for.
    """
    calendars: Mapping[str, Calendar] = policy_calendars(candidate)

    def measure(outcome: TicketOutcome, clock: ClockOutcome) -> float:
        targets = candidate.targets[outcome.priority]
        return remeasured(outcome, clock, calendars[targets.calendar])

    return measure


class WhatIf(BaseModel):
    """Current against candidate for one priority and clock, over the period's stopped clocks.

    Attributes:
        sample: Stopped clocks measured on both.
        objective: The percentile the ``achieved`` figures are taken at (the candidate's
            objective, else the current policy's, else ``--objective``); None: not shown.
        current_*: Recorded business time against the current policy's target and calendar.
        candidate_*: Business time re-measured on the candidate's calendar, against its target.
        newly_met: Clocks that missed the current target and would have met the candidate's.
        newly_missed: Clocks that met the current target and would have missed the candidate's.
        truncated: Stopped clocks left out because their spans were truncated.
    """

    model_config = ConfigDict(frozen=True)

    priority: str
    clock: ClockName
    sample: int
    objective: float | None
    current_calendar: str
    current_target_seconds: float
    current_attainment: float | None
    current_achieved_seconds: float | None
    candidate_calendar: str
    candidate_target_seconds: float
    candidate_attainment: float | None
    candidate_achieved_seconds: float | None
    newly_met: int
    newly_missed: int
    truncated: int = 0


def what_if(
    outcomes: Iterable[TicketOutcome],
    policy: Policy,
    candidate: Policy,
    *,
    default_objective: float | None = None,
) -> tuple[list[WhatIf], list[str]]:
    """Attainment under ``policy`` (as recorded) and under ``candidate`` (re-measured).

    Args:
        outcomes: The period's tickets; those of other policies than ``policy`` are ignored.

    Returns:
        The rows, per priority both policies define and clock that has stopped clocks; and
        warnings (tickets of priorities the candidate does not define, clocks whose targets
        are in working days or absent).
    """
    measure = candidate_measure(candidate)
    pairs: dict[tuple[str, ClockName], list[tuple[float, float]]] = {}
    truncated: dict[tuple[str, ClockName], int] = {}
    missing: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.policy != policy.name or outcome.priority not in policy.targets:
            continue
        if outcome.priority not in candidate.targets:
            missing[outcome.priority] = missing.get(outcome.priority, 0) + 1
            continue
        for name, taken in outcome.clocks.items():
            if not taken.stopped:
                continue
            key = (outcome.priority, name)
            if taken.spans_truncated:
                truncated[key] = truncated.get(key, 0) + 1
                continue
            pairs.setdefault(key, []).append((taken.business_seconds, measure(outcome, taken)))
    objectives = objectives_of(policy, default_objective) | objectives_of(candidate, None)
    rows = []
    unmeasured: list[str] = []
    for priority, targets in policy.targets.items():
        if priority not in candidate.targets:
            continue
        for clock in CLOCKS:
            key = (priority, clock)
            if key not in pairs and key not in truncated:
                continue
            current = targets.for_clock(clock)
            proposed = candidate.targets[priority].for_clock(clock)
            if not (isinstance(current, timedelta) and isinstance(proposed, timedelta)):
                unmeasured.append(
                    f"{priority} {clock.value} left out: a target in working days, or none "
                    f"({format_target(current)} -> {format_target(proposed)}), is no single "
                    "duration to compare"
                )
                continue
            rows.append(
                _row(
                    priority,
                    clock,
                    pairs.get(key, []),
                    objectives.get(key),
                    (targets.calendar, current.total_seconds()),
                    (candidate.targets[priority].calendar, proposed.total_seconds()),
                    truncated.get(key, 0),
                )
            )
    warnings = [
        f"{count} {priority} tickets left out: the candidate defines no targets for {priority}"
        for priority, count in sorted(missing.items())
    ]
    return rows, warnings + unmeasured


def _row(
    priority: str,
    clock: ClockName,
    pairs: list[tuple[float, float]],
    objective: float | None,
    current: tuple[str, float],
    candidate: tuple[str, float],
    truncated: int,
) -> WhatIf:
    before = [b for b, _ in pairs]
    after = [a for _, a in pairs]
    achieved: tuple[float | None, float | None] = (None, None)
    if objective is not None and pairs:
        achieved = (nearest_rank(before, objective), nearest_rank(after, objective))
    return WhatIf(
        priority=priority,
        clock=clock,
        sample=len(pairs),
        objective=objective,
        current_calendar=current[0],
        current_target_seconds=current[1],
        current_attainment=attainment(before, current[1]),
        current_achieved_seconds=achieved[0],
        candidate_calendar=candidate[0],
        candidate_target_seconds=candidate[1],
        candidate_attainment=attainment(after, candidate[1]),
        candidate_achieved_seconds=achieved[1],
        newly_met=sum(b >= current[1] and a < candidate[1] for b, a in pairs),
        newly_missed=sum(b < current[1] and a >= candidate[1] for b, a in pairs),
        truncated=truncated,
    )


def _change(before: str, after: str) -> str:
    return before if before == after else f"{before} -> {after}"


def render_what_if(
    rows: Sequence[WhatIf], warnings: Sequence[str], source: str, candidate: Policy
) -> str:
    """The what-if as a terminal table: current, then candidate, per priority and clock."""
    lines = [f"What-if under {source} (policy {candidate.name} v{candidate.version})", ""]
    if not rows:
        lines.append("No stopped clocks to re-measure.")
    else:
        cells = [
            [
                row.priority,
                row.clock.value,
                str(row.sample),
                _change(row.current_calendar, row.candidate_calendar),
                _change(
                    duration_text(row.current_target_seconds),
                    duration_text(row.candidate_target_seconds),
                ),
                f"{percent_text(row.current_attainment)} -> "
                f"{percent_text(row.candidate_attainment)}",
                "-"
                if row.current_achieved_seconds is None or row.candidate_achieved_seconds is None
                else f"{duration_text(row.current_achieved_seconds)} -> "
                f"{duration_text(row.candidate_achieved_seconds)} (p{row.objective:g})",
                f"+{row.newly_met} -{row.newly_missed}",
            ]
            for row in rows
        ]
        headers = [
            "PRIORITY", "CLOCK", "SAMPLE", "CALENDAR", "TARGET", "MET",
            "AT OBJECTIVE", "MET +/-",
        ]  # fmt: skip
        lines.append(table(headers, cells))
    notes = [*warnings]
    notes += [
        f"{row.priority} {row.clock.value}: {row.truncated} clocks left out (spans truncated)"
        for row in rows
        if row.truncated
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
