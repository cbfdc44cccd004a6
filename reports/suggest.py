"""Suggested SLA targets: the target each objective would have needed over a past period.

Pure: takes ticket outcomes (as :func:`reports.visibility.read_outcomes` returns them) and a
policy, returns figures. ``escalations slo suggest`` prints them and can turn them into a policy
diff (:mod:`reports.policy_diff`); nothing here reads a clock, a file or the network.

Definitions, which docs/slo-suggest.md repeats for readers of the output:

- The *sample* of a priority and clock is every clock of that name, on tickets whose (final)
  priority it is, that has stopped for good (first response given, ticket resolved). Running
  clocks have no final time yet; they are counted separately, with those already past target.
- *Attainment* of a target is the share of the sample with ``business_seconds < target``: the
  same rule as ``ClockOutcome.breached`` (``elapsed >= target``), so a clock that stopped exactly
  on its target counts as a miss, as it did on the ticket.
- The *achieved* time at an objective of p% is the nearest-rank percentile of the sample's
  business times: the value at rank ``ceil(p/100 * n)`` in ascending order. It is always a time
  some clock really took, never an interpolation between two.
- The *suggested* target is the smallest whole number of minutes strictly above the achieved
  time: strictly, because a clock that took exactly the target breached it; minutes, because
  that is how people write targets. Its attainment is therefore at least the objective.
- A clock whose target is in working days (``2bd``, ``eod``) or absent (response-only) has no
  row: working days come to a different business time for every ticket, so there is no one
  duration to compare or suggest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policies.model import ClockName, Policy
from reports.stats import nearest_rank
from workflows.ticket_outcome import ClockOutcome, TicketOutcome

MIN_SAMPLE = 20
"""Fewer stopped clocks than this and a percentile says more about single tickets than about
the helpdesk: the figures are shown, but no target is suggested. At 20 clocks a 95% objective
is the 19th of 20 already; below, one ticket moves the answer by a whole rank."""

ROUNDING_SECONDS = 60
"""Suggested targets are whole minutes."""

CLOCKS: tuple[ClockName, ...] = tuple(ClockName)

Measure = Callable[[TicketOutcome, ClockOutcome], float]
"""The business seconds a clock took: recorded, or re-measured on another calendar (what-if)."""


def recorded(outcome: TicketOutcome, clock: ClockOutcome) -> float:
    """The business seconds the ticket recorded for ``clock`` (the :data:`Measure` default)."""
    return clock.business_seconds


def round_up_target(seconds: float, unit: int = ROUNDING_SECONDS) -> int:
    """The smallest multiple of ``unit`` seconds strictly above ``seconds`` (at least ``unit``).

    Strictly above: a clock that takes exactly its target breaches it.
    """
    return (math.floor(max(seconds, 0) / unit) + 1) * unit


def attainment(values: Iterable[float], target_seconds: float) -> float | None:
    """The share of ``values`` below ``target_seconds`` (met), or None for no values."""
    counted = met = 0
    for value in values:
        counted += 1
        met += value < target_seconds
    return met / counted if counted else None


class Suggestion(BaseModel):
    """The figures of one priority and clock over the period.

    Attributes:
        objective: The objective in percent, or None when neither the policy nor ``--objective``
            gives one (then there is no suggestion).
        objective_source: ``policy`` or ``default`` (the ``--objective`` option).
        sample: Stopped clocks counted.
        current_target_seconds: The policy's target now.
        current_attainment: Share of the sample that met the current target.
        achieved_seconds: The business time at the objective's percentile.
        suggested_target_seconds: The suggested target; None when the sample is too small or
            there is no objective.
        suggested_attainment: Share of the sample that met the suggested target.
        running: Clocks still running (or paused) at the end of the period's data.
        running_breached: Of those, the ones already at or past the current target: misses
            that the sample does not contain yet.
        other_target: Clocks of the sample recorded with another target than the policy's
            current one (the policy changed during the period, or the ticket's priority did).
        warnings: What a reader should know before trusting the figures.
    """

    model_config = ConfigDict(frozen=True)

    priority: str
    clock: ClockName
    objective: float | None
    objective_source: Literal["policy", "default"] | None
    sample: int
    current_target_seconds: float
    current_attainment: float | None
    achieved_seconds: float | None = None
    suggested_target_seconds: int | None = None
    suggested_attainment: float | None = None
    running: int = 0
    running_breached: int = 0
    other_target: int = 0
    warnings: list[str] = []

    @property
    def changes_target(self) -> bool:
        """Whether the suggestion differs from the current target."""
        return (
            self.suggested_target_seconds is not None
            and self.suggested_target_seconds != self.current_target_seconds
        )


def objectives_of(policy: Policy, default: float | None) -> dict[tuple[str, ClockName], float]:
    """The objective (percent) of every priority and clock: the policy's, else ``default``."""
    found: dict[tuple[str, ClockName], float] = {}
    if default is not None:
        found = {(priority, clock): default for priority in policy.targets for clock in CLOCKS}
    for objective in policy.service_levels.objectives:
        found[(objective.priority, objective.clock)] = objective.objective
    return found


def suggest(
    outcomes: Iterable[TicketOutcome],
    policy: Policy,
    *,
    default_objective: float | None = None,
    measure: Measure = recorded,
    min_sample: int = MIN_SAMPLE,
) -> list[Suggestion]:
    """Figures and suggested targets per priority and clock of ``policy``.

    Args:
        outcomes: The period's tickets; those of other policies are ignored.
        default_objective: The objective (percent) for a priority and clock the policy states
            none for; None: no suggestion for those, figures only.
        measure: How long a clock took; the recorded business time unless a what-if
            re-measures it.
        min_sample: The smallest sample that gets a suggestion.

    Returns:
        One :class:`Suggestion` per priority and clock that has an objective or any clock, in
        the policy's priority order, then clock order.
    """
    policy_objectives = {(o.priority, o.clock) for o in policy.service_levels.objectives}
    objectives = objectives_of(policy, default_objective)
    stopped: dict[tuple[str, ClockName], list[tuple[float, float | None]]] = {}
    running: dict[tuple[str, ClockName], list[tuple[float, float | None]]] = {}
    for outcome in outcomes:
        if outcome.policy != policy.name or outcome.priority not in policy.targets:
            continue
        for name, taken in outcome.clocks.items():
            into = stopped if taken.stopped else running
            into.setdefault((outcome.priority, name), []).append(
                (measure(outcome, taken), taken.target_seconds)
            )
    rows = []
    for priority, targets in policy.targets.items():
        for clock in CLOCKS:
            key = (priority, clock)
            target = targets.for_clock(clock)
            if not isinstance(target, timedelta):
                continue  # working days or no target: see the module's definitions
            if key not in objectives and key not in stopped and key not in running:
                continue
            source: Literal["policy", "default"] | None = None
            if key in objectives:
                source = "policy" if key in policy_objectives else "default"
            rows.append(
                _suggestion(
                    priority,
                    clock,
                    target.total_seconds(),
                    objectives.get(key),
                    source,
                    stopped.get(key, []),
                    running.get(key, []),
                    min_sample,
                )
            )
    return rows


def _suggestion(
    priority: str,
    clock: ClockName,
    target: float,
    objective: float | None,
    source: Literal["policy", "default"] | None,
    stopped: list[tuple[float, float | None]],
    running: list[tuple[float, float | None]],
    min_sample: int,
) -> Suggestion:
    times = [seconds for seconds, _ in stopped]
    warnings = []
    achieved = suggested = None
    if objective is None:
        warnings.append("no objective: give one in the policy or with --objective")
    elif len(times) < min_sample:
        warnings.append(
            f"only {len(times)} stopped clocks (fewer than {min_sample}): too few to suggest "
            "a target"
        )
    else:
        achieved = nearest_rank(times, objective)
        suggested = round_up_target(achieved)
    late = sum(seconds >= target for seconds, _ in running)
    if late:
        warnings.append(
            f"{late} clocks still running are already past the target: attainment will drop"
        )
    other = sum(recorded_target != target for _, recorded_target in stopped)
    if other:
        warnings.append(f"{other} clocks ran under another target (policy or priority changed)")
    return Suggestion(
        priority=priority,
        clock=clock,
        objective=objective,
        objective_source=source,
        sample=len(times),
        current_target_seconds=target,
        current_attainment=attainment(times, target),
        achieved_seconds=achieved,
        suggested_target_seconds=suggested,
        suggested_attainment=attainment(times, suggested) if suggested is not None else None,
        running=len(running),
        running_breached=late,
        other_target=other,
        warnings=warnings,
    )


# -- the terminal table ------------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """Seconds as policy authors write a target, in hours, minutes and seconds (``30h``,
    ``1h30m``), rounded to the second.

    Never in days: on a business calendar ``1d`` is 24 business hours, which reads like one
    business day (9 hours) and is easy to misjudge in review.
    """
    total = round(seconds)
    parts = []
    for unit, size in (("h", 3_600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def percent_text(share: float | None) -> str:
    """A share as a percentage with one decimal (``93.3%``); ``-`` for none."""
    return "-" if share is None else f"{share * 100:.1f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    )


def render_suggestions(
    rows: Sequence[Suggestion],
    policy: Policy,
    opened_from: datetime,
    opened_to: datetime,
    tickets: int,
    without_outcome: int = 0,
) -> str:
    """The suggestions as a terminal table, with a heading and the warnings below it."""
    lines = [
        f"Suggested targets for policy {policy.name} v{policy.version}",
        f"Tickets opened from {opened_from.isoformat()} to {opened_to.isoformat()}: {tickets}"
        + (f" ({without_outcome} more without an outcome, left out)" if without_outcome else ""),
        "",
    ]
    if not rows:
        return "\n".join([*lines, "No clocks and no objectives to report."])
    cells = [
        [
            row.priority,
            row.clock.value,
            "-"
            if row.objective is None
            else f"{row.objective:g}%" + ("*" if row.objective_source == "default" else ""),
            str(row.sample),
            duration_text(row.current_target_seconds),
            percent_text(row.current_attainment),
            "-" if row.achieved_seconds is None else duration_text(row.achieved_seconds),
            "-"
            if row.suggested_target_seconds is None
            else duration_text(row.suggested_target_seconds)
            + ("" if row.changes_target else " (same)"),
            percent_text(row.suggested_attainment),
        ]
        for row in rows
    ]
    headers = [
        "PRIORITY", "CLOCK", "OBJECTIVE", "SAMPLE", "TARGET", "MET",
        "NEEDED", "SUGGESTED", "WOULD MEET",
    ]  # fmt: skip
    lines.append(table(headers, cells))
    notes = [f"{row.priority} {row.clock.value}: {w}" for row in rows for w in row.warnings]
    if any(row.objective_source == "default" for row in rows):
        notes.insert(0, "* objective from --objective (the policy states none)")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
