"""The ladder's timing rules on a real workflow: the first notice is due when the condition came
to hold (never while paused), and repeats keep to their grid, skipping the points that fell
while paused or before the condition held again.

Policies: ``tests/workflows/policies/ladder-*.yaml`` (24x7, targets in minutes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.workflows.conftest import Harness
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    ChangePriorityRequest,
    PauseRequest,
    ResumeRequest,
    TicketStatus,
    UpdateImpactRequest,
)

MINUTE = timedelta(minutes=1)


def _fired(status: TicketStatus, level: str) -> list[tuple[int, timedelta]]:
    """(repeat, due time after opening) of every notice of ``level``, in firing order."""
    return [(e.repeat, e.due_at - status.opened_at) for e in status.escalations if e.level == level]


def _applied_at(status: TicketStatus) -> datetime:
    """The instant an update was applied, from the status it returned: the resolution clock of
    a ticket never paused has counted every (24x7) second since the opening."""
    return status.opened_at + status.clocks["resolution"].elapsed


async def test_repeats_skip_the_grid_points_that_fell_while_paused(harness: Harness) -> None:
    handle = await harness.open(policy="ladder-pause")  # first response 10m; 50%, every 1m x3
    opened = (await handle.query(TicketEscalation.status)).opened_at
    await harness.advance_to(opened + 5 * MINUTE + timedelta(seconds=30))
    paused = await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="logs"))
    await harness.advance_to(opened + 9 * MINUTE + timedelta(seconds=30))
    resumed = await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    response = resumed.clocks["first_response"]
    assert response.due_at is not None
    assert response.remaining is not None
    resumed_at = response.due_at - response.remaining

    status = await harness.status_after(handle, 10 * MINUTE)
    assert _fired(status, "response-half") == [
        (0, 5 * MINUTE),
        (1, 10 * MINUTE),
        (2, 11 * MINUTE),
        (3, 12 * MINUTE),
    ]
    assert paused.paused_at is not None
    assert not [e for e in status.escalations if paused.paused_at <= e.fired_at < resumed_at]


async def test_a_later_breach_after_a_priority_change_resumes_the_grid(harness: Harness) -> None:
    # P1 first response 10m, P2 12m20s; the breach level repeats every 1m, 3 times.
    handle = await harness.open(policy="ladder-retarget")
    opened = (await handle.query(TicketEscalation.status)).opened_at
    await harness.advance_to(opened + 10 * MINUTE + timedelta(seconds=30))
    lowered = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    assert lowered.clocks["first_response"].due_at == opened + timedelta(minutes=12, seconds=20)

    status = await harness.status_after(handle, 10 * MINUTE)
    assert _fired(status, "response-breached") == [
        (0, 10 * MINUTE),
        (1, 13 * MINUTE),
        (2, 14 * MINUTE),
        (3, 15 * MINUTE),
    ]


async def test_field_conditions_hold_since_the_update_that_made_them_true(
    harness: Harness,
) -> None:
    handle = await harness.open(policy="ladder-impact")  # first response 10m
    opened = (await handle.query(TicketEscalation.status)).opened_at
    await harness.advance_to(opened + timedelta(seconds=30))
    critical = await handle.execute_update(
        TicketEscalation.update_impact, UpdateImpactRequest(critical_service=True)
    )
    assert _applied_at(critical) < opened + 5 * MINUTE
    await harness.advance_to(opened + MINUTE)
    impact = await handle.execute_update(
        TicketEscalation.update_impact, UpdateImpactRequest(affected_users=800)
    )
    applied = _applied_at(impact)

    status = await harness.status_after(handle, 10 * MINUTE)
    # Due when the update made it true, then on the grid to the microsecond: not when a
    # workflow task happened to look.
    many = [(e.repeat, e.due_at) for e in status.escalations if e.level == "many-users"]
    assert many == [(k, applied + k * MINUTE) for k in range(4)]
    # Its field part held since the earlier update: due at the clock share, exactly.
    assert _fired(status, "critical-at-half") == [(0, 5 * MINUTE)]
