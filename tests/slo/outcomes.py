"""Ticket outcomes with known SLA results, for the SLO monitor's tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from workflows.ticket_outcome import ClockOutcome, TicketOutcome

TARGET = timedelta(minutes=15)


def outcome(
    *,
    opened_at: datetime,
    priority: str = "P1",
    policy: str = "default",
    met_at: datetime | None = None,
    breached_at: datetime | None = None,
    stopped_at: datetime | None = None,
    running_due_at: datetime | None = None,
    as_of: datetime | None = None,
) -> TicketOutcome:
    """A ticket whose first-response clock met its target at ``met_at``, or breached at
    ``breached_at`` (and stopped at ``stopped_at``, if given), or still runs, due at
    ``running_due_at``."""
    if met_at is not None:
        clock = ClockOutcome(
            target_seconds=TARGET.total_seconds(),
            business_seconds=(met_at - opened_at).total_seconds(),
            stopped_at=met_at,
            calendar="24x7",
        )
    elif breached_at is not None:
        clock = ClockOutcome(
            target_seconds=TARGET.total_seconds(),
            business_seconds=TARGET.total_seconds(),
            stopped_at=stopped_at,
            due_at=breached_at,
            breached=True,
            calendar="24x7",
        )
    else:
        clock = ClockOutcome(
            target_seconds=TARGET.total_seconds(),
            business_seconds=0,
            due_at=running_due_at,
            calendar="24x7",
        )
    return TicketOutcome(
        as_of=as_of or opened_at,
        ticket_id=f"T-{uuid.uuid4().hex[:12]}",
        priority=priority,
        team="payments",
        customer="Acme",
        policy=policy,
        policy_version="1",
        state="open" if clock.stopped_at is None else "acknowledged",
        opened_at=opened_at,
        clocks={"first_response": clock},
    )


def period(
    now: datetime,
    *,
    good: int,
    bad: int,
    within: timedelta = timedelta(minutes=50),
    policy: str = "default",
) -> list[TicketOutcome]:
    """``good`` met and ``bad`` breached first responses spread evenly over the ``within``
    before ``now``, alternating so both windows of an alert see a mix."""
    total = good + bad
    outcomes = []
    for i in range(total):
        at = now - within + within * (i + 1) / (total + 1)
        opened = at - TARGET
        # Spread the bad ones evenly among the good (Bresenham): exactly ``bad`` of them.
        if (i * bad) // total != ((i + 1) * bad) // total:
            outcomes.append(outcome(opened_at=opened, breached_at=at, policy=policy))
        else:
            outcomes.append(outcome(opened_at=opened, met_at=at, policy=policy))
    return outcomes
