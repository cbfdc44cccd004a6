"""The metrics a ticket's workflow records, and the names of every metric the service adds.

Workflow code records through ``workflow.metric_meter()``: the SDK drops what is recorded
while a history is replayed, so a ticket replayed after a worker restart or a cache eviction
does not count its escalations twice, and recording writes nothing to history (no command, so
no patch). Labels are policy-defined names (levels, priorities, clocks) and fixed words, never
a ticket id: every label value multiplies the series a Prometheus server keeps.
docs/observability.md describes each metric.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import MetricCounter, MetricHistogramFloat

with workflow.unsafe.imports_passed_through():
    from workflows.ticket_messages import TicketStatus

PREFIX = "escalations_"
FIRED = f"{PREFIX}fired_total"
LATENESS = f"{PREFIX}lateness_seconds"
SLA_BREACHES = f"{PREFIX}sla_breaches_total"
NOTICES = f"{PREFIX}notices_total"
DELIVERIES = f"{PREFIX}notification_deliveries_total"
"""Recorded by the ``send_notification`` and ``send_channel_notice`` activities
(activities/notifications.py ``observe_delivery``)."""
DELIVERY_FAILURES = f"{PREFIX}notification_failures_total"
"""Recorded by the ``send_notification`` and ``send_channel_notice`` activities."""

LATENESS_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600,
)  # fmt: skip
"""Upper bounds in seconds: escalations normally fire within a second (p99 ~0.8 s); a burst
of thousands due at once, or a killed worker's sticky queue, makes them seconds late; minutes
mean no worker ran."""


class TicketMetrics:
    """The metrics of one ``TicketEscalation`` run; create it inside the workflow."""

    def __init__(self) -> None:
        meter = workflow.metric_meter()
        self._fired: MetricCounter = meter.create_counter(
            FIRED, "Escalation levels fired (each repeat counts once)"
        )
        self._lateness: MetricHistogramFloat = meter.create_histogram_float(
            LATENESS, "Seconds from the instant a level fell due to the instant it fired", "s"
        )
        self._breaches: MetricCounter = meter.create_counter(
            SLA_BREACHES, "SLA clocks that passed their target (once per clock and cycle)"
        )
        self._notices: MetricCounter = meter.create_counter(
            NOTICES, "Escalation notices by final outcome (after every retry)"
        )
        # What the workflow has already counted as breached: rebuilt identically on replay.
        self._breached: set[str] = set()

    def fired(
        self, level: str, policy: str, priority: str, due_at: datetime, fired_at: datetime
    ) -> None:
        """A level fired at ``fired_at``; it fell due at ``due_at``."""
        self._fired.add(1, {"level": level, "policy": policy, "priority": priority})
        # A level due before the ticket's workflow existed (a ticket opened with an earlier
        # opened_at) fires at once: that is history catching up, not the service being late.
        if due_at >= workflow.info().workflow_start_time:
            late = max((fired_at - due_at).total_seconds(), 0.0)
            self._lateness.record(late, {"policy": policy})

    def notice(self, channel: str, outcome: str) -> None:
        """A notice's delivery ended: ``sent``, ``written``, ``failed`` or ``cancelled``."""
        self._notices.add(1, {"channel": channel, "outcome": outcome})

    def breaches(self, status: TicketStatus, *, count: bool = True) -> list[str]:
        """Count each clock of ``status`` that is breached for the first time.

        Args:
            status: The ticket as the workflow sees it now.
            count: False only marks them as known (a continued run's clocks, which the run
                before already counted).

        Returns:
            The clocks newly breached, for the log.
        """
        fresh: list[str] = []
        for name, clock in status.clocks.items():
            if not clock.breached:
                continue
            # Every next-reply cycle is a clock of its own, with a breach of its own.
            key = f"{name}#{status.next_reply_cycles}" if name == "next_reply" else name
            if key in self._breached:
                continue
            self._breached.add(key)
            fresh.append(name)
            if count:
                self._breaches.add(
                    1, {"clock": name, "priority": status.priority, "policy": status.policy}
                )
        return fresh
