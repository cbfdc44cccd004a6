"""Arguments and results of the SLO monitor, its alert episodes and the weekly report.

One pydantic model per workflow, activity and signal argument, so fields can be added without
breaking schedules and episodes already running. Figures cross the workflow boundary as
floats for people to read; the exact arithmetic stays in :mod:`reports.burn_rate`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.model import Slug
from reports.burn_rate import DEFAULT_MIN_EVENTS, ObjectiveBurn, WindowBurn

ALERT_WORKFLOW = "SloBudgetAlert"
MONITOR_WORKFLOW = "SloMonitor"
WEEKLY_REPORT_WORKFLOW = "WeeklySloReport"


def alert_workflow_id(policy: str, objective_key: str) -> str:
    """The id of ``policy``'s alert episode for one objective: at most one runs at a time."""
    return f"slo-alert-{policy}-{objective_key}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowFigures(_Model):
    """One window of a burn-rate alert: its events and how fast they burn the budget."""

    window: timedelta
    good: int
    bad: int
    burn_rate: float

    @classmethod
    def of(cls, burn: WindowBurn) -> WindowFigures:
        """The figures of an evaluated window."""
        return cls(
            window=burn.window,
            good=burn.counts.good,
            bad=burn.counts.bad,
            burn_rate=float(burn.burn_rate),
        )


class ObjectiveStatus(_Model):
    """One objective as the monitor saw it.

    Attributes:
        key: The objective's key, ``P1-first_response``.
        objective: The objective in percent (95.0).
        burning: Whether some burn-rate alert holds.
        threshold: The burn rate of the alert that holds (or, when none does, of the first).
        long: That alert's long window; ``short`` its short one.
        events: Events in the objective's own window (28 days); ``bad`` of them missed.
        attainment: Share of those that met the target (None without events).
        budget_left: Share of that window's error budget not spent (negative: overspent).
    """

    key: str
    priority: str
    clock: str
    objective: float
    window: timedelta
    burning: bool
    threshold: float
    long: WindowFigures
    short: WindowFigures
    events: int
    bad: int
    attainment: float | None
    budget_left: float

    @classmethod
    def of(cls, burn: ObjectiveBurn) -> ObjectiveStatus:
        """The status of an evaluated objective."""
        check = burn.firing or burn.checks[0]
        return cls(
            key=burn.objective.key,
            priority=burn.objective.priority,
            clock=burn.objective.clock.value,
            objective=burn.objective.objective,
            window=burn.objective.window,
            burning=check.firing,
            threshold=check.alert.burn_rate,
            long=WindowFigures.of(check.long),
            short=WindowFigures.of(check.short),
            events=burn.period.total,
            bad=burn.period.bad,
            attainment=float(burn.attainment) if burn.attainment is not None else None,
            budget_left=float(burn.budget_left),
        )


class SloMonitorInput(_Model):
    """What one run of the monitor (one schedule action) checks."""

    policy: Slug = "default"
    min_events: int = Field(default=DEFAULT_MIN_EVENTS, ge=1)


class EvaluateSloRequest(_Model):
    """Evaluate ``policy``'s objectives at ``now`` (the workflow's time, recorded)."""

    policy: Slug
    now: datetime
    min_events: int = Field(default=DEFAULT_MIN_EVENTS, ge=1)


class SloEvaluation(_Model):
    """Every objective of a policy, and who its alerts go to."""

    policy: str
    policy_version: str
    now: datetime
    tickets: int
    objectives: list[ObjectiveStatus]
    recipients: list[str]


class SloAlertInput(_Model):
    """An alert episode: ``status`` is what the monitor saw when the episode opened.

    ``notified_at`` is set when a run continues as new after its notice went out, so the
    continued run does not send it again.
    """

    policy: str
    policy_version: str
    status: ObjectiveStatus
    recipients: list[str] = Field(min_length=1)
    min_episode: timedelta
    opened_at: datetime | None = None
    notified_at: datetime | None = None
    send_recovery: bool = True


class BurningSignal(_Model):
    """The monitor still sees the objective burning (sent with every run while it does)."""

    status: ObjectiveStatus


class RecoveredSignal(_Model):
    """The monitor no longer sees the objective burning."""

    status: ObjectiveStatus


class OpenAlertRequest(_Model):
    """Open (or keep open) the episode of one burning objective."""

    alert: SloAlertInput


class OpenAlertResult(_Model):
    """The episode's workflow id and run, and whether this call started it."""

    workflow_id: str
    run_id: str
    started: bool


class CloseAlertRequest(_Model):
    """Tell the episode of one objective, if one runs, that it no longer burns."""

    policy: str
    status: ObjectiveStatus


class SloMonitorResult(_Model):
    """What one monitor run found and did (objective keys)."""

    policy: str
    tickets: int
    burning: list[str]
    opened: list[str]
    recovered: list[str]


class AlertNotice(_Model):
    """One email of an episode: its opening alert or its recovery notice."""

    kind: Literal["burning", "recovered"]
    idempotency_key: str
    policy: str
    policy_version: str
    status: ObjectiveStatus
    recipients: list[str] = Field(min_length=1)
    opened_at: datetime


class WeeklySloReportInput(_Model):
    """The weekly report: which policies, to whom (empty: their alert roles), how many days."""

    policies: list[Slug] = Field(default_factory=lambda: ["default"], min_length=1)
    to: list[str] = []
    days: int = Field(default=7, ge=1, le=366)


class WeeklyReportRequest(_Model):
    """Build the report of ``[now - days, now)`` and email it, once per ``idempotency_key``."""

    idempotency_key: str
    policies: list[Slug] = Field(min_length=1)
    to: list[str] = []
    now: datetime
    days: int


class WeeklyReportResult(_Model):
    """Who the report went to, how many tickets it covered, and how it was delivered."""

    recipients: list[str]
    tickets: int
    status: str
    provider: str
    detail: str | None = None
