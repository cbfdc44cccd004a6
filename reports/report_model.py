"""What ``escalations report`` shows, as data: a :class:`Report` and its parts.

:func:`reports.figures.build_report` computes one; the renderers (``reports/render_*.py``) only
format it, so the terminal table, JSON, CSV and HTML always agree. Definitions of every figure:
``docs/reporting.md``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policies.model import ClockName
from reports.stats import Distribution

GroupBy = Literal["priority", "team", "customer", "policy", "plan", "level"]
GROUP_BY: tuple[GroupBy, ...] = ("priority", "team", "customer", "policy", "plan", "level")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attainment(_Model):
    """One objective measured on a group's tickets.

    ``measured`` counts the tickets of the objective's policy and priority whose clock stopped;
    ``met`` those that stopped within target. ``error_budget_left`` is
    ``1 - missed / (error_budget * measured)``: 1 with no miss, 0 when the misses use exactly the
    budget, negative beyond it.
    """

    policy: str
    key: str
    priority: str
    clock: ClockName
    objective: float
    measured: int
    met: int
    missed: int
    attainment: float | None
    allowed_misses: float
    error_budget_left: float | None


class Pauses(_Model):
    """Time a group's tickets spent paused (wall clock, as the workflow recorded it)."""

    tickets: int
    total_seconds: float
    mean_seconds: float | None
    """Mean over all of the group's tickets, paused or not."""


class Csat(_Model):
    """Customer satisfaction (1-5) of a group's tickets."""

    responses: int
    mean: float | None
    response_rate: float | None
    """Resolved tickets with a score / resolved tickets."""


class GroupFigures(_Model):
    """Every figure of one group (or of all tickets: ``group`` is ``total``)."""

    group: str
    opened: int
    resolved: int
    reopened: int
    first_response: Distribution
    resolution: Distribution
    attainment: list[Attainment]
    breaches: dict[str, int]
    escalations: dict[str, int]
    paused: Pauses
    csat: Csat


class Bottleneck(_Model):
    """A team, priority or level, ranked by the breaches of its tickets."""

    name: str
    tickets: int
    breaches: int
    """Clock breaches: first response, resolution and every late next reply."""
    breached_tickets: int
    breach_rate: float
    escalations: int
    breaches_by_clock: dict[str, int]


class PauseExample(_Model):
    """One pause worth a look."""

    ticket_id: str
    team: str
    priority: str
    start: datetime
    seconds: float
    reason: str
    after_customer_reply: bool


class Bottlenecks(_Model):
    """Where the helpdesk breaches most, and pause patterns to review."""

    teams: list[Bottleneck]
    priorities: list[Bottleneck]
    levels: list[Bottleneck]
    long_pause_seconds: float
    paused_after_customer_reply: int
    long_pauses: int
    after_customer_reply_examples: list[PauseExample]
    long_pause_examples: list[PauseExample]


class TimelinePoint(_Model):
    """Attainment of one objective among the tickets opened in one day or week."""

    start: date
    policy: str
    key: str
    objective: float
    measured: int
    met: int
    attainment: float | None


class Histogram(_Model):
    """First-response times of one priority as a share of each ticket's own target.

    ``counts[i]`` covers ``[edges[i], edges[i+1])`` percent; the last bin is open-ended. A time
    at exactly 100% is a breach (the clock breaches on reaching its target), so the bins below
    100 are the tickets answered within target.
    """

    priority: str
    edges: list[int]
    counts: list[int]
    target_seconds: float | None
    """The target, when all of the priority's tickets had the same one."""


class Report(_Model):
    """The whole report: JSON-serialisable with ``model_dump_json``."""

    generated_at: datetime
    range_from: datetime
    range_to: datetime
    group_by: GroupBy
    groups: list[GroupFigures]
    total: GroupFigures
    bottlenecks: Bottlenecks
    timeline_unit: Literal["day", "week"]
    timeline: list[TimelinePoint]
    histograms: list[Histogram]
    unknown_policies: list[str]
    """Policies named by tickets but not given (their tickets count everywhere but in SLOs)."""
