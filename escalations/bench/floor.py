"""The floor the benchmark compares against: the least a Temporal escalation can do.

``BenchFloor`` sleeps until a due time on a durable timer and runs one activity that does
nothing. Whatever lateness, throughput and cost it shows on a server is Temporal's own; the
benchmark reports ``TicketEscalation``'s figures as ratios to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel
from temporalio import activity, workflow

FLOOR_WORKFLOW = "BenchFloor"
FLOOR_ACTIVITY = "bench_noop"


class FloorInput(BaseModel):
    """When the floor's single threshold falls due."""

    due_at: AwareDatetime


@activity.defn(name=FLOOR_ACTIVITY)
def bench_noop(due_at: datetime) -> None:
    """Nothing at all: the floor measures the platform, not work."""


@workflow.defn(name=FLOOR_WORKFLOW)
class BenchFloor:
    """Sleep until ``due_at``, then run one no-op activity."""

    @workflow.run
    async def run(self, input: FloorInput) -> None:
        """One threshold, one activity."""
        wait = input.due_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        await workflow.execute_activity(
            FLOOR_ACTIVITY, input.due_at, start_to_close_timeout=timedelta(seconds=15)
        )
